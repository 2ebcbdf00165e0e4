import type { Knex } from 'knex';
import { asWritten, literalMarks } from '../dialects/bound-sql';
import type { Dialect } from '../dialects/dialect';
import {
  InterruptedError,
  LockTimeoutError,
  MigrationError,
  RunnerLockError,
  ThrottleTimeoutError,
  ValidationError,
  VerificationError,
  ZmigrateError,
  type Phase,
} from '../errors';
import { LOCK_TAKEN } from '../dialects/runner-session';
import { serverText } from '../dialects/permission';
import type { Logger } from './logger';
import { findMismatches } from './verify';
import type { VerifySpec } from './dual-write';
import { DEFAULT_BATCHES, DEFAULT_JOBS, runBackfill, type BackfillCheckpoint, type BatchOptions, type CheckpointStore } from './backfill';
import type { StateStore } from './state-store';
import { step, type Step, type StepGuard } from './step';
import type { CustomContext, Migration } from '../migration/types';
import { customContext } from './custom';
import { runBackfillJob } from './backfill-job';
import { versionSchemaName } from './version-schemas';
import { privilegeError } from './privileges';
import { LockRetries, type RetryPolicy } from './retry';
import { sleepUnlessStopped } from './stop';

const CONNECTION_RETRIES = 3;

interface StepRecorder {
  started(): Promise<void>;
  done(trx?: Knex.Transaction): Promise<void>;
  checkpoints: CheckpointStore;
}

/**
 * Runs the steps of a phase one by one, each recorded in the state store.
 * On engines with transactional DDL a step and its record commit together;
 * elsewhere a step is marked running first and its guard decides, on a rerun,
 * whether it already took effect.
 */
export class StepExecutor {
  constructor(
    private readonly dialect: Dialect,
    private readonly store: StateStore,
    private readonly retry: RetryPolicy,
    private readonly logger: Logger,
    private readonly batches: BatchOptions = DEFAULT_BATCHES,
    /** The migration files' definitions, for custom phases and backfill jobs. */
    private readonly definitions: (migration: string) => Migration | undefined = () => undefined,
  ) {}

  async runPhase(migration: string, phase: Phase, steps: readonly Step[]): Promise<void> {
    const status = await this.store.stepStatus(migration, phase);
    if (steps.some((step, seq) => status.get(seq) !== 'done' && (step.backfill || step.verify))) this.openWorkerSessions();
    for (const [seq, step] of steps.entries()) {
      if (status.get(seq) === 'done') continue;
      this.stopBefore(migration, step);
      await this.run(migration, phase, step, {
        started: () => this.store.markStep(migration, phase, seq, 'running'),
        done: (trx) => this.store.markStep(migration, phase, seq, 'done', trx),
        checkpoints: {
          load: () => this.store.loadCheckpoint(migration, phase, seq),
          save: (checkpoint, trx) => this.store.saveCheckpoint(migration, phase, seq, checkpoint, trx),
        },
      });
    }
  }

  /**
   * Opens the sessions the backfill and verification will run their batches
   * on while the steps before them run, rather than at the backfill's start
   * (a connection takes some 10 ms, and its first batches set the size of the
   * next). Opening fails quietly here: the backfill opens them again and
   * reports what goes wrong.
   */
  private openWorkerSessions(): void {
    const jobs = Math.floor(this.batches.jobs ?? DEFAULT_JOBS);
    if (jobs < 2 || !this.dialect.workerSessions) return;
    const sessions = this.dialect.workerSessions(jobs);
    for (let i = 0; i < jobs; i++) sessions.raw('SELECT 1').catch(() => undefined);
  }

  /**
   * Runs backfill and verify steps again outside any phase (`zmigrate
   * backfill`): progress is kept in memory, and a failed verification is
   * returned rather than thrown.
   */
  async runAgain(migration: string, steps: readonly Step[]): Promise<string | null> {
    for (const step of steps) {
      this.stopBefore(migration, step);
      let checkpoint: BackfillCheckpoint | undefined;
      try {
        await this.run(migration, 'expand', step, {
          started: async () => undefined,
          done: async () => undefined,
          checkpoints: { load: async () => checkpoint, save: async (c) => void (checkpoint = c) },
        });
      } catch (error) {
        if (error instanceof VerificationError) return error.message.replace(/^[^:]*: /, '');
        throw error;
      }
    }
    return null;
  }

