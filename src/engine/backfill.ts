import type { Knex } from 'knex';
import { bound, runBound } from '../dialects/bound-sql';
import type { Dialect } from '../dialects/dialect';
import type { BackfillSpec } from './dual-write';
import { keyRanges, type KeyBatch } from './key-ranges';
import type { Logger } from './logger';
import type { Throttle } from './throttle';
import { changedRows } from './raw-result';
import { DEFAULT_RETRY, LockRetries, type RetryPolicy } from './retry';
import { InterruptedError } from '../errors';
import { sleepUnlessStopped } from './stop';

/** Where a backfill stands: the last key (or page) done, and the last that existed when it started. */
export interface BackfillCheckpoint {
  last: unknown[] | null;
  /** Rows inserted after this key came in after the triggers, which filled them: not revisited. */
  end: unknown[] | null;
  rows: number;
  /** A redo's (BackfillSpec.redo): its rows were counted by the backfill before it, so `zmigrate status` leaves them out. */
  redo?: true;
}

export interface CheckpointStore {
  load(): Promise<BackfillCheckpoint | undefined>;
  save(checkpoint: BackfillCheckpoint, trx?: Knex.Transaction): Promise<void>;
}

/** How batches are sized and paced; `batchSize` fixes the size, otherwise it adapts to `batchTimeMs`. */
export interface BatchOptions {
  batchSize?: number;
  /** Target duration of one batch's transaction; default 50 ms. */
  batchTimeMs: number;
  /** Pause between batches, to leave the server room; default 0. */
  batchDelayMs: number;
  /** Batches (or a copy's chunks) run side by side, each in a session of its own; by default DEFAULT_JOBS. */
  jobs?: number;
  /** Pauses between batches while replicas lag. */
  throttle?: Throttle;
  /** How a batch that waited too long for a row lock, or the copy's last DDL, is tried again (the steps' policy); DEFAULT_RETRY by default. */
  retry?: RetryPolicy;
  /** Once aborted, no batch starts: those in flight commit with their checkpoint, and the walk throws InterruptedError. */
  signal?: AbortSignal;
}

/**
 * Two sessions, for PostgreSQL's in-place backfill (1.1–1.25× faster than
 * one at 1M rows on this project's 2-core machine) and MariaDB's copy alike:
 * interleaved runs on 2026-12-04 copied 1M rows in 1.32–1.60 s with two
 * against 2.03–2.27 s with one, and 10M in 17.3 and 22.8 s against 26.7 and
 * 32.9 s. `--jobs 1` runs one at a time, as pt-online-schema-change and
 * gh-ost do, for half the server's CPU.
 */
export const DEFAULT_JOBS = 2;
export const DEFAULT_BATCHES: BatchOptions = { batchTimeMs: 50, batchDelayMs: 0 };
const FIRST_BATCH = 1000;
/** What the first batch may write at most, before any batch has been timed. */
const FIRST_BATCH_BYTES = 1024 * 1024;
const MIN_BATCH = 50;
const MAX_BATCH = 50_000;
/** A catch-up or a redo changes few of the rows it walks, so it may walk many per batch (the time target still holds). */
const MAX_CATCH_UP_BATCH = 500_000;

/**
 * Fills the rows that existed before the triggers, in batches along the
 * table's walk key (key ranges, or page ranges of a table without a key),
 * each batch a short transaction of its own with its checkpoint.
 * The triggers stand aside for the backfill's own writes (session flag).
 *
 * Ranges are cut one after another on the runner's session (the one holding
 * the runner lock, so no batch starts once the lock is lost) and run by
 * `jobs` workers, each in a session of its own. Batches may commit out of
 * order; the checkpoint is the end of the longest run of committed batches
 * from the start, so a rerun redoes at most the batches that were in flight
 * or committed past it, which change nothing twice (`where` skips filled rows).
 */
