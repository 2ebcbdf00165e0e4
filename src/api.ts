import path from 'node:path';
import { createDialect, type Dialect } from './dialects';
import { connectionError, translatedError } from './engine/connection-errors';
import { DEFAULT_RETRY, type RetryPolicy } from './engine/retry';
import { silentLogger, type Logger } from './engine/logger';
import { DEFAULT_BATCHES, type BatchOptions } from './engine/backfill';
import { DEFAULT_MAX_LAG_MS, Throttle, type LagSource } from './engine/throttle';
import { Runner, type BackfillResult, type MigrationStatus, type PhasePlan } from './engine/runner';
import { StateStore } from './engine/state-store';
import { ConfigError, InterruptedError, RunnerLockError, ValidationError, type Phase } from './errors';
import { loadMigrations, type LoadedMigration } from './migration/loader';
import { versionSchemaName } from './engine/version-schemas';

export interface MigratorOptions {
  /** postgres://…, mysql://…, mariadb://…, pglite:memory or pglite:<folder>. */
  url: string;
  /** The migrations folder; default ./migrations. */
  dir?: string;
  /** Longest a DDL statement waits for a lock before it is retried; default 500 ms. */
  lockTimeoutMs?: number;
  /** Retries of a statement that hit the lock timeout, with exponential backoff and jitter; default 10. */
  lockRetries?: number;
  /** How long to wait for another runner to finish; default 60 s. */
  runnerLockWaitMs?: number;
  /** Rows per backfill batch; by default the size adapts to batchTimeMs. */
  batchSize?: number;
  /** Target duration of one backfill batch; default 50 ms. */
  batchTimeMs?: number;
  /** Pause between backfill batches; default 0. */
  batchDelayMs?: number;
  /** Backfill batches run side by side, each in a session of its own; default 2 (PGlite always runs one). */
  jobs?: number;
  /**
   * Backfill and verification pause while a replica lags more than this;
   * default 1500 ms, 0 turns the throttle off. PostgreSQL replicas are seen
   * from the primary (pg_stat_replication); MySQL/MariaDB ones must be listed in replicaUrls.
   */
  maxLagMs?: number;
  /** Replicas to read the lag from, by URL (SHOW REPLICA STATUS; pg_last_xact_replay_timestamp()). */
  replicaUrls?: string[];
  /** Stop (resumably, exit 1) after being paused this long at one stretch; default 0: wait as long as it takes. */
  throttleMaxWaitMs?: number;
  /**
   * Once aborted, expand, contract, backfill and rollback stop at the next
   * point they resume from: the backfill batches in flight commit with their
   * checkpoint, a step under way ends, and no other starts. They then throw
   * InterruptedError, with the runner lock released.
   */
  signal?: AbortSignal;
  logger?: Logger;
}

export type NumberOption =
  | 'batchSize'
  | 'jobs'
  | 'batchTimeMs'
  | 'batchDelayMs'
  | 'lockTimeoutMs'
  | 'lockRetries'
  | 'runnerLockWaitMs'
  | 'maxLagMs'
  | 'throttleMaxWaitMs';
type NumberRule = [what: string, fits: (n: number) => boolean];

const NOT_NEGATIVE: NumberRule = ['a number ≥ 0', (n) => n >= 0];
const WHOLE: NumberRule = ['a whole number ≥ 1', (n) => Number.isInteger(n) && n >= 1];
/** What each numeric option must be, the first rule it breaks named (so a negative batch time is "a number ≥ 0", a zero one "a number > 0"). */
const NUMBER_RULES: Record<NumberOption, NumberRule[]> = {
  batchSize: [NOT_NEGATIVE, WHOLE],
  jobs: [WHOLE],
  // A time target of 0 would keep every batch at the smallest size.
  batchTimeMs: [NOT_NEGATIVE, ['a number > 0', (n) => n > 0]],
  batchDelayMs: [NOT_NEGATIVE],
  lockTimeoutMs: [NOT_NEGATIVE],
  lockRetries: [NOT_NEGATIVE],
  runnerLockWaitMs: [NOT_NEGATIVE],
  maxLagMs: [NOT_NEGATIVE],
  throttleMaxWaitMs: [NOT_NEGATIVE],
};

/**
 * Refuses a numeric option out of range with a ConfigError naming it by
 * `label` (the CLI names its flags, whose values may be in other units: the
 * rules hold for seconds as for milliseconds).
 */
export function checkNumberOptions(
  values: Partial<Record<NumberOption, unknown>>,
  label: (name: NumberOption) => string = (name) => name,
): void {
  for (const [name, rules] of Object.entries(NUMBER_RULES) as Array<[NumberOption, NumberRule[]]>) {
    const value = values[name];
    if (value === undefined) continue;
    const broken = rules.find(([, fits]) => !(typeof value === 'number' && Number.isFinite(value) && fits(value)));
    if (broken) throw new ConfigError(`${label(name)} must be ${broken[0]}`);
  }
}

