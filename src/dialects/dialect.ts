import type { Knex } from 'knex';
import type { ColumnSpec, ForeignKeyAction } from '../migration/types';
import type { ColumnGrant, IdentifierRules, IndexModel, SchemaModel, ViewTable } from '../engine/schema-model';
import type { Step } from '../engine/step';
import type { BackfillSpec, DualWriteRule } from '../engine/dual-write';
import type { LagSource } from '../engine/throttle';
import type { Bound } from './bound-sql';

/** A table a version schema has a view of: its name there, and the base table (where it is there already). */
export interface VersionTable {
  name: string;
  source?: string;
}

/** Why an expression fails on a version schema's search path; `qualified`: the names to write instead, if known. */
export interface Unreachable {
  reason: string;
  qualified?: string;
}

/** What an engine can do; the engine code asks these, never the engine's name. */
export interface DialectCapabilities {
  /** DDL can be rolled back (PostgreSQL). Without it every step is recorded and guarded. */
  readonly transactionalDdl: boolean;
  /** Index builds that do not block writes must run outside a transaction (CREATE INDEX CONCURRENTLY). */
  readonly concurrentIndexOutsideTransaction: boolean;
  /** Columns can be hidden from `SELECT *` and column-less INSERTs (MySQL/MariaDB INVISIBLE). */
  readonly invisibleColumns: boolean;
  /** A column can be added at a place of its choosing, not only last (MySQL/MariaDB `AFTER`; see addColumn). */
  readonly placesColumns: boolean;
  /** Indexes with a WHERE predicate. */
  readonly partialIndexes: boolean;
  /** CHECK constraints can be added NOT VALID and validated later without blocking writes. */
  readonly notValidConstraints: boolean;
  /**
   * A foreign key needs an index that starts with its columns (InnoDB). One
   * InnoDB makes by itself it may drop silently when another index could
   * serve, so zmigrate builds its own, online, named after the key.
   */
  readonly foreignKeyIndex: boolean;
  /** Longest identifier the engine accepts (version schema names must fit). */
  readonly maxIdentifierLength: number;
  /**
   * A BEFORE UPDATE row trigger makes every UPDATE of its table lock each row
   * before changing it, a second write per row, even while the trigger is off
   * for the session (PostgreSQL). The backfill then runs under a trigger for
   * inserts only, and a second pass catches up the rows the apps updated
   * meanwhile (see the runner's dualWriteSteps).
   */
  readonly updateTriggerLocksRows: boolean;
  /**
   * A locking read (`SELECT … FOR UPDATE`) waits for the lock of every row
   * it scans, also one its WHERE then leaves out (InnoDB: only its UPDATE
   * checks a locked row's last committed version first); PostgreSQL checks
   * the condition on its snapshot before it locks. A backfill job's batch
   * there reads its keys first, then locks those rows alone.
   */
  readonly lockingReadWaitsOnScannedRows: boolean;
  /**
   * A column numbered by the engine (identity, serial) can hand its numbering
   * over to the column alterColumn builds (FinalColumn.sequence); elsewhere
   * alterColumn refuses such a column (MySQL/MariaDB AUTO_INCREMENT).
   */
  readonly movesIdentity: boolean;
  /**
   * A view holds on to the very columns it reads (PostgreSQL): one of them
   * cannot be dropped, even to make way for a column of the same name. On
   * MySQL/MariaDB a view finds its columns by name when it runs.
   */
  readonly viewsHoldColumns: boolean;
  /**
   * A nullable TIMESTAMP column can be made NOT NULL without blocking writes.
   * MariaDB cannot (`LOCK=NONE is not supported. Reason: cannot convert NULL
   * to non-constant DEFAULT`, whatever the default): the operations that
   * would need it are refused before anything changes.
   */
  readonly notNullTimestampOnline: boolean;
  /** Index names belong to their table, compared without case (MySQL/MariaDB); elsewhere to the schema, as relations. */
  readonly indexNamesPerTable: boolean;
  /**
   * A view's column can have a default of its own, which only inserts
   * through the view use (PostgreSQL): the new app's view of an altered
   * column gets the default the column will have, so the triggers may take
   * every insert of a new-app session as the new app's (its NULL included).
   * On MySQL/MariaDB the new column has no default while both apps write (an
   * old-app insert would look like the new app's), so an insert that leaves
   * it NULL is taken for the old app's.
   */
  readonly viewColumnDefaults: boolean;
  /**
   * A BEFORE row trigger sees the values of the row's generated columns
   * (MySQL/MariaDB compute them first, STORED and VIRTUAL). PostgreSQL
   * computes them after the BEFORE triggers, which see NULL: the dual-write
   * trigger's expressions may not read one there.
   */
  readonly triggersSeeGeneratedColumns: boolean;
  /** Foreign key names belong to the schema, not to their table (InnoDB). */
  readonly foreignKeyNamesPerSchema: boolean;
}