export async function runBackfill(
  dialect: Dialect,
  spec: BackfillSpec,
  checkpoints: CheckpointStore,
  logger: Logger,
  options: BatchOptions = DEFAULT_BATCHES,
): Promise<number> {
  const q = (name: string) => dialect.quote(name);
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const ranges = keyRanges(dialect, spec.catchUp?.log ?? spec.table, spec.key, spec.redo ? undefined : spec.where);

  /** A checkpoint as saved: marked when a redo's. */
  const saved = (checkpoint: BackfillCheckpoint): BackfillCheckpoint => (spec.redo ? { ...checkpoint, redo: true } : checkpoint);

  const loaded = await checkpoints.load();
  let state: BackfillCheckpoint = loaded ? { last: loaded.last, end: loaded.end, rows: loaded.rows } : { last: null, end: null, rows: 0 };
  if (!state.end) {
    const end = await ranges.end();
    if (!end) {
      if (spec.copy) await afterCopy(dialect, spec, logger, options.retry);
      return 0;
    }
    state = { ...state, end };
    await checkpoints.save(saved(state));
  }
  const end = state.end!;
  if (spec.copy && !dialect.rebuild) throw new Error(`${dialect.displayName} cannot copy ${spec.table} into a shadow table`);
  const assignments = Object.entries(spec.set).map(([column, expression]) => `${q(column)} = (${expression})`);
  assignments.push(...(await dialect.preservedOnUpdate(spec.table)).map((c) => `${q(c)} = ${q(c)}`));
  /** A walk that fills few of the rows it walks (a catch-up, a redo), so it counts those it fills, not those it walks. */
  const sparse = spec.catchUp !== undefined || spec.redo === true;
  // A catch-up fills about as many rows as its log holds keys; how many a redo fills is not known ahead.
  const total = spec.redo ? undefined : await dialect.estimateRows(spec.catchUp?.log ?? spec.table);
  // A catch-up or a redo writes few of the rows it walks: its first batch need not be sized by what a row weighs.
  const first = options.batchSize ?? (sparse ? FIRST_BATCH : firstBatchSize(await dialect.estimateRowBytes(spec.table)));
  const progress = new ProgressClock(spec.table, state.rows, total, logger);
  const jobs = dialect.workerSessions ? Math.max(1, Math.floor(options.jobs ?? DEFAULT_JOBS)) : 1;
  const sessions = jobs > 1 ? dialect.workerSessions!(jobs) : dialect.knex;
  const ledger = new Ledger(state);
  const planning = new Mutex();
  const committing = new Mutex();
  const sizer = new BatchSizer(first, options.batchTimeMs, sparse ? MAX_CATCH_UP_BATCH : MAX_BATCH);
  let finished = false;
  let failed = false;
  /** A worker saw the run asked to stop, and took no further range. */
  let stopped = false;
  /** Rows of the ranges cut so far (from the checkpoint on, after the rows it counted): as the cut counted them, else as asked. */
  let cutRows = state.rows;
  /** Near the end, the rows estimated to be left, for the jobs to share (never for a fixed size, nor a sparse walk's keys). */
  const left = () => (options.batchSize !== undefined || sparse || total === undefined ? undefined : total - cutRows);

  /** The next range, cut after the last one cut; undefined once the end is reached. */
  const cut = () =>
    planning.run(async () => {
      if (finished || failed) return undefined;
      const size = tailSize(sizer.size, left(), jobs);
      const batch = await ranges.next(ledger.planned(), end, size);
      finished = batch.final;
      // The rows a batch walks, where the write cannot count them: a copy counts every row it reads (found
      // rows), an in-place update only those it fills, which after a kill leaves out the rows of batches
      // that had committed past the checkpoint. A catch-up or a redo counts the rows it fills.
      const walked = batch.rows ?? (spec.copy || sparse ? undefined : await ranges.count(batch.range));
      cutRows += walked ?? size;
      return { seq: ledger.plan(batch.upper), batch, size, walked };
    });
  /**
   * One range is cut ahead while batches run, so a worker that finishes finds its next range ready; but not
   * before a batch has been timed: until then every range would be cut at the first size.
   */
  let ahead: ReturnType<typeof cut> | undefined;
  const plan = () => {
    const next = ahead ?? cut();
    ahead = sizer.timed || options.batchSize !== undefined ? cut() : undefined;
    ahead?.catch(() => undefined); // a failure reaches whoever takes this range next
    return next;
  };

  /** Runs a batch; returns the rows it counted, and how long its writes took (without the round trips around them). */
  const runBatch = async ({
    seq,
    batch,
    walked,
  }: {
    seq: number;
    batch: KeyBatch;
    walked: number | undefined;
  }): Promise<{ rows: number; writeMs: number }> => {
    const statements = spec.copy
      ? dialect.rebuild!.copyChunk(spec, batch.range)
      : spec.catchUp
        ? dialect.rebuild!.catchUpChunk(spec, batch.range, assignments)
        : [bound`UPDATE ${table} SET ${assignments.join(', ')} WHERE ${batch.range} AND (${spec.where})`];
    // The rows walked, where the cut knows them; else those the write counts.
    const known = sparse ? undefined : walked;
    let rows = 0;
    let writeMs = 0;
    await retryingConflicts(dialect, spec.table, options.retry ?? DEFAULT_RETRY, logger, async () => {
      let release: (() => void) | undefined;
      try {
        // READ COMMITTED: row locks only, no gap locks that an app's insert could run into (PostgreSQL's default anyway).
        await sessions.transaction(
          async (trx) => {
            // A copy writes only the shadow, which has no trigger of zmigrate's yet: no flag to set.
            if (!spec.copy) await trx.raw(dialect.backfillFlag(true));
            try {
              const writing = Date.now();
              for (const statement of statements) {
                const write = () => runBound(trx, statement);
                // Where the server bounds a wait for an app's row lock only coarsely, it is stopped at the lock timeout.
                const result: unknown = dialect.watchLockWait ? await dialect.watchLockWait(trx, write, { rowLocks: true }) : await write();
                rows = known ?? changedRows(result);
              }
              writeMs = Date.now() - writing;
            } finally {
              const clear = spec.copy ? undefined : dialect.backfillFlag(false);
              if (clear) await trx.raw(clear).catch(() => undefined);
            }
            // One commit at a time, so each checkpoint knows every batch committed before it.
            release = await committing.lock();
            await checkpoints.save(saved(ledger.proposal(seq, rows)), trx);
          },
          // Worker sessions are READ COMMITTED already, which saves a statement per batch on MySQL/MariaDB.
          sessions === dialect.knex ? { isolationLevel: 'read committed' } : {},
        );
        ledger.commit(seq, rows);
      } finally {
        release?.();
      }
    });
    return { rows, writeMs };
  };

  if (jobs > 1) {
    // The workers' sessions open side by side while the first range is cut, rather than one by one inside
    // the first batches, whose time sets the size of the next ones.
    ahead = cut();
    const [, ...opened] = await Promise.allSettled([ahead, ...Array.from({ length: jobs }, () => sessions.raw('SELECT 1'))]);
    const failure = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
  }

  const worker = async () => {
    for (;;) {
      await options.throttle?.wait();
      if (options.signal?.aborted) return void (stopped = true);
      const next = await plan();
      if (!next) return;
      const started = Date.now();
      const { rows, writeMs } = await runBatch(next);
      // A catch-up or a redo counts the rows it filled, fewer than it walked: its cost is per key walked. (Timed before
      // the progress line, whose first printing costs more than a small batch.)
      if (options.batchSize === undefined) sizer.record(Date.now() - started, sparse ? next.size : rows, writeMs);
      progress.tick(ledger.rows, false);
      if (options.batchDelayMs > 0) await sleepUnlessStopped(options.batchDelayMs, options.signal);
    }
  };
  const outcomes = await Promise.allSettled(
    Array.from({ length: jobs }, () =>
      worker().catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  await ahead?.catch(() => undefined); // no query of ours still running on the runner's session
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
  // Every batch that started has committed, with the checkpoint a rerun resumes from.
  if (stopped) throw new InterruptedError({ rows: ledger.checkpoint.rows });
  progress.tick(ledger.rows, true);
  if (spec.copy) await afterCopy(dialect, spec, logger, options.retry);
  return ledger.rows;
}

/**
 * Which batches have committed, and the checkpoint that follows: the upper
 * end of the longest run of committed batches from the start, with their
 * rows. Rows of batches committed past it are counted once they join it, as
 * a rerun would walk them again.
 */
class Ledger {
  /** Upper end of each batch planned and not yet behind the checkpoint, by sequence number. */
  readonly #uppers = new Map<number, unknown[]>();
  /** Rows of each batch committed past the checkpoint. */
  readonly #ahead = new Map<number, number>();
  #next = 0;
  #nextPlanned = 0;
  #lastPlanned: unknown[] | null;
  #checkpoint: BackfillCheckpoint;

  constructor(start: BackfillCheckpoint) {
    this.#checkpoint = start;
    this.#lastPlanned = start.last;
  }

  /** Rows of every committed batch, for progress. */
  get rows(): number {
    let rows = this.#checkpoint.rows;
    for (const n of this.#ahead.values()) rows += n;
    return rows;
  }

  /** The checkpoint of the batches committed so far. */
  get checkpoint(): BackfillCheckpoint {
    return this.#checkpoint;
  }

  /** Where the next range starts. */
  planned(): unknown[] | null {
    return this.#lastPlanned;
  }

  plan(upper: unknown[]): number {
    this.#uppers.set(this.#nextPlanned, upper);
    this.#lastPlanned = upper;
    return this.#nextPlanned++;
  }

  /** The checkpoint once batch `seq`, of `rows` rows, commits too. */
  proposal(seq: number, rows: number): BackfillCheckpoint {
    let { last, rows: total } = this.#checkpoint;
    for (let n = this.#next; n === seq || this.#ahead.has(n); n++) {
      last = this.#uppers.get(n)!;
      total += n === seq ? rows : this.#ahead.get(n)!;
    }
    return { last, end: this.#checkpoint.end, rows: total };
  }

  commit(seq: number, rows: number): void {
    this.#checkpoint = this.proposal(seq, rows);
    this.#ahead.set(seq, rows);
    for (; this.#ahead.has(this.#next); this.#next++) {
      this.#ahead.delete(this.#next);
      this.#uppers.delete(this.#next);
    }
  }
}

/** One holder at a time, in the order they asked. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const turn = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return turn;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/**
 * The copy's last change (TableRebuild.afterCopy), DDL on the shadow: tried
 * again as a step's DDL is (the retry policy, each retry said), while it runs
 * out of time waiting for the shadow's lock, which a long app transaction
 * that wrote the table holds; each try waits no longer than the lock timeout.
 */
async function afterCopy(dialect: Dialect, spec: BackfillSpec, logger: Logger, retry = DEFAULT_RETRY): Promise<void> {
  const waits = new LockRetries(retry, logger, `the last change to ${spec.copy!.into} after its copy`);
  for (;;) {
    try {
      return await dialect.rebuild!.afterCopy(dialect.knex, spec);
    } catch (error) {
      const kind = dialect.classifyError(error);
      if ((kind !== 'lockTimeout' && kind !== 'statementTimeout') || !(await waits.again(error))) throw error;
    }
  }
}

/** How many times a batch the server chose as a deadlock's victim is run again. */
const DEADLOCK_RETRIES = 5;

/**
 * Runs a batch again where it rolled back whole, which freed every row it
 * had locked, so running it again is safe, and the app went ahead: at once
 * if the server chose it as a deadlock's victim; after a backoff, as a
 * step's DDL is and saying so, if it waited for a row lock (an app's open
 * transaction holds one of its rows) longer than the lock timeout. Until it
 * gives up, the rows it had locked before that one kept the apps that
 * write them waiting, which the lock timeout bounds.
 */
export async function retryingConflicts<T>(
  dialect: Dialect,
  table: string,
  retry: RetryPolicy,
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  let deadlocks = 0;
  const waits = new LockRetries(retry, logger, `a batch of ${table}`);
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ER_LOCK_DEADLOCK' || code === '40P01') {
        if (++deadlocks >= DEADLOCK_RETRIES) throw error;
        await new Promise((r) => setTimeout(r, 20 * deadlocks + Math.random() * 30));
      } else if (dialect.classifyError(error) !== 'lockTimeout' || !(await waits.again(error))) {
        throw error;
      }
    }
  }
}

/**
 * The first batch's rows, before any batch has been timed: FIRST_BATCH, or
 * fewer where rows are wide, so that it writes at most FIRST_BATCH_BYTES
 * (rows of 8 kB, which MariaDB copied at about 10 ms a megabyte on this
 * project's machine, took 70-90 ms a thousand). Never more than FIRST_BATCH:
 * a row's bytes say little of the time a narrow row takes, which its indexes
 * and the server's load set.
 */
export function firstBatchSize(rowBytes: number | undefined): number {
  if (rowBytes === undefined || !(rowBytes > 0)) return FIRST_BATCH;
  return Math.max(MIN_BATCH, Math.min(FIRST_BATCH, Math.floor(FIRST_BATCH_BYTES / rowBytes)));
}

/**
 * A batch's size near the end of a walk by `jobs` side by side: the rows
 * estimated to be `left` shared among the jobs, so that they finish about
 * together, rather than one running a whole last batch while the others
 * wait (half a batch on average: a tenth of a 100k-row backfill's time on
 * this project's machine). Never under a quarter of the size the timing
 * gives, so a short estimate costs a few smaller batches at most; once the
 * estimate is used up (the table holds more rows than it said), the size
 * stays as it is.
 */
export function tailSize(size: number, left: number | undefined, jobs: number): number {
  if (jobs < 2 || left === undefined || left <= 0 || left >= size * jobs) return size;
  return Math.max(MIN_BATCH, Math.ceil(size / 4), Math.ceil(left / jobs));
}

/**
 * Sizes batches toward the time target from what a row cost in the last
 * batch. An app that writes a row a batch holds waits for the batch to
 * commit, so a slow batch shrinks the next at once, to what its cost per row
 * allows, and a batch over the target never lets the next grow. The time
 * around a batch's writes (its round trips and commit, some milliseconds
 * whatever its size) is costed once a batch, not spread over its rows, which
 * would undersize the small first batches most. Growth is at most twofold;
 * fourfold while batches take under a quarter of the target and eightfold
 * under an eighth (the first, small batches), so a short backfill does not
 * spend itself growing. (Sizing by the higher of the last cost and a
 * running average, tried on this project's 2-core machine, made more and
 * smaller batches, copies on MariaDB 20–30 % slower and the runner's memory
 * larger, and app writes on PostgreSQL waited about as long.)
 */
export class BatchSizer {
  #size: number;
  #timed = false;

  constructor(
    first: number,
    private readonly targetMs: number,
    private readonly max = MAX_BATCH,
  ) {
    this.#size = first;
  }

  get size(): number {
    return this.#size;
  }

  /** Whether a batch has been recorded yet (until then, the size is the first one). */
  get timed(): boolean {
    return this.#timed;
  }

  /**
   * A batch of `rows` rows took `tookMs`, of which its writes took `writeMs`
   * (the rest, round trips and commit, costs about the same at any size); an
   * empty one (a span over a gap) only lets the next grow.
   */
  record(tookMs: number, rows = this.#size, writeMs = tookMs): void {
    const growth = tookMs > this.targetMs ? 1 : tookMs * 8 <= this.targetMs ? 8 : tookMs * 4 <= this.targetMs ? 4 : 2;
    const fixed = Math.min(this.targetMs / 2, Math.max(0, tookMs - writeMs));
    const scaled = rows > 0 ? (this.targetMs - fixed) / (Math.max(1, Math.min(writeMs, tookMs)) / rows) : Infinity;
    this.#size = Math.round(Math.min(this.max, Math.max(MIN_BATCH, Math.min(this.#size * growth, scaled))));
    this.#timed = true;
  }
}

/** Reports progress at most every so often, with rate and ETA. */
export class ProgressClock {
  readonly #started = Date.now();
  #last = 0;

  constructor(
    private readonly table: string,
    private readonly fromRows: number,
    private readonly total: number | undefined,
    private readonly logger: Logger,
  ) {}

  tick(rows: number, finished: boolean): void {
    const now = Date.now();
    if (!finished && now - this.#last < 1000) return;
    this.#last = now;
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = (rows - this.fromRows) / seconds;
    const total = this.total && this.total >= rows ? this.total : undefined;
    const eta = total && rate > 0 ? (total - rows) / rate : undefined;
    this.logger.progress?.({ table: this.table, rows, total, rate, etaSeconds: finished ? 0 : eta, seconds, finished });
  }
}
