/**
 * What every section gets (settings, services, a load generator, a place for its measurements)
 * and the shape of what it measures. Sections only measure; bench/support/report.ts turns the
 * measurements into the table, so a row can combine figures from two sections.
 */
import type { Services } from '../../scripts/services/harness.ts';
import type { KafkaDirectChild } from '../support/kafka-direct.ts';
import type { LoadChild } from '../support/load-child.ts';
import type { CpuShares } from '../support/cpu.ts';
import type { ForkedChild } from '../support/rpc.ts';
import type { Latency } from '../support/stats.ts';

export interface Settings {
  quick: boolean;
  /** Closed-loop (autocannon) runs. */
  saturationSeconds: number;
  /** Fixed-rate ingest runs and baselines. */
  fixedSeconds: number;
  /** Unrecorded load before the first recorded run of a server (JIT, connections). */
  warmSeconds: number;
  /** Each end-to-end rate, Kafka and embedded. */
  e2eSeconds: number;
  /** How long a sampled event's GET /events/:id?wait may wait for its result. */
  resultWaitSeconds: number;
  /** After an end-to-end step, how long to wait for the pipeline to catch up before the next. */
  drainTimeoutSeconds: number;
  /** Fixed rates of the ingest and end-to-end rows, events/s. */
  fixedRates: number[];
  /** Extra embedded-mode steps between the fixed rates, to find where it stops keeping up. */
  embeddedSteps: number[];
  /** create_user events on db-events before the DB worker starts. */
  dbWorkerEvents: number;
  /** app-logs records before the log worker starts. */
  logLines: number;
  /** Measured starts of `kitsune start` (the median is reported). */
  coldStarts: number;
  /** autocannon connections for /execute (a tenth of them for /execute/batch). */
  connections: number;
  /** Commands per /execute/batch request. */
  batchSize: number;
}

export const fullSettings: Settings = {
  quick: false,
  saturationSeconds: 8,
  fixedSeconds: 5,
  warmSeconds: 3,
  e2eSeconds: 10,
  resultWaitSeconds: 10,
  drainTimeoutSeconds: 120,
  fixedRates: [1_000, 5_000],
  embeddedSteps: [2_000, 3_000, 4_000],
  dbWorkerEvents: 100_000,
  logLines: 100_000,
  coldStarts: 3,
  connections: 100,
  batchSize: 50,
};

export const quickSettings: Settings = {
  ...fullSettings,
  quick: true,
  saturationSeconds: 2,
  fixedSeconds: 1,
  warmSeconds: 1,
  e2eSeconds: 2,
  resultWaitSeconds: 5,
  drainTimeoutSeconds: 20,
  embeddedSteps: [],
  dbWorkerEvents: 10_000,
  logLines: 20_000,
  coldStarts: 1,
};

/** A closed-loop run: as fast as the server answers. Latency is per request (per send for Kafka). */
export interface Saturation {
  eventsPerSecond: number;
  latency: Latency;
  /** Non-2xx answers plus connection errors and timeouts. */
  failed: number;
}

/** An open-loop run at a fixed rate; latency from each request's scheduled time. */
export interface FixedRate {
  target: number;
  achieved: number;
  latency: Latency;
  failed: number;
}

export interface IngestRuns {
  saturation: Saturation;
  rates: FixedRate[];
}

export interface EndToEnd extends FixedRate {
  /** From the 202 to GET /events/:id?wait answering with the result. */
  e2e: Latency;
  /** Sampled events whose result did not arrive within the wait. */
  timeouts: number;
  /**
   * Every event of the step, from the database: accepted (the time in its UUIDv7 id) → the DB
   * worker's transaction for it began (event_results.completed_at is that transaction's now()).
   * The rest of the end-to-end time is the transaction itself and reading the result.
   */
  acceptedToTransaction?: { count: number; p50: number; p95: number; p99: number };
}

export interface MemoryFigure {
  /** VmHWM at the end of the load. */
  peakMb: number;
  /** VmRSS when the process reported ready. */
  readyMb: number;
  /** What load it was under. */
  under: string;
}

export type MemoryRole = 'api' | 'bare' | 'dbWorker' | 'logWorker' | 'start' | 'goApi' | 'goDbWorker';

