/**
 * One member of a consumer group on one topic: heartbeats, partition leases, rebalancing and
 * fenced commits. The member does not consume; it tells its PartitionOwner (the subscription)
 * which partitions to start and stop.
 *
 * Why leases in a table rather than session advisory locks on a dedicated connection: a lease
 * works over any pooled connection (and through PgBouncer in transaction mode), is visible to an
 * operator (`SELECT * FROM kitsune_log.leases`), and fences a commit in the same statement (the
 * token check in OffsetCommit); an advisory lock fences only statements sent on the connection
 * that holds it, and a hung host keeps it until TCP keepalive gives up. The cost: a heartbeat
 * every leaseTtlMs/3 per member, and a SIGKILLed member's partitions wait for its lease to expire
 * (about 1.3 × leaseTtlMs) where a dropped connection would free them at once. A clean close()
 * releases at once and notifies, so planned restarts hand over in milliseconds.
 *
 * Rebalance: every heartbeat lists the live members (members table, same TTL) and each member
 * wants partition p when it is member p mod n in member-id order. It releases leases it should no
 * longer hold (after its worker finished and committed) and claims wanted ones that are free. Joins,
 * leaves and releases are announced by NOTIFY, so the others react at once instead of at their
 * next heartbeat. Two members that briefly disagree on the member list never share a partition:
 * the lease row decides.
 *
 * Limit: a release waits for the handler in flight (that is what makes a planned handover free
 * of duplicates), so a handler that never returns keeps its partition for as long as its process
 * lives. Bound a handler's work with timeouts of its own (PostgreSQL's statement_timeout, say).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import { notify, type LogContext } from './context.ts';
import { isTransient } from './pg-errors.ts';

export interface Lease {
  readonly partition: number;
  /** New for every acquisition; commits carry it. */
  readonly token: string;
  releasing: boolean;
}

export interface PartitionOwner {
  /** The member now holds `lease`: consume from `fromOffset`. */
  acquired(lease: Lease, fromOffset: bigint): void;
  /** Give the partition up: let the handler in flight finish and commit, then resolve. */
  release(partition: number): Promise<void>;
  /** The lease was lost: stop without committing, then resolve. */
  lost(partition: number): Promise<void>;
}

/** Partitions `me` should own: p goes to member p mod n, members in the order given. */
export function fairShare(members: readonly string[], me: string, partitions: number): Set<number> {
  const index = members.indexOf(me);
  const share = new Set<number>();
  if (index < 0) return share;
  for (let p = index; p < partitions; p += members.length) share.add(p);
  return share;
}

const commitAttempts = 3;
const commitRetryMs = 100;
const client = `${hostname()}:${process.pid}`;

export class GroupMembership {
  readonly memberId = randomUUID();
  readonly #context: LogContext;
  readonly #topic: string;
  readonly #group: string;
  readonly #partitions: number;
  readonly #owner: PartitionOwner;
  readonly #held = new Map<number, Lease>();
  /** Partitions whose worker is still stopping; they are not claimed again until it stopped. */
  readonly #settling = new Map<number, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #joined = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Local time the last successful renewal was sent: leases are surely valid until this + TTL. */
  #renewedAt = Date.now();

  constructor(context: LogContext, options: { topic: string; group: string; partitions: number; owner: PartitionOwner }) {
    this.#context = context;
    this.#topic = options.topic;
    this.#group = options.group;
    this.#partitions = options.partitions;
    this.#owner = options.owner;
  }

  get #heartbeatMs(): number {
    return Math.floor(this.#context.settings.leaseTtlMs / 3);
  }

