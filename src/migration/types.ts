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

export interface RawSqlSpec {
  expand: string;
  contract?: string;
  rollback?: string;
}

export interface MigrationDefinition {
  description?: string;
  operations?: Operation[];
}

/** What a migration file's default export is. */
export interface Migration extends MigrationDefinition {
  readonly operations: Operation[];
}