/**
 * A statement stopped because it waited for its lock longer than the lock
 * timeout (see Dialect.watchLockWait): a metadata lock (`lock`), or a row
 * lock an app holds (`row`), where the time is that of the statement's
 * current state, the wait and any work just before it.
 */
export class LockWaitStopped extends Error {
  constructor(
    readonly waitedMs: number,
    readonly lock: 'lock' | 'row',
    options: { cause: unknown },
  ) {
    super(
      lock === 'row' ? `stopped after ${waitedMs} ms, waiting for a row lock` : `stopped after ${waitedMs} ms waiting for its lock`,
      options,
    );
    this.name = 'LockWaitStopped';
  }
}

/**
 * `statementTimeout`: a statement cut short by a bound on its whole run (see
 * `boundInstant`); `notInstant`: the server refused a statement's instant form;
 * `unknownTable`: a statement named a table that is not there; `checkViolation`:
 * a row broke a CHECK constraint.
 */
export type ErrorClass =
  | 'lockTimeout'
  | 'statementTimeout'
  | 'notInstant'
  | 'connectionLost'
  | 'unreachable'
  | 'authentication'
  | 'unknownDatabase'
  | 'unknownTable'
  | 'permissionDenied'
  | 'checkViolation'
  | 'other';

export type IndexState = 'valid' | 'invalid' | 'missing';

/** A column as alterColumn leaves it at contract: its definition, and the comment the old column had. */
export interface FinalColumn extends ColumnSpec {
  comment?: string;
  /** PostgreSQL: the old column's own privileges, granted again on the new one (ColumnModel.grants). */
  grants?: ColumnGrant[];
  /** MySQL/MariaDB: what the server sets the column to on every update of its row (`current_timestamp(3)`). */
  onUpdate?: string;
  /**
   * The sequence the old column owned (PostgreSQL: a serial column's, or its
   * identity's), which the new column takes over, as the same kind of column.
   */
  sequence?: { name: string; identity?: 'always' | 'by default' };
}

/** The only ON DELETE clauses zmigrate writes: a migration's value is looked up here, never interpolated. */
export const FOREIGN_KEY_ACTIONS: Readonly<Record<ForeignKeyAction, string>> = {
  cascade: 'CASCADE',
  'set null': 'SET NULL',
  restrict: 'RESTRICT',
  'no action': 'NO ACTION',
};

export interface ForeignKeyDefinition {
  name: string;
  columns: string[];
  references: { table: string; columns: string[] };
  onDelete?: ForeignKeyAction;
}

/** What the mirror triggers of a rebuild copy: the old columns, the key that finds a row in the shadow, and where they log it. */
export interface MirrorSpec {
  columns: string[];
  key: string[];
  /** The key log (createKeyLog): the key each insert and update leaves in the shadow. */
  log: string;
}

/**
 * Building a table's expanded shape by chunked copy into a shadow table and an
 * atomic swap, instead of updating every row in place (MySQL/MariaDB).
 */