  /** Throws a VerificationError naming the first rows where `verify.mismatch` holds, if any; stops between chunks where asked to. */
  private async refuseMismatches(migration: string, phase: Phase, step: Step, verify: VerifySpec): Promise<void> {
    const between = async () => {
      await this.batches.throttle?.wait();
      if (this.batches.signal?.aborted) throw new InterruptedError({ during: step.description });
    };
    const keys = await findMismatches(this.dialect, verify, between, this.batches.jobs ?? DEFAULT_JOBS);
    if (keys.length === 0) return;
    throw new VerificationError(
      migration,
      phase,
      step.sql,
      `verification failed: ${verify.what} does not hold for rows with ${verify.key === 'ctid' ? 'ctid' : 'key'} ${formatKeys(keys)}`,
    );
  }

  /** Between steps, where a run asked to stop (BatchOptions.signal) stops: each step before is recorded. */
  private stopBefore(migration: string, step: Step): void {
    if (this.batches.signal?.aborted) throw new InterruptedError({ migration, before: step.description });
  }

  /** Runs idempotent steps that are not recorded (version schema views). */
  async runUnrecorded(migration: string, phase: Phase, steps: readonly Step[]): Promise<void> {
    for (const step of steps) await this.run(migration, phase, step);
  }

  /**
   * One step, with retries. With transactional DDL the step and its `done`
   * record commit together; elsewhere it is recorded as started first.
   */
  private async run(migration: string, phase: Phase, step: Step, record?: StepRecorder): Promise<void> {
    this.logger.step(step.description);
    await this.withRetries(migration, phase, step, async () => {
      if (await this.alreadyApplied(step)) {
        await record?.done();
      } else if (step.custom) {
        const fn = this.definitions(migration)?.[step.custom];
        if (!fn) throw new MigrationError(migration, phase, undefined, `the file no longer has its ${step.custom} function`);
        await fn(this.context(migration, step.custom, this.dialect.knex));
        await record?.done();
      } else if (step.job) {
        const job = this.definitions(migration)?.backfill;
        if (!job || !record) throw new MigrationError(migration, phase, undefined, 'the file no longer has its backfill job');
        await runBackfillJob(
          this.dialect,
          job,
          step.job.key,
          record.checkpoints,
          this.logger,
          (trx) => this.context(migration, phase, trx, { inBatch: true }),
          { ...this.batches, retry: this.retry },
        );
        await record.done();
      } else if (step.verify) {
        const started = Date.now();
        await this.refuseMismatches(migration, phase, step, step.verify);
        this.logger.done?.(`verified ${step.verify.what} on every row`, (Date.now() - started) / 1000);
        await record?.done();
      } else if (step.backfill) {
        if (!record) throw new Error(`backfill step "${step.description}" must be recorded`);
        // Its batches' lock waits are tried again as a step's DDL is, inside the walk.
        try {
          await runBackfill(this.dialect, step.backfill, record.checkpoints, this.logger, { ...this.batches, retry: this.retry });
        } catch (error) {
          // A row written after the scan before the rebuild, and before the mirror: named as the scan names rows.
          if (this.dialect.classifyError(error) === 'checkViolation')
            for (const check of step.backfill.copy?.checks ?? []) await this.refuseMismatches(migration, phase, step, check);
          throw error;
        }
        await record.done();
      } else if (this.dialect.capabilities.transactionalDdl && step.transactional) {
        await this.dialect.knex.transaction(async (trx) => {
          if (step.lockTables && this.dialect.lockTables) await this.dialect.lockTables(trx, step.lockTables);
          await execute(this.dialect, trx, step.sql, step);
          await record?.done(trx);
        });
      } else {
        await record?.started();
        try {
          await execute(this.dialect, this.dialect.knex, step.sql, step);
        } catch (error) {
          await dropInvalidIndex(this.dialect, step.guard);
          throw error;
        }
        await record?.done();
      }
    });
  }