  /** Partitions held, including those being released. */
  held(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /** Joins and claims what is free; rejects if the database cannot be reached. */
  async start(): Promise<void> {
    this.#ticking = this.#tick().finally(() => {
      this.#ticking = undefined;
    });
    await this.#ticking;
    this.#schedule(this.#heartbeatMs);
  }

  /** Runs a heartbeat now (another member joined, left or released). */
  requestTick(): void {
    if (this.#ticking) this.#again = true;
    else this.#schedule(0);
  }

  /** Commits for the group while `lease` is still held; otherwise gives the partition up and throws. */
  async commit(lease: Lease, nextOffset: bigint): Promise<void> {
    const { pool, sql } = this.#context;
    const values = [this.#group, this.#topic, lease.partition, nextOffset.toString(), this.memberId, lease.token];
    for (let attempt = 1; ; attempt++) {
      try {
        if ((await pool.query(sql.OffsetCommit, values)).rowCount === 1) return;
        break;
      } catch (error) {
        if (attempt >= commitAttempts || !isTransient(error)) throw error;
        await sleep(commitRetryMs * attempt);
      }
    }
    this.#lose(lease);
    throw new KitsuneError(
      ErrorCodes.UNAVAILABLE,
      `commit of ${this.#topic}[${lease.partition}] for group ${this.#group} refused: the lease moved to another member`,
      { retryable: false },
    );
  }

  /** Stops heartbeats, lets every partition finish and commit, releases the leases and leaves. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      await this.#ticking;
      for (const lease of this.#held.values()) if (!lease.releasing) this.#release(lease);
      while (this.#settling.size > 0) await Promise.all(this.#settling.values());
      try {
        await this.#context.pool.query(this.#context.sql.MemberLeave, [this.#group, this.#topic, this.memberId]);
        await this.#notifyGroup();
      } catch (error) {
        this.#context.report(error, 'membership');
      }
    })();
    return this.#closing;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    this.#timer = setTimeout(() => this.#runTick(), delayMs);
  }

  #runTick(): void {
    if (this.#closed || this.#ticking) return;
    this.#again = false;
    this.#ticking = this.#tick()
      .catch((error: unknown) => this.#tickFailed(error))
      .finally(() => {
        this.#ticking = undefined;
        this.#schedule(this.#again ? 0 : this.#heartbeatMs);
      });
  }

  async #tick(): Promise<void> {
    const { pool, sql, settings } = this.#context;
    const ttl = settings.leaseTtlMs;
    const sentAt = Date.now();
    const { rows: members } = await pool.query<{ member_id: string }>(sql.MemberHeartbeat, [
      this.#group, this.#topic, this.memberId, client, ttl,
    ]);
    if (!this.#joined) {
      this.#joined = true;
      await this.#notifyGroup();
    }
    const held = [...this.#held.values()];
    if (held.length > 0) {
      const { rows } = await pool.query<{ partition: number }>(sql.LeaseRenew, [
        this.#group, this.#topic, this.memberId, ttl, held.map((lease) => lease.partition), held.map((lease) => lease.token),
      ]);
      const renewed = new Set(rows.map((row) => row.partition));
      for (const lease of held) if (!renewed.has(lease.partition)) this.#lose(lease);
    }
    this.#renewedAt = sentAt;
    if (this.#closed) return;

    const wanted = fairShare(members.map((row) => row.member_id), this.memberId, this.#partitions);
    for (const lease of this.#held.values()) if (!wanted.has(lease.partition) && !lease.releasing) this.#release(lease);
    const claimable = [...wanted].filter((p) => !this.#held.has(p) && !this.#settling.has(p)).sort((a, b) => a - b);
    if (claimable.length > 0) await this.#claim(claimable);
  }

  async #claim(partitions: number[]): Promise<void> {
    const { pool, sql, settings } = this.#context;
    const { rows } = await pool.query<{ partition: number; token: string }>(sql.LeaseClaim, [
      this.#group, this.#topic, this.memberId, settings.leaseTtlMs, partitions, partitions.map(() => randomUUID()),
    ]);
    if (rows.length === 0) return;
    // Read offsets only now: a previous owner committed before releasing, or is fenced. If this
    // read fails the leases are not recorded; they expire, and LeaseClaim takes them back.
    const committed = await pool.query<{ partition: number; next_offset: string }>(sql.OffsetFetch, [
      this.#group, this.#topic, rows.map((row) => row.partition),
    ]);
    const from = new Map(committed.rows.map((row) => [row.partition, BigInt(row.next_offset)]));
    for (const { partition, token } of rows) {
      const lease: Lease = { partition, token, releasing: false };
      this.#held.set(partition, lease);
      this.#owner.acquired(lease, from.get(partition) ?? 0n);
    }
  }

  /** Voluntary: the worker finishes and commits under the lease, then the lease is deleted. */
  #release(lease: Lease): void {
    lease.releasing = true;
    const { pool, sql } = this.#context;
    this.#settle(lease.partition, async () => {
      await this.#owner.release(lease.partition);
      if (this.#held.get(lease.partition) === lease) this.#held.delete(lease.partition);
      await pool.query(sql.LeaseRelease, [this.#group, this.#topic, lease.partition, lease.token]);
      if (!this.#closed) await this.#notifyGroup();
    });
  }

  /** Involuntary: someone else may own it already, so nothing more is committed. */
  #lose(lease: Lease): void {
    if (this.#held.get(lease.partition) !== lease) return;
    this.#held.delete(lease.partition);
    // A release in progress is already stopping the worker; its commit will be refused.
    if (!lease.releasing) this.#settle(lease.partition, () => this.#owner.lost(lease.partition));
  }

  #settle(partition: number, work: () => Promise<void>): void {
    const done: Promise<void> = work()
      .catch((error: unknown) => this.#context.report(error, 'membership'))
      .finally(() => {
        if (this.#settling.get(partition) === done) this.#settling.delete(partition);
      });
    this.#settling.set(partition, done);
  }

  #tickFailed(error: unknown): void {
    this.#context.report(error, 'membership');
    // Unreachable database: past the TTL another member may hold our partitions, so stop them.
    if (Date.now() - this.#renewedAt > this.#context.settings.leaseTtlMs) {
      for (const lease of [...this.#held.values()]) this.#lose(lease);
    }
  }

  async #notifyGroup(): Promise<void> {
    await notify(this.#context, [{ kind: 'group', topic: this.#topic, group: this.#group }]);
  }
}