export interface TableRebuild {
  /** Why the table cannot be rebuilt this way (foreign keys, triggers, …); empty when it can. */
  blockers(table: string): Promise<string[]>;
  createShadow(table: string, shadow: string): Step;
  /** A table of the shadow's key columns alone, keyed by them, where the mirror logs the keys it writes. */
  createKeyLog(shadow: string, log: string, key: string[]): Step;
  /** Triggers on the table that repeat each insert, update and delete on the shadow (`name` + a suffix). */
  mirrorTriggers(table: string, shadow: string, name: string, spec: MirrorSpec): Step;
  /**
   * Whether a chunk's rows must be locked by a statement of their own before
   * they are copied, rather than by the copy itself as it reads them.
   */
  lockBeforeCopy(table: string): Promise<boolean>;
  /** The statements that copy one chunk, in one transaction; `range` is the chunk's key condition. */
  copyChunk(spec: BackfillSpec, range: Bound): Bound[];
  /**
   * The statements of one catch-up batch (`spec.catchUp`), in one transaction:
   * `range` is over the log's keys; `assignments` is the SET list of the
   * in-place UPDATE (the new columns, and those that keep their value).
   */
  catchUpChunk(spec: BackfillSpec, range: Bound, assignments: string[]): Bound[];
  /** Runs once the last chunk is copied, before the swap. */
  afterCopy(knex: Knex, spec: BackfillSpec): Promise<void>;
  /** Both renames in one atomic statement. */
  swap(table: string, shadow: string, retired: string): Step;
  /** Drops the retired table and the key log, after the swap. */
  dropRetired(retired: string, log: string): Step;
  /** Steps that drop the shadow, retired and log tables left with this name prefix (rollback of a half-done expand). */
  leftovers(prefix: string): Promise<Step[]>;
  /** Where a CHECK constraint can ride on the rebuild (MariaDB); undefined where it cannot. */
  readonly checks?: RebuildChecks;
}

/**
 * A CHECK added to the empty shadow, where the engine has no way to add one
 * to a table with rows without blocking writes: the copy and the mirror then
 * fill it through the check, and the swap puts it in place (op.addCheck).
 */
export interface RebuildChecks {
  /** Adds the check to the shadow while it is empty (no row to check). */
  add(shadow: string, name: string, expression: string): Step;
  /** Drops a check without copying the table or blocking writes (rollback); nothing where it is gone. */
  drop(table: string, name: string): Step;
}

/** A physical row address to walk a table that has no key by (PostgreSQL `ctid`). */
export interface RowAddress {
  /** How many pages the table has now. */
  pages(table: string): Promise<number>;
  /** A condition true for the rows on pages [from, to), served by a range scan, with its bound values. */
  pageRange(from: number, to: number): Bound;
  /** The column that holds it (`ctid`), to order by. */
  readonly column: string;
  /** An expression naming a row's address in results, e.g. `ctid::text`. */
  readonly select: string;
}

/** An index to build; what the dialect reads of an index besides its columns (IndexModel) is built as it says. */
export interface IndexDefinition extends Pick<IndexModel, 'kind' | 'parts' | 'comment' | 'ignored'> {
  name: string;
  columns: string[];
  unique: boolean;
  where?: string;
}

/**
 * Everything that differs between engines. A dialect owns one connection
 * (zmigrate runs its statements one at a time), which also holds the runner lock.
 */
export interface Dialect {
  /** For messages only. */
  readonly displayName: string;
  /** The SQL the engine speaks, for tools that need no connection (lint, the recording knex of plan). */
  readonly sqlFlavour: 'postgres' | 'mysql';
  readonly capabilities: DialectCapabilities;
  readonly rules: IdentifierRules;
  /** The schema (PostgreSQL) or database (MySQL) whose tables migrations change. */
  readonly baseSchema: string;
  readonly knex: Knex;
  /** Where the engine has one: what walks a table with no primary or NOT NULL unique key. */
  readonly rowAddress?: RowAddress;
  /**
   * Up to `count` more sessions, for backfill batches run side by side; set
   * up like the runner's own session, without its lock, and READ COMMITTED
   * by default. Undefined where the engine has a single session (PGlite).
   * Closed with the dialect.
   */
  workerSessions?(count: number): Knex;

  /**
   * The locking clause of a read whose rows the transaction goes on to
   * update, but not their key (a backfill job's batch): PostgreSQL's
   * `FOR NO KEY UPDATE`, which an app's insert of a row referencing one of
   * them (a foreign key's `FOR KEY SHARE`) does not wait for, as it does not
   * for an UPDATE's own lock; `FOR UPDATE` elsewhere.
   */
  readonly updateLockClause: string;