export interface Measurements {
  /** A baseline that failed is left out (its error is in `errors`); Kitsune's runs are still measured. */
  ingest?: {
    kitsune: Record<'execute' | 'batch', IngestRuns>;
    bare?: Record<'execute' | 'batch', IngestRuns>;
    /** The bare Kafka client; a kind whose saturation run failed is missing, a failed rate is left out. */
    kafka: Partial<Record<'execute' | 'batch', IngestRuns>>;
    /** The Go reference API (bench/peers/go); it serves /execute only. */
    go?: { execute: IngestRuns };
  };
  /** Whether the Go reference ran, with the Go version, or why not. */
  goPeers?: { available: true; go: string } | { available: false; reason: string };
  dbWorker?: {
    events: number;
    commandsPerSecond: number;
    /** The baselines; missing when they failed (see `errors`). */
    singleRowPerSecond?: number;
    multiRowPerSecond?: number;
    /** Outcomes other than succeeded (should be 0). */
    notSucceeded: number;
    usersRows: number;
    /** The Go reference DB worker draining the same number of events into a database of its own. */
    go?: { commandsPerSecond: number; usersRows: number };
  };
  e2e?: { runs: EndToEnd[]; floor: Array<{ target: number; latency: Latency; received: number }> };
  logWorker?: { lines: number; linesPerSecond: number; acceptRate?: number; pushes: number };
  memory: Partial<Record<MemoryRole, MemoryFigure>>;
  coldStart?: {
    kitsuneMs: number[];
    bareMs: number[];
    embeddedPostgresMs: number[];
    /** Per start: ms from spawn() at which each startup log line was written. */
    timelines: Array<Record<string, number>>;
  };
  embedded?: {
    saturation: Saturation;
    runs: EndToEnd[];
    /** Highest step that kept up (see sections/embedded.ts); 0 when none did. */
    sustained: number;
    steps: Array<{ target: number; kept: boolean; why: string }>;
  };
  /** Throughput while profiling (lower than unprofiled; for reading the profiles against). */
  profile?: Record<string, number>;
  /**
   * Where the CPU went during each measured window (see support/cpu.ts), by window; with the
   * CPU time the process under test spent per event, when the window had an event rate.
   */
  cpu: Record<string, { cores: CpuShares; measured: string[]; usPerEvent?: number; eventsPerSecond?: number }>;
  /** Sections that failed, and baselines that failed (named "<section>: <baseline>"), with the error. */
  errors: Record<string, string>;
}

export interface Context {
  settings: Settings;
  /** Short id that keeps this run's topics, databases, groups and emails apart. */
  runId: string;
  services: Services;
  brokers: string[];
  /** Where the profile section writes its --cpu-prof profiles. */
  profileDir: string;
  /** The embedded-mode data directory (shared by the embedded and cold-start sections). */
  embeddedDataDir: string;
  results: Measurements;
  /**
   * The bare Kafka client's process (support/kafka-direct.ts), forked once per run and shared by
   * the broker's warm-up, the ingest baselines and the end-to-end floor; each calls `init` for
   * topics of its own. Stopped at the end of the run.
   */
  direct(): Promise<ForkedChild<KafkaDirectChild>>;
  /** The load generator process, forked once per run. */
  load(): Promise<ForkedChild<LoadChild>>;
  /**
   * Opens a CPU window named `label` over PostgreSQL (the services' server, plus `postgres`, e.g.
   * an embedded one), the broker, the processes under test (`measured`, by name, with their
   * children), any `others` (by name), the load generator and this process. Calling the result
   * closes it and records the shares, and the measured processes' CPU per event when given the
   * window's event rate.
   */
  cpu(label: string, pids: CpuSubjects): (eventsPerSecond?: number) => void;
  /**
   * Runs the baseline `name` (prefixed with its section, e.g. "ingest: bare Kafka client at
   * 5000/s"). If it throws, the error is logged and kept in `results.errors[name]` and the result
   * is undefined: the Kitsune figures beside it, and the rest of the bench, still run.
   */
  baseline<T>(name: string, run: () => Promise<T>): Promise<T | undefined>;
  /** Registers something to stop if the run is interrupted. */
  track<T extends { stop(): Promise<unknown> }>(stoppable: T): T;
  log(line: string): void;
}

export interface CpuSubjects {
  measured: Record<string, number[]>;
  postgres?: number[];
  others?: Record<string, number[]>;
}

export type Section = (ctx: Context) => Promise<void>;

/**
 * Names of the CPU windows that the report reads CPU per event from (the rows comparing Kitsune's
 * processes with the baselines), in one place so the sections and the report agree.
 */
export const cpuLabels = {
  ingest: (who: string, kind: 'execute' | 'batch', rate?: number): string => `ingest: ${who}, ${kind} at ${rate === undefined ? 'saturation' : `${rate}/s`}`,
  dbWorker: (events: number): string => `db-worker: draining ${events.toLocaleString('en')} events`,
  goDbWorker: (events: number): string => `db-worker: Go reference, draining ${events.toLocaleString('en')} events`,
  e2e: (rate: number): string => `e2e (Kafka): ${rate} events/s`,
} as const;
