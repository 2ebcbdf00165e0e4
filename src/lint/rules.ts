import type { AnalyzedStatement, Fact, LintEngine, LintPhase } from './statement';
import { LOCK_TIMEOUT_SETTINGS } from './values';
import { REBUILD_TABLE } from '../engine/dual-write';

/**
 * The lint rules, as data (squawk's shape): an id to silence it by, a
 * one-line message, why it is unsafe and what to do instead, the engines and
 * the phases where it applies. Expand runs while the old app is live, so
 * anything that breaks the old app's reads and writes is unsafe there and
 * fine in contract; anything that blocks writes is unsafe in every phase.
 * docs/lint.md explains each rule to users.
 */
export interface LintRule {
  readonly id: string;
  readonly message: string;
  readonly why: string;
  readonly instead: string;
  readonly engines: readonly LintEngine[];
  readonly phases: readonly LintPhase[];
  /**
   * table: about a change to a table that is in use; not checked on a table
   * created earlier in the same phase (nothing uses it yet).
   * session: about the connection zmigrate runs on.
   * operation: about how an operation is used; no single statement.
   */
  readonly scope: 'table' | 'session' | 'operation';
  /** Statement rules: a short detail (what and where) when the statement breaks the rule. */
  readonly check?: (statement: AnalyzedStatement, ctx: RuleContext) => string | undefined;
  /** Operation rules: the detail when the operation is misused. */
  readonly checkOperation?: (operation: OperationFacts) => string | undefined;
}

export interface RuleContext {
  readonly engine: LintEngine;
  readonly phase: LintPhase;
  /** The lock timeout zmigrate runs with (ms). */
  readonly lockTimeoutMs: number;
  /** A validated CHECK (column IS NOT NULL) exists, so SET NOT NULL needs no scan. */
  hasValidatedNotNullCheck(table: string, column: string): boolean;
  /** The constraint was added NOT VALID earlier in the transaction this statement runs in. */
  addedNotValidInTransaction(table: string, name: string): boolean;
}

/** What the linter knows of one operation of a migration. */
export interface OperationFacts {
  readonly kind: string;
  /** op.sql: the statements of each phase's SQL; a phase the operation does not give is absent. */
  readonly sql?: Partial<Record<LintPhase, AnalyzedStatement[]>>;
}

const ALL_PHASES: readonly LintPhase[] = ['expand', 'contract', 'rollback'];
const BOTH: readonly LintEngine[] = ['postgres', 'mysql'];

function first<K extends Fact['kind']>(
  statement: AnalyzedStatement,
  kind: K,
  test: (fact: Extract<Fact, { kind: K }>) => boolean = () => true,
): Extract<Fact, { kind: K }> | undefined {
  return statement.facts.find((f): f is Extract<Fact, { kind: K }> => f.kind === kind && test(f as Extract<Fact, { kind: K }>));
}

/** MySQL: clauses the server can never run while writes go on. */
function offlineClause(statement: AnalyzedStatement): string | undefined {
  for (const f of statement.facts) {
    if (f.kind === 'offline') return `${f.what} on ${f.table}`;
    // notValid: added with foreign_key_checks=0, which MySQL/MariaDB do in place.
    if (f.kind === 'addConstraint' && f.constraint === 'foreign' && !f.notValid)
      return `ADD FOREIGN KEY on ${f.table} (in place only with foreign_key_checks=0)`;
    if (f.kind === 'addConstraint' && f.constraint === 'check') return `ADD CHECK on ${f.table}`;
    if (f.kind === 'createIndex' && f.fulltext) return `FULLTEXT/SPATIAL index on ${f.table}`;
  }
  return undefined;
}

/**
 * MySQL clauses that cannot fall back to a copy: metadata changes (instant
 * whatever the options) and secondary index builds (always in place;
 * FULLTEXT/SPATIAL are mysql-alter-not-online's).
 */
const NEVER_COPIED: ReadonlySet<Fact['kind']> = new Set([
  'metadata',
  'renameTable',
  'renameColumn',
  'dropIndex',
  'createIndex',
  'setting',
  'transaction',
  'dml',
]);