/**
 * The programmatic API; the CLI is a thin layer over it.
 *
 *   const migrator = new Migrator({ url: process.env.DATABASE_URL!, dir: 'migrations' });
 *   try { await migrator.expand(); } finally { await migrator.close(); }
 */
export class Migrator {
  readonly #options: Required<
    Omit<
      MigratorOptions,
      'logger' | 'batchSize' | 'batchTimeMs' | 'batchDelayMs' | 'jobs' | 'maxLagMs' | 'replicaUrls' | 'throttleMaxWaitMs' | 'signal'
    >
  > & {
    logger: Logger;
    batches: BatchOptions;
    throttle: { maxLagMs: number; maxWaitMs: number; replicaUrls: string[] };
  };
  /** The connecting dialect, cached from the first call on, so calls at once share one (and close() closes it). */
  #dialect?: Promise<Dialect>;
  #migrations?: LoadedMigration[];
  /**
   * The last locked operation of this Migrator. Its calls share one session, on which the runner lock is
   * re-entrant, so a second call would run beside the first: it waits here, as another process waits for the lock.
   */
  #lockedTail: Promise<unknown> = Promise.resolve();

  constructor(options: MigratorOptions) {
    checkNumberOptions(options);
    this.#options = {
      dir: path.resolve(options.dir ?? 'migrations'),
      lockTimeoutMs: options.lockTimeoutMs ?? 500,
      lockRetries: options.lockRetries ?? DEFAULT_RETRY.lockRetries,
      runnerLockWaitMs: options.runnerLockWaitMs ?? 60_000,
      logger: options.logger ?? silentLogger,
      url: options.url,
      batches: {
        batchSize: options.batchSize,
        batchTimeMs: options.batchTimeMs ?? DEFAULT_BATCHES.batchTimeMs,
        batchDelayMs: options.batchDelayMs ?? DEFAULT_BATCHES.batchDelayMs,
        jobs: options.jobs,
        signal: options.signal,
      },
      throttle: {
        maxLagMs: options.maxLagMs ?? DEFAULT_MAX_LAG_MS,
        maxWaitMs: options.throttleMaxWaitMs ?? 0,
        replicaUrls: options.replicaUrls ?? [],
      },
    };
  }

  expand(): Promise<string[]> {
    return this.locked((runner) => runner.expand(), { throttled: true });
  }

  contract(): Promise<string[]> {
    return this.locked((runner) => runner.contract(), { throttled: true });
  }

  /** Resumes unfinished backfills and re-runs (backfill jobs too) and re-verifies finished ones; returns what verification found. */
  backfill(): Promise<BackfillResult[]> {
    return this.locked((runner) => runner.backfill(), { throttled: true });
  }

  rollback(): Promise<string> {
    return this.locked((runner) => runner.rollback());
  }

  status(): Promise<MigrationStatus[]> {
    return this.unlocked((runner) => runner.status());
  }

  /**
   * The SQL each phase would run, per migration: expand and contract, and the
   * rollback that would undo its expand instead of contract. Runs nothing.
   */
  async plan(options: { phases?: readonly Phase[] } = {}): Promise<PhasePlan[]> {
    const plans = await this.unlocked((runner) => runner.plan());
    return options.phases ? plans.filter((p) => options.phases!.includes(p.phase)) : plans;
  }

  /**
   * The latest version schema, for the new app's search_path or default
   * database: read from zmigrate's state alone, so a deploy step needs no
   * migration files (nor the modules they import).
   */
  async schema(): Promise<string | undefined> {
    const dialect = await this.dialect();
    return this.translated(dialect, () => new StateStore(dialect).latestVersionSchema());
  }

  /** The version schema a migration gets (whether or not it is expanded yet). */
  async versionSchemaFor(migration: string): Promise<string> {
    return versionSchemaName(await this.dialect(), migration);
  }

  async close(): Promise<void> {
    const connecting = this.#dialect;
    this.#dialect = undefined;
    const dialect = await connecting?.catch(() => undefined);
    if (dialect) await dialect.close().catch(() => undefined);
  }

  private async unlocked<T>(work: (runner: Runner) => Promise<T>): Promise<T> {
    const migrations = await this.migrations();
    const dialect = await this.dialect();
    this.checkNames(dialect, migrations);
    return this.translated(dialect, () => work(this.runner(dialect, migrations)));
  }

  private locked<T>(work: (runner: Runner) => Promise<T>, options: { throttled?: boolean } = {}): Promise<T> {
    const run = this.#lockedTail.then(() => this.lockedNow(work, options));
    this.#lockedTail = run.catch(() => undefined);
    return run;
  }

  private async lockedNow<T>(work: (runner: Runner) => Promise<T>, options: { throttled?: boolean }): Promise<T> {
    const migrations = await this.migrations();
    const dialect = await this.dialect();
    this.checkNames(dialect, migrations);
    // Replicas are checked before anything changes, so a wrong URL stops the run at once.
    const throttle = options.throttled ? await this.throttle(dialect) : Throttle.off;
    return this.translated(dialect, async () => {
      await this.acquireRunnerLock(dialect);
      try {
        return await work(this.runner(dialect, migrations, throttle));
      } finally {
        await dialect.releaseRunnerLock().catch(() => undefined);
      }
    }).finally(() => throttle.close());
  }

  /**
   * Takes the runner lock, waiting up to runnerLockWaitMs for another runner
   * to let it go, a second at a time, so a run asked to stop meanwhile stops
   * (having changed nothing) rather than waiting on.
   */
  private async acquireRunnerLock(dialect: Dialect): Promise<void> {
    const { signal } = this.#options.batches;
    const stopped = () => {
      if (signal?.aborted) throw new InterruptedError({});
    };
    stopped();
    if (await dialect.acquireRunnerLock(0)) return;
    const holder = await dialect.describeRunnerLockHolder();
    this.#options.logger.info(`waiting for another zmigrate runner${holder ? ` (${holder})` : ''}`);
    const deadline = Date.now() + this.#options.runnerLockWaitMs;
    for (;;) {
      stopped();
      if (await dialect.acquireRunnerLock(Math.min(1000, Math.max(0, deadline - Date.now())))) return;
      if (Date.now() >= deadline) break;
    }
    throw new RunnerLockError(
      `another zmigrate runner is still working on this database${holder ? `: ${holder}` : ''}; gave up after ${Math.round(this.#options.runnerLockWaitMs / 1000)} s`,
      {
        hint: 'wait for it to finish and run again',
      },
    );
  }

  private runner(dialect: Dialect, migrations: LoadedMigration[], throttle = Throttle.off): Runner {
    const retry: RetryPolicy = { ...DEFAULT_RETRY, lockRetries: this.#options.lockRetries };
    return new Runner(dialect, new StateStore(dialect), migrations, retry, this.#options.logger, { ...this.#options.batches, throttle });
  }

  /** Where replication lag is read from: the primary's own view, and each replica given by URL. */
  private async throttle(dialect: Dialect): Promise<Throttle> {
    const { maxLagMs, maxWaitMs, replicaUrls } = this.#options.throttle;
    if (maxLagMs <= 0) return Throttle.off;
    const logger = this.#options.logger;
    const sources: LagSource[] = [];
    try {
      const primary = dialect.primaryLagSource((message) => logger.warn(message));
      if (primary) sources.push(primary);
      for (const url of replicaUrls) sources.push(await dialect.connectReplica(url));
    } catch (error) {
      await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
      throw error;
    }
    if (replicaUrls.length > 0)
      logger.info(`throttle: pausing while any of ${replicaUrls.length} replica(s) lags more than ${maxLagMs} ms`);
    return new Throttle(sources, { maxLagMs, maxWaitMs, signal: this.#options.batches.signal }, logger);
  }

  private async migrations(): Promise<LoadedMigration[]> {
    this.#migrations ??= await loadMigrations(this.#options.dir);
    return this.#migrations;
  }

  private dialect(): Promise<Dialect> {
    if (this.#dialect) return this.#dialect;
    const connecting = this.connect();
    this.#dialect = connecting;
    // A failed connection is not kept: the next call tries again.
    connecting.catch(() => {
      if (this.#dialect === connecting) this.#dialect = undefined;
    });
    return connecting;
  }

  private async connect(): Promise<Dialect> {
    const dialect = createDialect(this.#options.url, { lockTimeoutMs: this.#options.lockTimeoutMs });
    try {
      await dialect.connect({ lockTimeoutMs: this.#options.lockTimeoutMs });
    } catch (error) {
      await dialect.close().catch(() => undefined);
      throw connectionError(dialect, this.#options.url, error);
    }
    return dialect;
  }

  private checkNames(dialect: Dialect, migrations: LoadedMigration[]): void {
    for (const m of migrations) {
      const schema = versionSchemaName(dialect, m.name);
      if (Buffer.byteLength(schema) > dialect.capabilities.maxIdentifierLength) {
        throw new ValidationError(
          m.name,
          `version schema name ${JSON.stringify(schema)} would be longer than ${dialect.capabilities.maxIdentifierLength} bytes, the ${dialect.displayName} limit`,
          {
            hint: 'shorten the migration file name',
          },
        );
      }
    }
  }

  /** Driver errors about the connection become ConnectionErrors; nothing leaks the password. */
  private async translated<T>(dialect: Dialect, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw translatedError(dialect, this.#options.url, error);
    }
  }
}
