import { MemoryBroker, MemoryTransport, memoryFeatures } from '../../src/transport/memory/index.ts';
import { transportConformance } from './transport.ts';

transportConformance('memory', memoryFeatures, () => {
  const broker = new MemoryBroker();
  return Promise.resolve({ open: () => Promise.resolve(new MemoryTransport(broker)) });
});
