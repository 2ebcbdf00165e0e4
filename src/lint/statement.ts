/**
 * What a SQL statement does, as the lint rules see it. The PostgreSQL parser,
 * the MySQL parser and the fallback tokenizer all produce these same shapes,
 * so a rule is written once against facts, never against a parser's tree.
 */

export type LintEngine = 'postgres' | 'mysql';
export type LintPhase = 'expand' | 'contract' | 'rollback';
export const LINT_PHASES: readonly LintPhase[] = ['expand', 'contract', 'rollback'];

/** A session setting's new value: milliseconds (0 = wait forever), or the server default (RESET, DEFAULT). */
export type SettingValue = { ms: number } | 'default';

export type ConstraintKind = 'foreign' | 'check' | 'unique' | 'primary' | 'exclude';

/**
 * Names are case-folded as the engine folds them. A table is named as
 * written: `schema.table` (`db.table`) when qualified, else `table`.
 */
export type Fact =
  /** ifNotExists: CREATE TABLE IF NOT EXISTS, which may find the table there already (then it is not new). */
  | { kind: 'createTable'; table: string; ifNotExists?: boolean }
  | { kind: 'dropTable'; table: string }
  | { kind: 'renameTable'; table: string; to: string }
  | {
      kind: 'createIndex';
      table: string;
      concurrently: boolean;
      fulltext?: boolean;
      /** PostgreSQL: ON ONLY, an index on a partitioned table's parent alone (metadata, no build). */
      only?: boolean;
      /** PostgreSQL: the index's name and, when each key is a plain column, their names. */
      name?: string;
      columns?: string[];
    }
  | { kind: 'dropIndex'; table?: string; concurrently: boolean }
  | {
      kind: 'addColumn';
      table: string;
      column: string;
      notNull: boolean;
      /** A DEFAULT, or a value the engine generates (identity, serial, AUTO_INCREMENT, generated column). */
      hasDefault: boolean;
      /** What gives each existing row its own value, forcing a rewrite: `random()`, `serial`, … */
      perRowValue?: string;
    }
  | { kind: 'dropColumn'; table: string; column: string }
  | { kind: 'renameColumn'; table: string; from: string; to: string }
  | { kind: 'changeType'; table: string; column: string }
  /** `via`: what else runs SET NOT NULL (ADD PRIMARY KEY USING INDEX on a column that may hold NULLs). */
  | { kind: 'setNotNull'; table: string; column: string; via?: string }
  | {
      kind: 'addConstraint';
      table: string;
      constraint: ConstraintKind;
      name?: string;
      notValid: boolean;
      /** UNIQUE / PRIMARY KEY … USING INDEX: attaches an index built beforehand. */
      usingIndex: boolean;
      /** The index it attaches, by name. */
      index?: string;
      /** CHECK (column IS NOT NULL): the column it proves non-null once validated. */
      notNullColumn?: string;
    }
  | { kind: 'validateConstraint'; table: string; name: string }
  /**
   * PostgreSQL: rewrites or rebuilds a table, an index or a materialized view
   * while a lock blocks writes (REINDEX, VACUUM FULL, CLUSTER, REFRESH
   * MATERIALIZED VIEW, SET TABLESPACE / LOGGED / UNLOGGED). `table` where it
   * names one; `what` names the statement.
   */
  | { kind: 'rebuild'; table?: string; what: string }
  /**
   * PostgreSQL: LOCK TABLE, with its mode in upper case (`ACCESS EXCLUSIVE`
   * where none is given). MySQL/MariaDB: LOCK TABLES (READ or WRITE) and
   * FLUSH TABLES … WITH READ LOCK (READ; table `*` for every table).
   */
  | { kind: 'lockTable'; table: string; mode: string }
  | { kind: 'truncate'; table: string }
  /** MySQL: a clause the server can never run without blocking writes. */
  | { kind: 'offline'; table: string; what: string }
  /** MySQL: a change of metadata only (defaults, index names, comments), instant on every version. */
  | { kind: 'metadata'; table: string }
  | { kind: 'alterOther'; table: string; what: string }
  /**
   * SET / RESET of a setting; `name` is lower case, `*` for RESET ALL / DISCARD ALL.
   * `raw` is the value as written (upper case); `value` its reading as a timeout.
   * Scope `statement`: MariaDB's SET STATEMENT … FOR, for that statement alone.
   */
  | { kind: 'setting'; name: string; raw: string; value?: SettingValue; scope: 'session' | 'global' | 'statement' }
  /** BEGIN, COMMIT, …; savepoints: SAVEPOINT, RELEASE, ROLLBACK_TO. */
  | { kind: 'transaction'; verb: string }
  /** Another schema change: CREATE FUNCTION, CREATE VIEW, COMMENT ON, … */
  | { kind: 'ddl'; what: string }
  | { kind: 'dml' };

export type ParserName = 'libpg-query' | 'node-sql-parser' | 'tokens';

export interface AnalyzedStatement {
  /** The statement as written, leading comments included. */
  readonly sql: string;
  readonly facts: Fact[];
  /** MySQL ALTER TABLE / CREATE INDEX: the table, and the ALGORITHM= and LOCK= clauses (upper case). */
  readonly alter?: { table: string; algorithm?: string; lock?: string };
  readonly parser: ParserName;
  /** The PostgreSQL parser rejected the statement (the facts then come from the tokenizer). */
  readonly syntaxError?: string;
}

/** The table a fact is about, if any. */
export function factTable(fact: Fact): string | undefined {
  return 'table' in fact ? fact.table : undefined;
}
