/**
 * The bare Kafka client baselines' way of producing arrivals at a fixed rate, as Kitsune's
 * publisher does (src/transport/kafka/publisher.ts): one send in flight, what arrives meanwhile
 * rides in the next one, within the broker's record batch limit.
 */
import type { MessageToProduce } from '@platformatic/kafka';

type Record_ = MessageToProduce<string, Buffer, string, string>;

/**
 * Most bytes one send coalesces, as Kitsune's publisher (src/transport/kafka/publisher.ts): the
 * broker refuses a partition's batch over `max.message.bytes` (1 MiB by default) with
 * MESSAGE_TOO_LARGE. Without it, a stall of a second at 5,000 arrivals/s queued 5,000 commands
 * into one send and the baseline failed ("Producing messages failed").
 */
export const maxBytesPerSend = 900 * 1024;

/** A record's size near enough for the limit above: key, value, headers and per-record framing. */
export function recordSize(record: Record_): number {
  let bytes = (record.value?.length ?? 0) + (record.key?.length ?? 0) + 64;
  const headers: Array<[string, string]> = record.headers instanceof Map ? [...record.headers] : Object.entries(record.headers ?? {});
  for (const [name, value] of headers) bytes += name.length + value.length;
  return bytes;
}

/**
 * One send in flight; arrivals queue and ride in the next one, up to `maxBytesPerSend` (an
 * arrival larger than that goes alone). Resolves each arrival on its ack.
 */
export function coalescingSender(send: (records: Record_[]) => Promise<unknown>): (records: Record_[]) => Promise<void> {
  const queue: Array<{ records: Record_[]; bytes: number; done: (error?: unknown) => void }> = [];
  let sending = false;
  const pump = (): void => {
    if (sending || queue.length === 0) return;
    sending = true;
    let bytes = 0;
    let taken = 0;
    while (taken < queue.length && (taken === 0 || bytes + queue[taken]!.bytes <= maxBytesPerSend)) bytes += queue[taken++]!.bytes;
    const batch = queue.splice(0, taken);
    send(batch.flatMap((item) => item.records)).then(
      () => batch.forEach((item) => item.done()),
      (error: unknown) => batch.forEach((item) => item.done(error)),
    ).finally(() => {
      sending = false;
      pump();
    });
  };
  return (records) =>
    new Promise((resolveSent, reject) => {
      queue.push({ records, bytes: records.reduce((sum, record) => sum + recordSize(record), 0), done: (error) => (error === undefined ? resolveSent() : reject(error as Error)) });
      pump();
    });
}