  quote(identifier: string): string;
  qualify(schema: string, name: string): string;
  /** Splits a string of SQL into statements, honouring the engine's quoting rules. */
  splitStatements(sql: string): string[];
  /**
   * A statement of an `instant` step, its whole run bounded by the lock
   * timeout, where the server's own lock wait timeout is coarser (MariaDB);
   * cut short, it fails with the `statementTimeout` class. Absent where the
   * lock timeout is exact already.
   */
  boundInstant?(statement: string): string;
  /**
   * The statement in a form the server refuses (`notInstant`) unless it can
   * make the change instantly; undefined where it has none. Only where
   * `boundInstant` is.
   */
  instantForm?(statement: string): string | undefined;
  /**
   * Runs one statement of a step that takes locks and is not bounded as a
   * whole (an index build), where the server bounds its lock wait more
   * coarsely than the lock timeout (MariaDB: whole seconds): a second
   * session stops it once it has waited for its lock longer than the lock
   * timeout, and it fails with the `lockTimeout` class. With `rowLocks`
   * (a backfill's batch), a wait for a row lock an app holds is stopped so
   * too: the rows the batch locked before it are held as long, and every
   * app that writes one of them waits for the batch. Absent where the lock
   * timeout is exact already.
   */
  watchLockWait?<T>(session: Knex | Knex.Transaction, statement: () => Promise<T>, options?: { rowLocks?: boolean }): Promise<T>;
  /**
   * Takes the strongest lock on those of `tables` that exist, in one
   * statement whose whole wait the lock timeout bounds, at the start of a
   * transaction that changes them all (contract's swap): the lock timeout
   * bounds each lock wait alone, so the statements taking them one after
   * another would hold the first tables while the next ones were waited
   * for, up to a lock timeout each. Running out fails with the `lockTimeout`
   * class. Only where DDL is transactional.
   */
  lockTables?(trx: Knex.Transaction, tables: readonly string[]): Promise<void>;
  /**
   * A key column as a walk reads it, so that its value binds back exactly
   * (`"at"::text` on PostgreSQL, whose driver gives a timestamp as a
   * JavaScript date, to the millisecond); the column as it is where absent.
   */
  keyText?(quoted: string): string;
  /** Statements that must run outside a transaction block (CREATE INDEX CONCURRENTLY, …). */
  needsNoTransaction(statement: string): boolean;
  /** The index of the base schema a raw statement builds outside a transaction (CREATE INDEX CONCURRENTLY), to guard its step. */
  indexBuiltConcurrently?(statement: string): { table: string; index: string } | undefined;
  lexSql(sql: string): { statements: string[]; hasComments: boolean };
  classifyError(error: unknown): ErrorClass;
  /**
   * For a 'permissionDenied' error: the privilege and the object it is
   * missing on, as the engine names them (`CREATE on database "shop"`,
   * `ALTER on table shop.orders`); undefined if the server's text does not say.
   */
  missingPrivilege(error: unknown): string | undefined;

  /** Connects, checks the server answers, and applies the session settings (lock timeout). */
  connect(options: { lockTimeoutMs: number }): Promise<void>;
  close(): Promise<void>;

  /** The session-level lock that allows one runner at a time; false if not had within waitMs. */
  acquireRunnerLock(waitMs: number): Promise<boolean>;
  releaseRunnerLock(): Promise<void>;
  /** False when the connection that held the lock was lost. */
  holdsRunnerLock(): Promise<boolean>;
  /** The sessions most likely blocking our DDL (oldest open transactions holding locks in the schema), for messages. */
  describeLockHolders(): Promise<string | undefined>;
  /** Who holds the runner lock, for the message when we cannot get it. */
  describeRunnerLockHolder(): Promise<string | undefined>;

  /** Where zmigrate keeps its own tables. */
  stateTable(name: 'migrations' | 'steps'): { schema?: string; table: string };
  /** Creates what stateTable() needs beyond the tables themselves (PostgreSQL: the schema). */
  ensureStateNamespace(): Promise<void>;
  /** Options of a state table being created (MySQL/MariaDB: utf8mb4, whatever the database's default). */
  stateTableOptions(table: Knex.CreateTableBuilder): void;
  /** Brings state tables made before stateTableOptions in line with it (they are small; called under the runner lock). */
  upgradeStateTables(): Promise<void>;

