import { fileURLToPath } from 'node:url';
import { kafkaFeatures } from '../../src/transport/kafka/index.ts';
import { kafkaSkip } from '../support/services.ts';
import { open } from './factories/kafka.ts';
import { transportConformance } from './transport.ts';

transportConformance(
  'kafka',
  kafkaFeatures,
  () =>
    Promise.resolve({
      open,
      child: { module: fileURLToPath(new URL('./factories/kafka.ts', import.meta.url)), env: {} },
    }),
  { skip: kafkaSkip },
);
