/**
 * Work a test starts now and awaits later, after awaiting other things (events published while the
 * test stops a server or kills a worker). Observed from the start: a failure meanwhile is thrown
 * where the test awaits the work, instead of surfacing as an unhandled rejection, which node:test
 * pins on whichever test is running at that moment, with no line of the test that started it.
 */
export function background<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}