  introspect(): Promise<SchemaModel>;
  indexState(table: string, index: string): Promise<IndexState>;
  /** A constraint (foreign key, check, unique) of this name on the table. */
  constraintExists(table: string, constraint: string): Promise<boolean>;
  tableExists(table: string): Promise<boolean>;
  columnExists(table: string, column: string): Promise<boolean>;
  schemaExists(name: string): Promise<boolean>;

  // DDL builders: each returns a planned step, nothing runs here.
  createTable(table: string, columns: Record<string, ColumnSpec>, primaryKey: string[]): Step;
  dropTable(table: string): Step;
  /** `after`: the column to put it right after, where the engine places columns (capabilities.placesColumns); else it goes last. */
  addColumn(table: string, column: string, spec: ColumnSpec, options: { invisible: boolean; after?: string }): Step;
  /** The default of the rows inserted from now on; the rows there keep what they hold. A change of the catalog alone. */
  setDefault(table: string, column: string, expression: string): Step;
  /**
   * Where the engine has sequences (PostgreSQL): the sequence `name` that a
   * serial column added at expand counts with, owned by the column, so it
   * goes with it. `step` makes it and sets the column's default to `next`,
   * which draws from it. `names(table, column)` lists the names the engine
   * would give it, the first free one to be taken (`<table>_<column>_seq`,
   * then with 1, 2, … after it).
   */
  ownedSequence?(table: string, column: string, type: string, name: string): { step: Step; next: string };
  sequenceNames?(table: string, column: string): Iterable<string>;
  /**
   * Whether the server would compute a column's default for each row if the
   * column were added with it (true: it would rewrite the table), or store
   * one value once (false), as the server itself decides: it knows the
   * volatility of every function, the user's too. Without an expression,
   * whether adding a column of the type alone rewrites the table (a domain
   * with constraints does: each row's value is checked). Undefined where it
   * cannot be asked (a type the migration makes before) or the engine has no
   * way to tell; true for a default where the role may not ask (no TEMPORARY
   * privilege), so that it is filled in batches. Changes nothing.
   */
  probeDefault?(type: string, expression?: string): Promise<boolean | undefined>;
  /**
   * Why a column of `type` cannot have `DEFAULT expression`, in the server's
   * words (naming the column `column`) (a default that alterColumn keeps from the old type: contract sets
   * it on the new column, after the trigger is gone), asked by creating a
   * temporary table with such a column; undefined where it can, or where the
   * server could not tell (a type a migration makes first, no privilege for
   * a temporary table). Changes nothing.
   */
  refusesDefault?(column: string, type: string, expression: string): Promise<string | undefined>;
  /** The column's own `foreignKeys` go with it (where the engine does not drop them by itself, they are named). */
  dropColumn(table: string, column: string, foreignKeys?: string[]): Step;
  /**
   * Gives a column added at expand its final settings (visible, default, NOT
   * NULL); undefined when nothing is left to do. `keptByTrigger`: a
   * dual-write trigger filled the column until contract dropped it (see
   * replaceColumn); `preserved`: as there.
   */
  finalizeColumn(
    table: string,
    column: string,
    spec: ColumnSpec,
    options: { invisible: boolean; notNullChecked?: string; keptByTrigger?: boolean; preserved?: string[] },
  ): Step | undefined;
  /** `spec`: the column as it is, all of it, where the engine restates a column to change it (MySQL/MariaDB MODIFY). */
  setNotNull(table: string, column: string, spec: FinalColumn & { invisible?: boolean }): Step;
  renameColumn(table: string, from: string, to: string): Step;
  /**
   * Contract of an altered column: the old column goes and the helper takes
   * its name and final settings; the old column's `indexes` and `foreignKeys`
   * go with it (where the engine does not drop them by itself, they are named).
   * Where DDL is not transactional, the helper's dual-write trigger is gone
   * by then, and the new app's writes meanwhile may have left it NULL; the
   * rows filled then keep their `preserved` columns as they are (ON UPDATE
   * CURRENT_TIMESTAMP, which an UPDATE would otherwise set).
   */
  replaceColumn(
    table: string,
    column: string,
    helper: string,
    spec: FinalColumn,
    indexes: string[],
    foreignKeys: string[],
    preserved?: string[],
  ): Step;
  /**
   * Without transactional DDL: gives a NOT NULL column that is about to be
   * dropped or replaced a harmless default (an instant change), so writes that
   * no longer fill it, once the triggers are gone, do not fail meanwhile.
   * The column's `foreignKeys`, which that value would break, go in the same
   * change (alterColumn has built them again on the new column).
   */
  placeholderDefault?(table: string, column: string, type: string, foreignKeys?: string[]): Step | undefined;
  /** Only where capabilities.notValidConstraints. */
  addNotNullCheck?(table: string, column: string, constraint: string): Step;
  validateConstraint?(table: string, constraint: string): Step;
  dropConstraint?(table: string, constraint: string): Step;
  /**
   * The foreign key `from` under the name and on the columns of `to`, which
   * are its own columns renamed: alterColumn's contract, once the old key has
   * gone with the old column. Where this is missing, alterColumn refuses a
   * column a foreign key uses.
   */
  renameForeignKey?(table: string, from: string, to: ForeignKeyDefinition): Step;
  /** Where a constraint can take another name in place (PostgreSQL). */
  renameConstraint?(table: string, from: string, to: string): Step;
  /**
   * A check's condition with column `from` read as column `to`, or undefined
   * where the dialect cannot be sure of every reference: alterColumn carries
   * a check over to the new column where this is defined (with addCheck).
   */
  rewriteColumn?(expression: string, from: string, to: string): string | undefined;
  /**
   * An index written as IndexModel.definition says (after USING), built
   * without blocking writes: alterColumn builds a partial or expression
   * index again this way, rewritten for the new column (rewriteColumn).
   */
  createIndexUsing?(table: string, name: string, unique: boolean, definition: string): Step;
  /**
   * Where the engine requires a foreign key's column and the column it
   * references to be of like types (InnoDB): whether `child` may reference
   * `parent`, both as the model spells types. Elsewhere the server decides.
   */
  keyTypesMatch?(child: string, parent: string): boolean;
  createIndex(table: string, index: IndexDefinition): Step;
  /**
   * Why the dialect cannot build an index like this one again without
   * blocking writes (alterColumn refuses the column then), else undefined.
   */
  indexNotOnline?(index: IndexModel): string | undefined;
  renameIndex(table: string, from: string, to: string): Step;
  dropIndex(table: string, index: string): Step;
  /**
   * PostgreSQL: a unique index built at expand becomes a UNIQUE constraint
   * (ADD CONSTRAINT … USING INDEX, no scan). Undefined where a unique index is all there is.
   */
  attachUniqueConstraint?(table: string, index: string): Step;
  /**
   * PostgreSQL: a unique index built at expand, over columns now NOT NULL,
   * becomes the table's primary key (ADD CONSTRAINT … USING INDEX, no scan),
   * once alterColumn's swap has dropped the old one with the old column.
   * Where this is missing, alterColumn refuses a primary-key column.
   */
  attachPrimaryKey?(table: string, index: string): Step;
  /**
   * PostgreSQL: the index becomes the table's replica identity (REPLICA
   * IDENTITY USING INDEX), as the old one was (IndexModel.replicaIdentity):
   * alterColumn's swap dropped that with the old column.
   */
  replicaIdentity?(table: string, index: string): Step;
  /**
   * A foreign key that existing rows may not meet yet, without a long lock:
   * NOT VALID on PostgreSQL; unchecked (foreign_key_checks off, ALGORITHM=INPLACE) on MySQL/MariaDB.
   * New writes are checked from then on; old rows are verified apart.
   */
  addForeignKey(table: string, fk: ForeignKeyDefinition): Step;
  /** Undoes addForeignKey (with the index MySQL/MariaDB made for it, if it made one). */
  dropForeignKey(table: string, name: string): Step[];
  /** Only where capabilities.notValidConstraints: a CHECK that existing rows may not meet yet. */
  addCheck?(table: string, name: string, expression: string): Step;
  renameTable(from: string, to: string): Step[];

