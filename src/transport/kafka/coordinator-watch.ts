/**
 * Decides when a consumer must be rebuilt because it cannot reach its group coordinator.
 *
 * @platformatic/kafka 1.x looks the coordinator up once and keeps its node id for the consumer's
 * life (2.x forgets it on NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS
 * and network errors; it needs Node >= 22.22, see docs/decisions/0041-stale-group-coordinator.md).
 * After the coordinator's broker dies and the group moves, every heartbeat and offset commit goes
 * to the old node for good: the client cannot rediscover it, only a new consumer can. So:
 * - NOT_COORDINATOR, or a coordinator absent from the cluster's metadata: rebuild now; waiting
 *   cannot help.
 * - COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS / network errors: the node may come
 *   back as the coordinator (a restart, a load after election). Rebuild once they have lasted a
 *   session timeout since the last success: by then the group has expelled this member anyway.
 * - Anything that is not one of the client's own errors (a TypeError from inside it): the client
 *   is in a state it does not expect; rebuild now.
 * Other errors (rebalances, unknown member, fenced generation) are the client's own to handle.
 */

/** Why a consumer is rebuilt; also the `reason` of the error reported for it. */
export type CoordinatorTrouble = 'not-coordinator' | 'unavailable' | 'client-defect';

const notCoordinator = new Set(['NOT_COORDINATOR']);
const unavailable = new Set(['COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']);

interface ClientErrorShape {
  code?: unknown;
  /** Set by the missing-broker guard (missing-broker.ts). */
  brokerMissing?: unknown;
  apiId?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** Every error in a client error's tree (MultipleErrors hold one per attempt). */
function* tree(error: unknown, depth = 0): Generator<ClientErrorShape> {
  if (depth > 8 || typeof error !== 'object' || error === null) return;
  const shape = error as ClientErrorShape;
  yield shape;
  if (Array.isArray(shape.errors)) for (const inner of shape.errors) yield* tree(inner, depth + 1);
  if (shape.cause !== undefined) yield* tree(shape.cause, depth + 1);
}

/** Whether the Kafka client raised `error` itself: its errors carry a `PLT_KFK_*` code. */
function isClientError(error: unknown): boolean {
  const code = (error as ClientErrorShape | null)?.code;
  return typeof code === 'string' && code.startsWith('PLT_KFK_');
}

/** What a failed group request says about the coordinator, read from the errors' properties. */
export function coordinatorTrouble(error: unknown): CoordinatorTrouble | undefined {
  if (!isClientError(error)) return 'client-defect';
  let found: CoordinatorTrouble | undefined;
  for (const each of tree(error)) {
    if (each.brokerMissing === true || notCoordinator.has(String(each.apiId))) return 'not-coordinator';
    if (unavailable.has(String(each.apiId)) || each.code === 'PLT_KFK_NETWORK') found = 'unavailable';
  }
  return found;
}

export interface CoordinatorWatchOptions {
  /** How long 'unavailable' may last before the consumer is rebuilt (the session timeout). */
  boundMs: number;
  now?: () => number;
}

export class CoordinatorWatch {
  readonly #boundMs: number;
  readonly #now: () => number;
  #troubleSince: number | undefined;

  constructor(options: CoordinatorWatchOptions) {
    this.#boundMs = options.boundMs;
    this.#now = options.now ?? Date.now;
  }

  /** A heartbeat or commit reached the coordinator. */
  succeeded(): void {
    this.#troubleSince = undefined;
  }

  /** A heartbeat or commit failed: the trouble that calls for a rebuild now, if any. */
  failed(error: unknown): CoordinatorTrouble | undefined {
    const trouble = coordinatorTrouble(error);
    if (trouble === undefined) return undefined;
    if (trouble !== 'unavailable') return trouble;
    this.#troubleSince ??= this.#now();
    return this.#now() - this.#troubleSince >= this.#boundMs ? trouble : undefined;
  }
}