  /**
   * What custom code gets: a knex (the batch's transaction for jobs) and DDL
   * under the retry discipline. Inside a job's batch the DDL runs in the
   * batch's transaction, once: a lock wait that runs out aborts that
   * transaction, so the whole batch is tried again (retryingConflicts), not
   * the statement; and where DDL is not transactional it would commit the
   * batch (and its checkpoint) half-way, so it is refused.
   */
  private context(migration: string, phase: Phase, knex: Knex | Knex.Transaction, options: { inBatch?: boolean } = {}): CustomContext {
    const versionSchema = versionSchemaName(this.dialect, migration);
    return customContext(this.dialect, knex as Knex, { name: migration, phase, versionSchema }, this.logger, async (raw) => {
      // Written as for knex.raw (a `\?` is a question mark, as `quote` escapes one), run as written.
      const sql = asWritten(raw);
      const ddl = step(`custom DDL: ${sql.slice(0, 60)}`, sql);
      if (!options.inBatch) return this.withRetries(migration, phase, ddl, () => execute(this.dialect, knex, sql, ddl));
      if (!this.dialect.capabilities.transactionalDdl)
        throw new ValidationError(
          migration,
          `ddl() cannot run inside a backfill job's batch on ${this.dialect.displayName}: the server commits the batch's transaction, and its checkpoint, at a DDL statement`,
          { hint: "run it in the migration's expand function, which runs before the job" },
        );
      await execute(this.dialect, knex, sql, ddl);
    });
  }

  private async withRetries(migration: string, phase: Phase, step: Step, run: () => Promise<void>): Promise<void> {
    const locks = new LockRetries(this.retry, this.logger, `"${step.description}"`, this.batches.signal);
    let connectionAttempts = 0;
    for (;;) {
      try {
        await run();
        return;
      } catch (error) {
        if (error instanceof InterruptedError) throw error.in(migration);
        const classified = this.dialect.classifyError(error);
        // A bounded instant statement that ran out waited for its lock (see Dialect.boundInstant).
        const kind = classified === 'statementTimeout' && (step.instant || step.instantWhereAllowed) ? 'lockTimeout' : classified;
        // A run asked to stop meanwhile stops before the step, which did not happen, rather than wait on for its lock.
        if (kind === 'lockTimeout' && step.locks && (await locks.again(error))) {
          this.stopBefore(migration, step);
          continue;
        }
        if (kind === 'lockTimeout') {
          const holders = await this.dialect.describeLockHolders().catch(() => undefined);
          // A backfill (or a job) tried its batch, or its last DDL, again itself, as often.
          const retries = step.backfill || step.job ? this.retry.lockRetries : locks.attempts;
          throw new LockTimeoutError(
            `${migration} (${phase}): "${step.description}" did not get its lock within the lock timeout after ${retries} retries; ` +
              `blocked by ${holders ?? 'a session that has since finished'}`,
            { cause: error, hint: 'end that transaction, or rerun later: the run stopped cleanly and resumes' },
          );
        }
        if ((kind === 'connectionLost' || kind === 'unreachable') && connectionAttempts < CONNECTION_RETRIES) {
          connectionAttempts += 1;
          this.logger.warn(`connection lost during "${step.description}"; reconnecting (${connectionAttempts}/${CONNECTION_RETRIES})`);
          await sleepUnlessStopped(500 * connectionAttempts, this.batches.signal);
          await this.reacquireRunnerLock();
          continue;
        }
        if (error instanceof MigrationError) throw error;
        if (kind === 'permissionDenied') throw privilegeError(this.dialect, error, `${migration} (${phase}): ${step.description}`);
        if (error instanceof ThrottleTimeoutError)
          throw new ThrottleTimeoutError(`${migration} (${phase}): ${error.message}`, { cause: error, hint: error.hint });
        if (error instanceof ZmigrateError) throw error;
        throw new MigrationError(migration, phase, step.sql, `${step.description} failed: ${message(error)}`, {
          cause: error,
          hint: 'fix the cause and rerun; completed steps are not repeated',
        });
      }
    }
  }

  /** A new connection has lost the session lock; take it again unless another runner got it meanwhile. */
  private async reacquireRunnerLock(): Promise<void> {
    try {
      if (await this.dialect.holdsRunnerLock()) return;
      if (await this.dialect.acquireRunnerLock(0)) return;
    } catch {
      return; // still down: the retry will tell
    }
    throw new RunnerLockError(LOCK_TAKEN);
  }