  /**
   * BEFORE INSERT/UPDATE row trigger(s) applying the rules; skipped while the
   * backfill flag is set. Where capabilities.updateTriggerLocksRows, a trigger
   * whose rules have nothing for UPDATE is for INSERT only; there
   * `rulesOnly` changes the rules of the trigger already there (for the same
   * events) without touching the table.
   */
  createTrigger(table: string, name: string, rules: DualWriteRule[], versionSchema: string, options?: { rulesOnly?: boolean }): Step;
  dropTrigger(table: string, name: string): Step;
  listTriggers(prefix: string): Promise<Array<{ table: string; name: string }>>;
  /** Columns a backfill must assign to themselves so they keep their value (MySQL ON UPDATE CURRENT_TIMESTAMP). */
  preservedOnUpdate(table: string): Promise<string[]>;
  /**
   * For the verification: true where `column`, of `type`, does not hold what
   * `expression` gives (the type's collation, where it names one, counts
   * where the engine compares by it), NULLs included, for any type.
   */
  holdsOtherThan(column: string, expression: string, type: string): string;
  /** The server's cheap estimate of a table's rows (statistics), or undefined. */
  estimateRows(table: string): Promise<number | undefined>;
  /**
   * What a batch writes per row of the table, by its statistics: the bytes
   * its rows and their index entries take, over its rows; undefined when the
   * statistics have no rows.
   */
  estimateRowBytes(table: string): Promise<number | undefined>;
  /** A NULL of the given type, to type-check expressions over columns that do not exist yet. */
  typedNull(type: string): string;
  /**
   * SQL that sets (or clears) the flag under which zmigrate's triggers stand
   * aside, for one transaction; undefined when clearing takes no statement
   * (the setting ends with the transaction).
   */
  backfillFlag(on: true): string;
  backfillFlag(on: boolean): string | undefined;

