import type { Knex } from 'knex';
import type { Operation } from '../operations/operation';

/** A column as migration files describe it. `type` and `default` are SQL as the engine spells it. */
export interface ColumnSpec {
  type: string;
  /** Defaults to true, as in SQL. */
  nullable?: boolean;
  /** A SQL expression, e.g. `'0'`, `'CURRENT_TIMESTAMP'`, `"'new'"`. */
  default?: string;
  primaryKey?: boolean;
  unique?: boolean;
}

export interface CreateTableSpec {
  columns: Record<string, ColumnSpec>;
  /** A composite primary key; instead of `primaryKey: true` on columns. */
  primaryKey?: string[];
}

export interface AddColumnSpec extends ColumnSpec {
  /** SQL over the old row that fills the column for old rows and the old app's writes (dual-write; see the docs). */
  up?: string;
}

export interface AlterColumnSpec {
  type?: string;
  nullable?: boolean;
  default?: string;
  /** SQL over the old row (old names) giving the new column's value. */
  up: string;
  /** SQL over the new row (new names) giving the old column's value. */
  down: string;
}

export interface DropColumnSpec {
  /** SQL over the new row that fills the dropped column for the new app's inserts. */
  down?: string;
}

export interface SetNotNullSpec {
  /** SQL over the row that replaces NULLs. */
  up: string;
}

export interface CreateIndexSpec {
  unique?: boolean;
  name?: string;
  /** A partial index predicate (PostgreSQL). */
  where?: string;
}

export interface AddUniqueSpec {
  /** Default `<table>_<columns>_key`. */
  name?: string;
}

/** What a foreign key does to the referencing rows when the referenced row is deleted. */
export type ForeignKeyAction = 'cascade' | 'set null' | 'restrict' | 'no action';

export interface AddForeignKeySpec {
  /** The referenced table and its columns (its primary key or a unique index), as the previous version names them. */
  references: { table: string; columns: string[] };
  /** Default `<table>_<columns>_fkey`. */
  name?: string;
  /** Default: the engine's (NO ACTION). In capitals too, as SQL and knex write it (`'CASCADE'`). */
  onDelete?: ForeignKeyAction | Uppercase<ForeignKeyAction>;
}

export interface RawSqlSpec {
  expand: string;
  contract?: string;
  rollback?: string;
}

/** What a custom phase function or a backfill job's batch gets. */
export interface CustomContext {
  /**
   * zmigrate's own connection: statements run under its lock timeout. For DDL
   * that should also be retried when it times out, use `ddl`.
   */
  readonly knex: Knex;
  /** Runs one DDL statement with zmigrate's lock-timeout retries and backoff. */
  ddl(sql: string): Promise<void>;
  /** 'PostgreSQL', 'MySQL/MariaDB' or 'embedded PostgreSQL (PGlite)'. */
  readonly engine: string;
  /**
   * Quotes an identifier for a statement run by `knex.raw` or `ddl`: a `?` in
   * it comes out as `\?`, which knex reads as a question mark, not a placeholder.
   */
  quote(identifier: string): string;
  readonly migration: { readonly name: string; readonly phase: 'expand' | 'contract' | 'rollback'; readonly versionSchema: string };
  readonly log: (message: string) => void;
}

/** A custom phase: must be safe to run again (a crash before its end is recorded reruns it). */
export type CustomPhase = (ctx: CustomContext) => Promise<void>;

export interface BackfillJobSpec {
  /** Called with each batch of rows, inside the batch's transaction (ctx.knex); writes what it computes. */
  batch: (rows: Array<Record<string, unknown>>, ctx: CustomContext) => Promise<void>;
  /** Only rows matching this SQL condition (e.g. `email_domain IS NULL`). */
  where?: string;
  /** Columns to read (default: all). */
  columns?: string[];
  /** Rows per batch (default: adapts to the batch time target). */
  batchSize?: number;
  /** Also visit rows inserted after the job started (default false: the triggers or the new app fill those). */
  includeNewRows?: boolean;
}

export interface BackfillJob extends BackfillJobSpec {
  readonly kind: 'backfillJob';
  readonly table: string;
}

export interface MigrationDefinition {
  description?: string;
  operations?: Operation[];
  /** Additive steps of your own, after the operations' expand. */
  expand?: CustomPhase;
  /** Destructive steps of your own, before the operations' contract. */
  contract?: CustomPhase;
  /** Undoes `expand`; runs before the operations' rollback. */
  rollback?: CustomPhase;
  /** A batched, resumable job over a table, written in TypeScript. */
  backfill?: BackfillJob;
}

/** What a migration file's default export is. */
export interface Migration extends MigrationDefinition {
  readonly operations: Operation[];
}