  private async alreadyApplied(step: Step): Promise<boolean> {
    if (!step.guard) return false;
    return guardHolds(this.dialect, step.guard);
  }
}

async function guardHolds(dialect: Dialect, guard: StepGuard): Promise<boolean> {
  switch (guard.kind) {
    case 'tableExists':
      return dialect.tableExists(guard.table);
    case 'tableMissing':
      return !(await dialect.tableExists(guard.table));
    case 'columnExists':
      return dialect.columnExists(guard.table, guard.column);
    case 'columnMissing':
      return !(await dialect.tableExists(guard.table)) || !(await dialect.columnExists(guard.table, guard.column));
    case 'indexExists': {
      const state = await dialect.indexState(guard.table, guard.index);
      if (state === 'invalid') {
        // A concurrent build that failed or was killed leaves an invalid index: drop it and build again.
        await execute(dialect, dialect.knex, dialect.dropIndex(guard.table, guard.index).sql);
        return false;
      }
      return state === 'valid';
    }
    case 'indexMissing':
      return (await dialect.indexState(guard.table, guard.index)) === 'missing';
    case 'constraintExists':
      return dialect.constraintExists(guard.table, guard.constraint);
    case 'constraintMissing':
      return !(await dialect.tableExists(guard.table)) || !(await dialect.constraintExists(guard.table, guard.constraint));
  }
}

/**
 * A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index that
 * still enforces uniqueness on new writes: drop it at once, not only on a rerun,
 * so the apps' writes do not fail meanwhile. Best effort: a rerun drops it too.
 */
async function dropInvalidIndex(dialect: Dialect, guard: StepGuard | undefined): Promise<void> {
  if (guard?.kind !== 'indexExists') return;
  try {
    if ((await dialect.indexState(guard.table, guard.index)) === 'invalid') {
      await execute(dialect, dialect.knex, dialect.dropIndex(guard.table, guard.index).sql);
    }
  } catch {
    // the connection is gone, or the lock not granted: the guard drops it on the rerun
  }
}

/**
 * Runs the statements of a step one by one: those of an instant step bounded
 * as a whole where the dialect does so, and where the change may be instant,
 * its instant form first, so bounded (see Step.instantWhereAllowed); the
 * others of a step that takes locks with their lock wait watched where the
 * dialect does that (Dialect.watchLockWait). Step SQL
 * has no bindings, so every `?` in it (in a name, a string, the jsonb
 * operator) is escaped to reach the server as it is (see bound-sql.ts).
 */
async function execute(
  dialect: Dialect,
  knex: Knex | Knex.Transaction,
  sql: string,
  how: Partial<Pick<Step, 'instant' | 'instantWhereAllowed' | 'locks'>> = {},
): Promise<void> {
  const run = (statement: string) => knex.raw(literalMarks(statement));
  const watched = (statement: string) =>
    how.locks && dialect.watchLockWait ? dialect.watchLockWait(knex, () => run(statement)) : run(statement);
  for (const statement of dialect.splitStatements(sql)) {
    const instant = how.instantWhereAllowed ? dialect.instantForm?.(statement) : undefined;
    if (instant !== undefined && dialect.boundInstant) {
      try {
        await run(dialect.boundInstant(instant));
        continue;
      } catch (error) {
        if (dialect.classifyError(error) !== 'notInstant') throw error;
      }
    }
    await (how.instant && dialect.boundInstant ? run(dialect.boundInstant(statement)) : watched(statement));
  }
}

export function formatKeys(keys: unknown[][]): string {
  // A binary key (a Buffer, from MySQL/MariaDB) as the hexadecimal literal that finds its row.
  const shown = (value: unknown) => (Buffer.isBuffer(value) ? `0x${value.toString('hex')}` : String(value));
  return keys.map((k) => (k.length === 1 ? shown(k[0]) : `(${k.map(shown).join(', ')})`)).join(', ');
}

export function message(error: unknown): string {
  // knex prefixes the whole statement to driver errors; the statement is reported separately.
  const base = serverText(error);
  // PostgreSQL puts the useful part in the detail: `Key (email)=(a@example.com) is duplicated.`
  const detail = (error as { detail?: unknown } | null)?.detail;
  return typeof detail === 'string' && detail !== '' && !base.includes(detail) ? `${base}: ${detail}` : base;
}