  /** The replicas this server itself reports on (PostgreSQL pg_stat_replication); undefined where it cannot tell. */
  primaryLagSource(warn: (message: string) => void): LagSource | undefined;
  /**
   * Where the dual-write triggers compute `up` and `down` under the writing
   * session's search path (PostgreSQL), why `expression`, over the columns
   * `row` selects (no rows), fails with the system catalog alone on the path
   * beside views of `tables`, as an app on a version schema has it: a type,
   * function, sequence or view of the base schema named without its schema.
   * Undefined where it works so, where it cannot be told (no TEMPORARY
   * privilege), or where the triggers do not depend on the session
   * (MySQL/MariaDB run them in their own database).
   */
  unreachableFromVersions?(row: string, expression: string, tables: readonly VersionTable[]): Promise<Unreachable | undefined>;
  /**
   * Where a value must have an assignment cast to its column's type
   * (PostgreSQL), why `expression`, over the columns `row` selects (no rows),
   * cannot fill `column` of `type`, as the backfill's UPDATE would find
   * (`column … is of type integer but expression is of type text`).
   * Undefined where it can, or where it cannot be told (no TEMPORARY privilege).
   */
  notAssignable?(row: string, expression: string, column: string, type: string): Promise<string | undefined>;
  /**
   * Whether `expression`, over the columns `row` selects (no rows), may give
   * another value when computed again for the same row (now(), a stable or
   * volatile function), as the server decides what it will not store
   * computed once: true where it refuses the expression for that for this
   * reason (PostgreSQL: an index expression, which must be immutable;
   * MySQL/MariaDB: a stored generated column of `type`, which must be
   * deterministic), false where it takes it, undefined where it refuses it
   * for another (a subquery on PostgreSQL) or cannot be asked (no TEMPORARY
   * privilege). Changes nothing.
   */
  mutable?(row: string, expression: string, type: string): Promise<boolean | undefined>;
  /** Connects to a replica given by URL, to read its lag; a ZmigrateError when it cannot reach it or it is no replica. */
  connectReplica(url: string): Promise<LagSource>;

  createSchema(name: string): Step;
  dropSchema(name: string): Step;
  /**
   * Statements that (re)create one view of a version schema, atomically where
   * the engine allows; where the view `exists`, replaced in place when its
   * columns allow it, so it keeps its grants and the shape apps have cached.
   */
  replaceView(schema: string, view: ViewTable, exists?: boolean): Step[];
  dropView(schema: string, view: string): Step;
  /** The views of a version schema, each with its columns' names in order. */
  listViews(schema: string): Promise<Map<string, string[]>>;

  /** Where the engine is faster at copying rows than at updating them in place. */
  readonly rebuild?: TableRebuild;
}
