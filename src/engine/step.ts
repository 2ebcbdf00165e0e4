import type { BackfillSpec, VerifySpec } from './dual-write';

/**
 * A step is one SQL statement of a phase. Steps are planned when a migration
 * starts to expand and stored in zmigrate's state, so a run that is killed
 * half-way resumes with exactly the statements that were still to run.
 */

/**
 * What a step leaves behind, checked when a step was started but its
 * completion was never recorded (a crash on an engine without transactional
 * DDL): if the effect is already there, the step is not run again.
 */
export type StepGuard =
  | { kind: 'tableExists'; table: string }
  | { kind: 'tableMissing'; table: string }
  | { kind: 'columnExists'; table: string; column: string }
  | { kind: 'columnMissing'; table: string; column: string }
  | { kind: 'indexExists'; table: string; index: string }
  | { kind: 'indexMissing'; table: string; index: string }
  | { kind: 'constraintExists'; table: string; constraint: string }
  | { kind: 'constraintMissing'; table: string; constraint: string };

export interface Step {
  /** One line for humans: `create table orders`. */
  description: string;
  sql: string;
  /** False for statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  /** Takes locks on application tables: run under the lock timeout with retries. */
  locks: boolean;
  /**
   * Changes the catalog alone, whatever the table's size (a trigger, a table
   * rename), so the lock timeout may bound its whole run: on MariaDB, whose
   * `lock_wait_timeout` has whole seconds, that keeps its lock wait to the
   * millisecond.
   */
  instant?: boolean;
  /**
   * Changes the catalog alone where the table allows it (on MariaDB, adding,
   * dropping or renaming a column is instant on most tables and a rebuild on
   * some): each statement the dialect has an instant form of is tried in that
   * form first, which the server refuses unless it can be instant, bounded as
   * an `instant` step's are; where refused, it runs as written.
   */
  instantWhereAllowed?: boolean;
  guard?: StepGuard;
  /**
   * The raw SQL operation (its index in the migration) whose expand this
   * step runs: a rollback undoes that SQL only if one of its steps started.
   */
  rawSqlOf?: number;
  /**
   * Tables the step's transaction first locks all at once, its whole wait
   * bounded by the lock timeout (Dialect.lockTables): contract's and
   * rollback's swap, which changes several tables in one transaction.
   */
  lockTables?: string[];
  /** Can run before the structural change it prepares, without blocking writes (VALIDATE CONSTRAINT). */
  prepares?: boolean;
  /** Views that name the changed column stop working until they are recreated (MySQL stores view columns by name). */
  breaksViews?: boolean;
  /**
   * The step's last statement swaps in, atomically, the object the views are
   * to read under a name that already stands for a stand-in with the same
   * columns: the views are recreated on that name before it, so none is
   * left invalid between the statements (MySQL renaming a table).
   */
  swapsViews?: boolean;
  /** A batched, resumable backfill instead of one statement (`sql` then only describes it). */
  backfill?: BackfillSpec;
  /** The migration's own TypeScript phase function runs here (`sql` shows what it ran in a dry run, if known). */
  custom?: 'expand' | 'contract' | 'rollback';
  /** The migration's TypeScript backfill job runs here, walking this primary key. */
  job?: { key: string[] };
  /** A chunked check of the backfilled rows instead of one statement. */
  verify?: VerifySpec;
}

export function step(description: string, sql: string, options: Partial<Omit<Step, 'description' | 'sql'>> = {}): Step {
  return { description, sql, transactional: true, locks: true, ...options };
}