const SCHEMA_CHANGES: ReadonlySet<Fact['kind']> = new Set([
  'createTable',
  'dropTable',
  'renameTable',
  'createIndex',
  'dropIndex',
  'addColumn',
  'dropColumn',
  'renameColumn',
  'changeType',
  'setNotNull',
  'addConstraint',
  'offline',
  'metadata',
  'alterOther',
  'ddl',
]);

const SAVEPOINT_VERBS: ReadonlySet<string> = new Set(['SAVEPOINT', 'RELEASE', 'ROLLBACK_TO']);

/** PostgreSQL LOCK TABLE modes that conflict with ROW EXCLUSIVE, which INSERT, UPDATE and DELETE take. */
const BLOCKING_LOCK_MODES: ReadonlySet<string> = new Set(['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE']);

export const RULES: readonly LintRule[] = [
  {
    id: 'create-index-without-concurrently',
    message: 'CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds',
    why: 'A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits, for minutes on a large table.',
    instead:
      'CREATE INDEX CONCURRENTLY (zmigrate runs it outside a transaction), or op.createIndex(), which does that for you. PostgreSQL refuses CONCURRENTLY on a partitioned table: there, CREATE INDEX … ON ONLY the parent (no build, not flagged), CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX parent_index ATTACH PARTITION partition_index for each.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      // ON ONLY: on a partitioned table's parent, an index of metadata only, completed by attaching the partitions' indexes.
      const f = first(s, 'createIndex', (x) => !x.concurrently && !x.only);
      return f && `on ${f.table}`;
    },
  },
  {
    id: 'drop-index-without-concurrently',
    message: 'DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table',
    why: 'A plain DROP INDEX locks the table against reads and writes, and waits behind every running query on it while every new query queues behind it.',
    instead: 'DROP INDEX CONCURRENTLY (zmigrate runs it outside a transaction).',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => (first(s, 'dropIndex', (x) => !x.concurrently) ? 'DROP INDEX' : undefined),
  },
  {
    id: 'add-column-not-null-without-default',
    message: 'ADD COLUMN … NOT NULL without a default',
    why: "PostgreSQL refuses it on a table that has rows. MySQL/MariaDB fill existing rows with the type's zero value, and every INSERT that does not name the column (all of the old app's) fails in strict mode.",
    instead:
      "Add the column nullable or with a DEFAULT, or use op.addColumn() with `up`: it fills old rows and the old app's writes, and makes the column NOT NULL at contract.",
    engines: BOTH,
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const f = first(s, 'addColumn', (x) => x.notNull && !x.hasDefault);
      return f && `${f.table}.${f.column}`;
    },
  },
  {
    id: 'add-column-volatile-default',
    message: 'ADD COLUMN with a value computed per row rewrites the table under a lock',
    why: 'A constant default is stored once and is instant. A volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval() / serial, uuid(), rand() …), an identity or AUTO_INCREMENT column, or a stored generated column must be computed and written into every existing row: PostgreSQL rewrites the table under an ACCESS EXCLUSIVE lock, MySQL/MariaDB copy it while blocking writes.',
    instead:
      'Add the column nullable without a default, fill it in batches (op.addColumn with `up`, or a backfill), then set the default for new rows (ALTER COLUMN … SET DEFAULT only changes metadata).',
    engines: BOTH,
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const f = first(s, 'addColumn', (x) => x.perRowValue !== undefined);
      return f && `${f.table}.${f.column}: ${f.perRowValue}`;
    },
  },
  {
    id: 'changing-column-type',
    message: 'changing a column type during expand breaks the old app',
    why: 'The old app still reads and writes the column with its old type while expand runs; values it writes may no longer fit, and it may fail to read the new ones. PostgreSQL also rewrites the table under an ACCESS EXCLUSIVE lock, and MySQL/MariaDB copy it, for most type changes. (On MySQL/MariaDB, MODIFY and CHANGE restate the whole column, so the linter takes them as a type change.)',
    instead:
      'op.alterColumn(table, column, { type, up, down }): a new column beside the old one, kept in sync by triggers and backfilled, swapped in at contract.',
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'changeType');
      return f && `${f.table}.${f.column}`;
    },
  },
  {
    id: 'column-type-change-rewrites-table',
    message: 'ALTER COLUMN … TYPE rewrites the table under an ACCESS EXCLUSIVE lock',
    why: 'Unless the new type is binary-compatible (varchar(n) to a longer varchar or to text), PostgreSQL rewrites the table and rebuilds its indexes while no query can read or write it. The new app is live during contract.',
    instead: 'op.alterColumn(), which builds the new column online during expand; at contract only a rename is left.',
    engines: ['postgres'],
    phases: ['contract', 'rollback'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'changeType');
      return f && `${f.table}.${f.column}`;
    },
  },
  {
    id: 'rename-table-in-expand',
    message: 'renaming a table during expand breaks the old app',
    why: 'The old app keeps using the old name until contract; every query it sends fails as soon as the table is renamed.',
    instead:
      'op.renameTable(), which shows the new name to the new app only and renames for real at contract; or do the RENAME in the contract SQL of op.sql.',
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'renameTable');
      return f && `${f.table} to ${f.to}`;
    },
  },
  {
    id: 'rename-column-in-expand',
    message: 'renaming a column during expand breaks the old app',
    why: 'The old app reads and writes the column by its old name until contract; its queries fail as soon as the column is renamed.',
    instead:
      'op.renameColumn(), which serves the new name to the new app through its version schema and renames at contract; or do the RENAME in the contract SQL of op.sql.',
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'renameColumn');
      return f && `${f.table}.${f.from} to ${f.to}`;
    },
  },
  {
    id: 'drop-table-in-expand',
    message: 'dropping a table during expand breaks the old app',
    why: 'The old app may still read and write the table until contract, and rollback could not bring it back.',
    instead:
      'op.dropTable(), which hides the table from the new version and drops it at contract; or do the DROP in the contract SQL of op.sql.',
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'dropTable', (d) => !REBUILD_TABLE.test(d.table.slice(d.table.lastIndexOf('.') + 1)));
      return f && f.table;
    },
  },
  {
    id: 'drop-column-in-expand',
    message: 'dropping a column during expand breaks the old app',
    why: 'The old app still selects and inserts the column until contract; its queries fail once it is gone, and rollback could not bring the data back.',
    instead:
      "op.dropColumn(), which hides the column from the new version, fills it for the new app's inserts (`down`) and drops it at contract; or do the DROP in the contract SQL of op.sql.",
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'dropColumn');
      return f && `${f.table}.${f.column}`;
    },
  },
  {
    id: 'add-foreign-key-without-not-valid',
    message: 'FOREIGN KEY without NOT VALID checks every row while writes are blocked',
    why: 'Adding a foreign key scans the whole table to check existing rows, holding a SHARE ROW EXCLUSIVE lock on it and on the referenced table: writes to both wait for the scan. ADD COLUMN … REFERENCES is worse: the scan runs under the ACCESS EXCLUSIVE lock ADD COLUMN takes, so no query can read or write the table meanwhile.',
    instead:
      'ADD CONSTRAINT … FOREIGN KEY … NOT VALID (instant; new writes are checked), then ALTER TABLE … VALIDATE CONSTRAINT in contract or in a separate op.sql operation: validation in a transaction of its own does not block writes. NOT VALID cannot go on a column constraint: for a new column, ADD COLUMN without REFERENCES, then ADD CONSTRAINT … FOREIGN KEY (column) REFERENCES … NOT VALID.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const f = first(s, 'addConstraint', (x) => x.constraint === 'foreign' && !x.notValid);
      return f && `${f.table}${f.name ? ` ${f.name}` : ''}`;
    },
  },
  {
    id: 'add-check-without-not-valid',
    message: 'CHECK constraint without NOT VALID scans the table under an ACCESS EXCLUSIVE lock',
    why: 'Adding a CHECK constraint checks every existing row while holding an ACCESS EXCLUSIVE lock: no query can read or write the table until the scan ends.',
    instead:
      'ADD CONSTRAINT … CHECK (…) NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in contract or in a separate op.sql operation: validation in a transaction of its own scans without blocking writes.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const f = first(s, 'addConstraint', (x) => x.constraint === 'check' && !x.notValid);
      return f && `${f.table}${f.name ? ` ${f.name}` : ''}`;
    },
  },
  {
    id: 'validate-constraint-in-same-transaction',
    message: 'VALIDATE CONSTRAINT runs in the transaction that added the constraint NOT VALID, under its lock',
    why: 'zmigrate runs the statements of one op.sql phase in one transaction (but for those that cannot run in one, such as CREATE INDEX CONCURRENTLY, which run alone). The lock ADD CONSTRAINT took is held until that transaction commits (SHARE ROW EXCLUSIVE on both tables for a foreign key, ACCESS EXCLUSIVE for a CHECK), so the scan of every row runs while writes wait (for a CHECK, reads too): NOT VALID then saves nothing.',
    instead:
      'VALIDATE CONSTRAINT in contract, or in a separate op.sql operation: it then runs in a transaction of its own and scans without blocking writes.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s, ctx) => {
      const addedHere = (table: string, name: string) =>
        s.facts.some((a) => a.kind === 'addConstraint' && a.notValid && a.table === table && a.name === name);
      const f = first(s, 'validateConstraint', (x) => ctx.addedNotValidInTransaction(x.table, x.name) || addedHere(x.table, x.name));
      return f && `${f.table} ${f.name}`;
    },
  },
  {
    id: 'add-unique-constraint-without-index',
    message: 'UNIQUE / PRIMARY KEY constraint builds its index while the table is locked',
    why: 'ADD CONSTRAINT … UNIQUE or PRIMARY KEY builds a new index under an ACCESS EXCLUSIVE lock: no query can read or write the table for the whole build.',
    instead:
      'CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX, which is instant. PRIMARY KEY USING INDEX is instant only over columns already NOT NULL: on a column that may hold NULLs PostgreSQL runs SET NOT NULL, a scan under ACCESS EXCLUSIVE unless a validated CHECK (column IS NOT NULL) proves it (see set-not-null-without-validated-check).',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const f = first(s, 'addConstraint', (x) => (x.constraint === 'unique' || x.constraint === 'primary') && !x.usingIndex);
      return f && `${f.constraint === 'primary' ? 'PRIMARY KEY' : 'UNIQUE'} on ${f.table}`;
    },
  },
  {
    id: 'rebuild-blocks-table',
    message: 'this statement rebuilds a table, index or materialized view while queries on it wait',
    why: 'VACUUM FULL, CLUSTER and ALTER TABLE … SET TABLESPACE / SET LOGGED / SET UNLOGGED rewrite the whole table under an ACCESS EXCLUSIVE lock: no query can read or write it until the copy ends. REINDEX without CONCURRENTLY blocks writes to the table for the whole build, and virtually every read too: it holds an ACCESS EXCLUSIVE lock on the index, which the planner must lock to plan any query on the table, whether or not the query uses it. REFRESH MATERIALIZED VIEW without CONCURRENTLY locks the view against reads while its query reruns. ADD CONSTRAINT … EXCLUDE builds its index under an ACCESS EXCLUSIVE lock.',
    instead:
      'REINDEX … CONCURRENTLY (PostgreSQL 12+); REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index); pg_repack or pg_squeeze instead of VACUUM FULL and CLUSTER. SET TABLESPACE / LOGGED / UNLOGGED and exclusion constraints have no online form: do them on a table no app uses yet (created earlier in the same phase), or in a maintenance window, silencing the rule.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const rebuild = first(s, 'rebuild');
      if (rebuild) return rebuild.table ? `${rebuild.what} on ${rebuild.table}` : rebuild.what;
      const exclude = first(s, 'addConstraint', (x) => x.constraint === 'exclude');
      return exclude && `ADD CONSTRAINT … EXCLUDE on ${exclude.table}`;
    },
  },
  {
    id: 'lock-table',
    message: 'LOCK TABLE blocks writes to the table while the lock is held',
    why: 'PostgreSQL: LOCK TABLE in SHARE mode or stronger (ACCESS EXCLUSIVE when no mode is given) blocks every INSERT, UPDATE and DELETE on the table (ACCESS EXCLUSIVE every read too) until the transaction commits: zmigrate runs the statements of one op.sql phase in one transaction, so the lock lasts through every statement after it. While it waits for the lock, every new query on the table queues behind it. MySQL/MariaDB: LOCK TABLES … READ, and FLUSH TABLES … WITH READ LOCK (every table when none is named), block every write to the table, LOCK TABLES … WRITE every read too; they hold until UNLOCK TABLES or the end of the session, whichever transaction is running.',
    instead:
      'Leave locking to the statements that need it: zmigrate runs each under a short lock timeout, with retries. If you need a lock on PostgreSQL, take one that lets writes through (ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE or weaker); on MySQL/MariaDB, an ALTER with LOCK=NONE, or a transaction with SELECT … FOR UPDATE on the rows you change.',
    engines: BOTH,
    phases: ALL_PHASES,
    scope: 'table',
    check: (s, ctx) => {
      const f = first(s, 'lockTable', (x) => ctx.engine === 'mysql' || BLOCKING_LOCK_MODES.has(x.mode));
      if (!f) return undefined;
      if (ctx.engine === 'postgres') return `IN ${f.mode} MODE on ${f.table}`;
      return f.table === '*' ? `${f.mode} on every table` : `${f.mode} on ${f.table}`;
    },
  },
  {
    id: 'truncate-in-expand',
    message: 'TRUNCATE during expand deletes the rows the old app still uses',
    why: 'The old app reads and writes the table until contract; TRUNCATE deletes every row at once, and zmigrate rollback cannot bring them back. On PostgreSQL it also takes an ACCESS EXCLUSIVE lock on the table.',
    instead:
      'Empty the table in contract, once only the new app runs (or DELETE the rows the new version no longer needs, in batches). A table created earlier in the same phase is not flagged.',
    engines: BOTH,
    phases: ['expand'],
    scope: 'table',
    check: (s) => first(s, 'truncate')?.table,
  },
  {
    id: 'set-not-null-in-expand',
    message: 'SET NOT NULL during expand breaks the old app',
    why: 'The old app may still write NULLs into the column until contract; those writes fail. The statement also scans the whole table under an ACCESS EXCLUSIVE lock unless a validated CHECK (column IS NOT NULL) exists. ADD CONSTRAINT … PRIMARY KEY USING INDEX runs SET NOT NULL on each of its columns not yet NOT NULL.',
    instead:
      'op.setNotNull(table, column, { up }): it fills NULLs, adds a NOT VALID check during expand, and sets NOT NULL at contract without a scan.',
    engines: ['postgres'],
    phases: ['expand'],
    scope: 'table',
    check: (s) => {
      const f = first(s, 'setNotNull');
      return f && notNullDetail(f);
    },
  },
  {
    id: 'set-not-null-without-validated-check',
    message: 'SET NOT NULL without a validated CHECK (column IS NOT NULL) scans the table under an ACCESS EXCLUSIVE lock',
    why: 'PostgreSQL checks every row for NULLs while no query can read or write the table, unless a validated CHECK (column IS NOT NULL) constraint already proves there are none (PostgreSQL 12 and later). ADD CONSTRAINT … PRIMARY KEY USING INDEX runs SET NOT NULL on each of its columns not yet NOT NULL.',
    instead:
      'During expand: ADD CONSTRAINT c CHECK (column IS NOT NULL) NOT VALID; then VALIDATE CONSTRAINT c, SET NOT NULL and DROP CONSTRAINT c (op.setNotNull() does all of this).',
    engines: ['postgres'],
    phases: ['contract', 'rollback'],
    scope: 'table',
    check: (s, ctx) => {
      const f = first(s, 'setNotNull', (x) => !ctx.hasValidatedNotNullCheck(x.table, x.column));
      return f && notNullDetail(f);
    },
  },
  {
    id: 'lock-timeout-override',
    message: 'raw SQL turns off or raises the lock timeout zmigrate runs with',
    why: "zmigrate sets lock_timeout (PostgreSQL) or lock_wait_timeout (MySQL/MariaDB) on its connection, so a DDL statement that cannot get its lock gives up quickly and is retried, instead of queueing every application query behind it. The setting lasts for the session: raising it, setting it to 0 on PostgreSQL (no limit) or resetting it to the server's default (no limit on PostgreSQL; for lock_wait_timeout a year on MySQL and a day on MariaDB, for innodb_lock_wait_timeout 50 s) removes that protection for this statement and every one zmigrate runs after it. (On MySQL/MariaDB 0 is not flagged: MySQL reads it as 1 s, MariaDB as no wait at all.)",
    instead: 'Leave the lock timeout to zmigrate (--lock-timeout, or lockTimeout in the config file). To wait less, SET a smaller value.',
    engines: BOTH,
    phases: ALL_PHASES,
    scope: 'session',
    check: (s, ctx) => {
      const names = LOCK_TIMEOUT_SETTINGS[ctx.engine];
      // MySQL/MariaDB count whole seconds: zmigrate rounds its timeout up.
      const limit = ctx.engine === 'mysql' ? Math.max(1, Math.ceil(ctx.lockTimeoutMs / 1000)) * 1000 : ctx.lockTimeoutMs;
      for (const f of s.facts) {
        if (f.kind !== 'setting' || f.value === undefined || (f.name !== '*' && !names.includes(f.name))) continue;
        const name = f.name === '*' ? names[0] : f.name;
        const scope = f.scope === 'global' ? ' for every new session' : f.scope === 'statement' ? ' for this statement' : '';
        if (f.value === 'default') return `${name} reset to the server default${scope}`;
        // MySQL clamps 0 to 1 s, and MariaDB (10.3+) takes it as NOWAIT: neither waits longer than zmigrate's.
        if (f.value.ms === 0) return ctx.engine === 'postgres' ? `${name} = 0 waits forever${scope}` : undefined;
        if (f.value.ms > limit) return `${name} = ${duration(f.value.ms)}, above zmigrate's ${duration(limit)}${scope}`;
      }
      return undefined;
    },
  },
  {
    id: 'transaction-control',
    message: 'transaction control statement in migration SQL',
    why: "zmigrate runs each group of statements in its own transaction and records each step as done in it, so a run killed half-way resumes where it stopped. A BEGIN, COMMIT, ROLLBACK (END, ABORT) or PREPARE TRANSACTION in the SQL ends zmigrate's transaction early: steps may be recorded done that were rolled back, or run twice after a crash. (SAVEPOINT, RELEASE and ROLLBACK TO a savepoint stay inside it and are not flagged.)",
    instead:
      'Leave transactions to zmigrate. Statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY) are run outside one automatically.',
    engines: BOTH,
    phases: ALL_PHASES,
    scope: 'session',
    // Savepoints work inside zmigrate's transaction and end nothing.
    check: (s) => first(s, 'transaction', (x) => !SAVEPOINT_VERBS.has(x.verb))?.verb,
  },
  {
    id: 'mysql-algorithm-copy',
    message: 'ALGORITHM=COPY copies the table while writes are blocked',
    why: 'With ALGORITHM=COPY the server builds a new copy of the table row by row and only allows reads meanwhile: every write waits for the whole copy.',
    instead:
      'Leave ALGORITHM out (or ask for INSTANT / INPLACE) and add LOCK=NONE, so the server refuses a change it cannot make online; for changes that need a copy use an online schema change tool (gh-ost, pt-online-schema-change) or op.alterColumn().',
    engines: ['mysql'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => (s.alter?.algorithm === 'COPY' ? `on ${s.alter.table}` : undefined),
  },
  {
    id: 'mysql-lock-shared-or-exclusive',
    message: 'LOCK=SHARED / LOCK=EXCLUSIVE blocks writes for the whole ALTER',
    why: 'LOCK=SHARED allows only reads while the table is altered; LOCK=EXCLUSIVE allows nothing. On a large table that is minutes of failed or queued writes.',
    instead: 'LOCK=NONE: the server then runs the change online or refuses it at once. If it refuses, see mysql-alter-not-online.',
    engines: ['mysql'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => (s.alter?.lock === 'SHARED' || s.alter?.lock === 'EXCLUSIVE' ? `LOCK=${s.alter.lock} on ${s.alter.table}` : undefined),
  },
  {
    id: 'mysql-alter-not-online',
    message: 'this ALTER cannot run online on MySQL/MariaDB: it blocks writes while the table is copied or scanned',
    why: 'Some changes are never done in place with concurrent writes: adding a FOREIGN KEY (unless foreign_key_checks=OFF), adding a CHECK constraint, a FULLTEXT or SPATIAL index, CONVERT TO CHARACTER SET, dropping the primary key without adding one, ORDER BY and partitioning changes. The server copies or scans the table while writes wait (with LOCK=NONE it refuses instead).',
    instead:
      'Use an online schema change tool (gh-ost, pt-online-schema-change), or reach the same end with operations that run online: a new column filled by a backfill (op.alterColumn, op.addColumn with up) instead of a rewrite; a foreign key added with foreign_key_checks=OFF and checked by a query; on MariaDB a CHECK added by op.addCheck (its rows checked by a query, then the table rebuilt online).',
    engines: ['mysql'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => offlineClause(s),
  },
  {
    id: 'mysql-alter-without-lock-none',
    message: 'ALTER TABLE without LOCK=NONE may fall back to blocking writes',
    why: 'Without a LOCK clause MySQL/MariaDB pick the best algorithm they can: if the change cannot be made in place (a type change, an older server, a table format without instant ADD COLUMN) they silently copy the table and block writes meanwhile. (Changes of metadata only and plain index builds never fall back, and are not flagged; nor is an ALTER with ALGORITHM=INSTANT, INPLACE or NOCOPY, which the server refuses rather than copy.)',
    instead:
      'Say how the ALTER may run, so the server runs it so or fails at once, before anything is locked: `, ALGORITHM=INSTANT` where the change allows it (ADD COLUMN on MySQL 8.0+ and MariaDB 10.3+; DROP COLUMN on MySQL 8.0.29+ and MariaDB 10.4+), else `, LOCK=NONE`. Not LOCK=NONE for an instant change on MySQL: it makes MySQL choose INPLACE, a rebuild of the table, over INSTANT (MariaDB keeps it instant). zmigrate adds LOCK=NONE to the ALTERs it generates, and on MariaDB tries ALGORITHM=INSTANT first.',
    engines: ['mysql'],
    phases: ALL_PHASES,
    scope: 'table',
    check: (s) => {
      const a = s.alter;
      // An ALGORITHM other than COPY cannot fall back to a copy: the server refuses what it cannot do that way.
      const algorithm = a?.algorithm !== undefined && a.algorithm !== 'DEFAULT';
      if (!a || a.lock === 'NONE' || algorithm || a.lock === 'SHARED' || a.lock === 'EXCLUSIVE') return undefined;
      if (offlineClause(s)) return undefined; // mysql-alter-not-online says more
      const f = s.facts.find((x) => !NEVER_COPIED.has(x.kind));
      return f ? `on ${a.table}` : undefined;
    },
  },
  {
    id: 'syntax-error',
    message: "PostgreSQL's parser rejects this statement",
    why: 'The statement would fail when the migration runs.',
    instead:
      'Fix the SQL. If it is valid for your server but newer than the parser zmigrate lints with (PostgreSQL 18), silence the rule on this statement.',
    engines: ['postgres'],
    phases: ALL_PHASES,
    scope: 'session',
    check: (s) => s.syntaxError,
  },
  {
    id: 'raw-sql-empty-expand',
    message: 'op.sql has no SQL in expand',
    why: 'Expand is where op.sql does its work while both app versions run. An empty expand usually means the SQL was put in the wrong phase (or under a misspelt key); a contract or rollback then runs with nothing prepared for it.',
    instead:
      "Put the additive part in expand. If the change really belongs only in contract, say so: expand: '-- zmigrate-lint-ignore raw-sql-empty-expand'.",
    engines: BOTH,
    phases: ['expand'],
    scope: 'operation',
    checkOperation: (op) => (op.kind === 'sql' && (op.sql?.expand ?? []).length === 0 ? 'op.sql({ expand: … })' : undefined),
  },
  {
    id: 'raw-sql-without-rollback',
    message: 'op.sql changes the schema in expand but gives no rollback',
    why: 'zmigrate rollback undoes an expanded migration; for raw SQL it can only run the rollback SQL you give. Without it, a rollback leaves what expand created behind, and the next expand of the same migration fails on it.',
    instead: "Give op.sql a rollback that undoes expand (DROP what it created). If there is nothing to undo, say so: rollback: ''.",
    engines: BOTH,
    phases: ['expand'],
    scope: 'operation',
    checkOperation: (op) => {
      if (op.kind !== 'sql' || op.sql?.rollback !== undefined) return undefined;
      const change = (op.sql?.expand ?? []).flatMap((s) => s.facts).find((f) => SCHEMA_CHANGES.has(f.kind));
      return change ? 'op.sql({ expand: …, rollback: missing })' : undefined;
    },
  },
];

function notNullDetail(f: Extract<Fact, { kind: 'setNotNull' }>): string {
  return `${f.table}.${f.column}${f.via ? `, by ${f.via}` : ''}`;
}

function duration(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export const RULES_BY_ID: ReadonlyMap<string, LintRule> = new Map(RULES.map((r) => [r.id, r]));
