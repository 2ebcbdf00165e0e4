import { createHash } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import type { ColumnSpec, ForeignKeyAction } from '../../migration/types';
import {
  constraintOf,
  SchemaModel,
  type ForeignKeyReference,
  type ColumnHolder,
  type IdentifierRules,
  type IndexModel,
  type QualifiedName,
  type TableModel,
  type ViewTable,
} from '../../engine/schema-model';
import { step, type Step } from '../../engine/step';
import { positiveFigure } from '../../engine/raw-result';
import { REBUILD_TABLE, renderCondition, renderValue, type DualWriteRule, type RuleSyntax } from '../../engine/dual-write';
import {
  FOREIGN_KEY_ACTIONS,
  LockWaitStopped,
  type Dialect,
  type DialectCapabilities,
  type ErrorClass,
  type ForeignKeyDefinition,
  type FinalColumn,
  type IndexDefinition,
  type IndexState,
} from '../dialect';
import { lexSql, MYSQL_LEX, splitSql } from '../sql-split';
import { literalMarks } from '../bound-sql';
import { failedStatementVerb, serverText } from '../permission';
import { MysqlTableRebuild } from './rebuild';
import { watchLockWait, type RowLockWatch } from './lock-wait-watch';
import { mysqlConnection } from '../url';
import { workerPool } from '../worker-sessions';
import type { LagSource } from '../../engine/throttle';
import { connectMysqlReplica } from './replication';
import { RunnerLockError } from '../../errors';
import { LOCK_TAKEN, RETAKE_LOCK_MS, whenSessionEnds } from '../runner-session';
import { namesRowColumn } from '../row-references';
import { formatMysqlQuery } from './query-format';
import { viewColumns } from '../view-columns';

/** The mysql2 connection, as the pool's afterCreate hook gets it. */
interface MysqlSession {
  query(sql: string, values: unknown[], callback: (error: Error | null, rows?: Array<Record<string, unknown>>) => void): void;
}
type AfterCreateDone = (error: Error | null, conn: unknown) => void;

const LEX = MYSQL_LEX;
export const STATE_TABLE_PREFIX = 'zmigrate_';
/** The dual-write trigger (`_bi`, `_bu`) and the mirror of a table being rebuilt (`_ai`, `_au`, `_ad`). */
const TRIGGER_SUFFIXES = ['_bi', '_bu', ...MysqlTableRebuild.suffixes];
const TRIGGER_SUFFIX = new RegExp(`(${TRIGGER_SUFFIXES.join('|')})$`);

interface Row {
  [key: string]: unknown;
}

/**
 * MySQL 8 and MariaDB 10.3+ through mysql2. DDL is not transactional here, so
 * every step carries a guard and a run that dies between steps resumes cleanly.
 */
export class MysqlDialect implements Dialect {
  readonly displayName = 'MySQL/MariaDB';
  readonly sqlFlavour = 'mysql' as const;
  readonly updateLockClause = 'FOR UPDATE';
  readonly capabilities: DialectCapabilities = {
    transactionalDdl: false,
    concurrentIndexOutsideTransaction: false,
    invisibleColumns: true,
    placesColumns: true,
    partialIndexes: false,
    notValidConstraints: false,
    foreignKeyIndex: true,
    updateTriggerLocksRows: false,
    lockingReadWaitsOnScannedRows: true,
    maxIdentifierLength: 64,
    movesIdentity: false,
    notNullTimestampOnline: false,
    indexNamesPerTable: true,
    triggersSeeGeneratedColumns: true,
    foreignKeyNamesPerSchema: true,
    viewsHoldColumns: false,
    viewColumnDefaults: false,
  };
  readonly knex: Knex;
  #caseInsensitiveTables = false;
  /** MariaDB can scope a session variable to one statement (SET STATEMENT … FOR); MySQL cannot. */
  #mariadb = false;
  /** A backslash in a string literal escapes (unless sql_mode has NO_BACKSLASH_ESCAPES). */
  #backslashEscapes = true;
  readonly rules: IdentifierRules = {
    sameTable: (a, b) => (this.#caseInsensitiveTables ? a.toLowerCase() === b.toLowerCase() : a === b),
    sameColumn: (a, b) => a.toLowerCase() === b.toLowerCase(),
  };
  readonly #lockName: string;
  readonly rebuild: MysqlTableRebuild;

  /** True between acquireRunnerLock and releaseRunnerLock: a new session must take the lock again. */
  #holdsRunnerLock = false;
  #closed = false;
  #workers: Knex | undefined;
  readonly workerSessions: (count: number) => Knex;
  /** The session that watches long DDL's lock waits (watchLockWait), opened when first needed. */
  #watcher: Knex | undefined;
  /** Whether it watches row-lock waits too: until the server refuses to show them (no PROCESS privilege). */
  readonly #rowLockWatch: RowLockWatch = { enabled: true };
  readonly #config: Knex.Config;

  constructor(
    config: Knex.Config,
    readonly baseSchema: string,
    private readonly lockTimeoutMs: number,
  ) {
    // Whole seconds only, rounded up: boundInstant keeps the catalog changes to the millisecond.
    const lockWaitSeconds = Math.max(1, Math.ceil(lockTimeoutMs / 1000));
    this.#config = config;
    this.knex = knexFactory({
      ...config,
      pool: { ...config.pool, afterCreate: (conn: MysqlSession, done: AfterCreateDone) => this.#newSession(conn, lockWaitSeconds, done) },
    });
    this.workerSessions = (count) =>
      (this.#workers ??= workerPool<MysqlSession>(
        config,
        count,
        (conn) =>
          new Promise<void>((resolve, reject) =>
            this.#boundLockWaits(conn, lockWaitSeconds, (error) => {
              if (error) return reject(error);
              conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', [], (err) => (err ? reject(err) : resolve()));
            }),
          ),
      ));
    this.#lockName = `zmigrate:${createHash('sha256').update(baseSchema).digest('hex').slice(0, 40)}`;
    this.rebuild = new MysqlTableRebuild({
      baseSchema,
      quote: (i) => this.quote(i),
      qualify: (schema, name) => this.qualify(schema, name),
      rows: (sql, bindings) => this.rows(sql, bindings),
      bounded: (statement) => this.boundInstant(statement),
      mariadb: () => this.#mariadb,
    });
  }

  /**
   * Every session bounds its DDL lock waits. The pool replaces a session the
   * server ended (KILL CONNECTION, a restart) without a word; the runner lock
   * was that session's, so the new one, opened at once, takes it again before
   * any statement runs, or stops the run.
   */
  #newSession(conn: MysqlSession, lockWaitSeconds: number, done: AfterCreateDone): void {
    whenSessionEnds(conn, () => {
      if (this.#holdsRunnerLock && !this.#closed) this.knex.raw('SELECT 1').catch(() => undefined);
    });
    this.#boundLockWaits(conn, lockWaitSeconds, (error) => {
      if (error || !this.#holdsRunnerLock) return done(error, conn);
      // The ended session may not be gone yet: wait for it a little; after that, another runner has the lock.
      conn.query('SELECT GET_LOCK(?, ?) AS ok', [this.#lockName, RETAKE_LOCK_MS / 1000], (err, rows) => {
        if (err) return done(err, conn);
        done(Number(rows?.[0]?.ok) === 1 ? null : new RunnerLockError(LOCK_TAKEN), conn);
      });
    });
  }

  static fromUrl(url: URL, database: string, options: { lockTimeoutMs: number }): MysqlDialect {
    return new MysqlDialect(
      {
        client: 'mysql2',
        connection: {
          ...mysqlConnection(url),
          database,
          connectTimeout: 10_000,
          multipleStatements: false,
          supportBigNumbers: true,
          bigNumberStrings: true,
          dateStrings: true,
          queryFormat: formatMysqlQuery,
        },
        pool: { min: 1, max: 1 },
        acquireConnectionTimeout: 15_000,
        // knex would print connection errors with a stack to stdout; zmigrate reports them itself.
        log: { warn: () => undefined },
      },
      database,
      options.lockTimeoutMs,
    );
  }

  quote(identifier: string): string {
    return `\`${identifier.replace(/`/g, '``')}\``;
  }

  qualify(schema: string, name: string): string {
    return `${this.quote(schema)}.${this.quote(name)}`;
  }

  splitStatements(sql: string): string[] {
    return splitSql(sql, LEX);
  }

  /**
   * MariaDB bounds a statement's whole run, lock wait included, to the
   * millisecond (`max_statement_time`, for that statement alone), where
   * `lock_wait_timeout` rounds up to whole seconds; for a statement that only
   * changes the catalog, the run is the lock wait. MySQL bounds only SELECTs
   * so, and keeps whole seconds.
   */
  boundInstant(statement: string): string {
    if (!this.#mariadb) return statement;
    // As PostgreSQL's lock_timeout: whole milliseconds, at least one (0 would mean no bound at all).
    const seconds = Math.max(1, Math.round(this.lockTimeoutMs)) / 1000;
    return `SET STATEMENT max_statement_time = ${seconds} FOR ${statement}`;
  }

  /**
   * MariaDB: a statement whose run the lock timeout cannot bound (an index
   * build, with `rowLocks` a backfill's batch) has its lock wait watched
   * from a second session and stopped at the lock timeout (see
   * lock-wait-watch.ts); MySQL keeps whole seconds.
   */
  async watchLockWait<T>(session: Knex | Knex.Transaction, statement: () => Promise<T>, options: { rowLocks?: boolean } = {}): Promise<T> {
    if (!this.#mariadb) return statement();
    const watcher = () => (this.#watcher ??= knexFactory({ ...this.#config, pool: { min: 0, max: 1 } }));
    return watchLockWait(session, watcher, this.lockTimeoutMs, statement, options.rowLocks ? this.#rowLockWatch : undefined);
  }

  /** MariaDB refuses an ALTER TABLE with ALGORITHM=INSTANT unless the change is instant for that table. */
  instantForm(statement: string): string | undefined {
    if (!this.#mariadb || !/^\s*ALTER\s+TABLE\b/i.test(statement)) return undefined;
    return `${statement}, ALGORITHM=INSTANT`;
  }

  lexSql(sql: string): { statements: string[]; hasComments: boolean } {
    return lexSql(sql, LEX);
  }

  needsNoTransaction(): boolean {
    return false;
  }

  missingPrivilege(error: unknown): string | undefined {
    const text = serverText(error);
    const verb = failedStatementVerb(error);
    // MariaDB quotes `db`.`table`, MySQL 8 'table'.
    const name = "[`']([^`']+)[`'](?:\\.[`']([^`']+)[`'])?";
    const table = new RegExp(`^(.+?) command denied to user .* for table ${name}`).exec(text);
    if (table) return `${table[1]} on table ${table[3] ? `${table[2]}.${table[3]}` : table[2]}`;
    const column = /^(.+?) command denied to user .* for column '([^']+)' in table '([^']+)'/.exec(text);
    if (column) return `${column[1]} on column ${column[3]}.${column[2]}`;
    const routine = /^(.+?) command denied to user .* for routine '([^']+)'/.exec(text);
    if (routine) return `${routine[1]} on routine ${routine[2]}`;
    const database = /Access denied for user .* to database '([^']+)'/.exec(text);
    if (database)
      return verb === 'create' || verb === 'drop'
        ? `${verb.toUpperCase()} on database ${database[1]}`
        : `access to database ${database[1]}`;
    const global = /you need \(at least one of\) the (.+?) privilege/i.exec(text);
    if (global) return `the ${global[1]} privilege`;
    if (/SUPER privilege and binary logging is enabled/i.test(text))
      return 'SUPER (or log_bin_trust_function_creators = 1) to create triggers with binary logging on';
    return undefined;
  }

  classifyError(error: unknown): ErrorClass {
    if (error instanceof LockWaitStopped) return 'lockTimeout';
    const e = error as { code?: string; errno?: number; message?: string };
    switch (e?.code) {
      case 'ER_LOCK_WAIT_TIMEOUT':
        return 'lockTimeout';
      case 'ER_NO_SUCH_TABLE':
        return 'unknownTable';
      case 'ER_ACCESS_DENIED_ERROR':
        return 'authentication';
      case 'ER_DBACCESS_DENIED_ERROR':
      case 'ER_TABLEACCESS_DENIED_ERROR':
      case 'ER_COLUMNACCESS_DENIED_ERROR':
      case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      case 'ER_PROCACCESS_DENIED_ERROR':
      case 'ER_BINLOG_CREATE_ROUTINE_NEED_SUPER':
        return 'permissionDenied';
      case 'ER_BAD_DB_ERROR':
        return 'unknownDatabase';
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ETIMEDOUT':
      case 'EAI_AGAIN':
        return 'unreachable';
      case 'PROTOCOL_CONNECTION_LOST':
      case 'ECONNRESET':
      case 'EPIPE':
      case 'ER_CONNECTION_KILLED':
      case 'ER_SERVER_SHUTDOWN':
        return 'connectionLost';
    }
    if (e?.errno === 1927 || e?.errno === 2013 || e?.errno === 2006) return 'connectionLost';
    // MariaDB's ER_STATEMENT_TIMEOUT (max_statement_time), which mysql2 has no name for.
    if (e?.errno === 1969) return 'statementTimeout';
    // ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON): ALGORITHM=INSTANT refused.
    if (e?.errno === 1845 || e?.errno === 1846) return 'notInstant';
    if ([1044, 1142, 1143, 1227, 1370, 1419].includes(e?.errno ?? 0)) return 'permissionDenied';
    // MariaDB's ER_CONSTRAINT_FAILED, MySQL's ER_CHECK_CONSTRAINT_VIOLATED.
    if (e?.errno === 4025 || e?.errno === 3819) return 'checkViolation';
    const message = e?.message ?? '';
    if (/connection is in closed state|Connection lost|server has gone away/i.test(message)) return 'connectionLost';
    if (/Knex: Timeout acquiring a connection/i.test(message)) return 'unreachable';
    return 'other';
  }

  async connect(): Promise<void> {
    const [row] = await this.rows('SELECT @@lower_case_table_names AS lctn, VERSION() AS version, @@SESSION.sql_mode AS mode');
    this.#caseInsensitiveTables = Number(row.lctn) !== 0;
    this.#mariadb = /mariadb/i.test(String(row.version));
    this.#backslashEscapes = !/\bNO_BACKSLASH_ESCAPES\b/i.test(String(row.mode));
  }

  /** A string literal for DDL and trigger bodies, which take no bindings, as the session's sql_mode reads it. */
  private literal(text: string): string {
    const quoted = text.replace(/'/g, "''");
    return `'${this.#backslashEscapes ? quoted.replace(/\\/g, '\\\\') : quoted}'`;
  }

  /** A MySQL/MariaDB primary does not know its replicas' lag: they are given by URL. */
  primaryLagSource(): LagSource | undefined {
    return undefined;
  }

  connectReplica(url: string): Promise<LagSource> {
    return connectMysqlReplica(url);
  }

  /** lock_wait_timeout bounds metadata-lock waits of DDL; whole seconds only on these servers. */
  #boundLockWaits(conn: MysqlSession, lockWaitSeconds: number, done: (error: Error | null) => void): void {
    conn.query('SET SESSION lock_wait_timeout = ?, innodb_lock_wait_timeout = ?', [lockWaitSeconds, lockWaitSeconds], done);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const [workers, watcher] = [this.#workers, this.#watcher];
    this.#workers = undefined;
    this.#watcher = undefined;
    await Promise.all([this.knex.destroy(), workers?.destroy(), watcher?.destroy()]);
  }

  async acquireRunnerLock(waitMs: number): Promise<boolean> {
    const [row] = await this.rows('SELECT GET_LOCK(?, ?) AS ok', [this.#lockName, Math.max(0, waitMs / 1000)]);
    return (this.#holdsRunnerLock = Number(row.ok) === 1);
  }

  async releaseRunnerLock(): Promise<void> {
    this.#holdsRunnerLock = false;
    await this.knex.raw('SELECT RELEASE_LOCK(?)', [this.#lockName]);
  }

  async holdsRunnerLock(): Promise<boolean> {
    const [row] = await this.rows('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.#lockName]);
    return Number(row.mine) === 1;
  }

  async describeLockHolders(): Promise<string | undefined> {
    const rows = await this.rows(
      `SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.COMMAND AS command, TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS age, LEFT(p.INFO, 120) AS query
         FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
        WHERE p.ID <> CONNECTION_ID() ORDER BY t.trx_started LIMIT 3`,
    );
    if (rows.length === 0) return undefined;
    return rows
      .map(
        (r) =>
          `connection ${r.id} (user ${r.user} from ${r.host}, ${String(r.command).toLowerCase()} in a transaction open for ${r.age} s${r.query ? `; running: ${String(r.query).replace(/\s+/g, ' ')}` : ''})`,
      )
      .join('; ');
  }

  async describeRunnerLockHolder(): Promise<string | undefined> {
    const [row] = await this.rows(
      'SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.TIME AS time, p.COMMAND AS command FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)',
      [this.#lockName],
    );
    if (!row) return undefined;
    // PROCESSLIST's TIME is how long the session has been in its present state, not since it connected.
    return `connection ${row.id} (user ${row.user}, from ${row.host}, ${String(row.command).toLowerCase()} for ${row.time}s)`;
  }

  stateTable(name: 'migrations' | 'steps'): { schema?: string; table: string } {
    return { table: `${STATE_TABLE_PREFIX}${name}` };
  }

  async ensureStateNamespace(): Promise<void> {}

  /** A description, a statement or an error may hold characters the database's default (latin1, say) cannot. */
  stateTableOptions(table: Knex.CreateTableBuilder): void {
    table.charset('utf8mb4');
  }

  /** State tables an older zmigrate made in the database's default character set are converted to utf8mb4. */
  async upgradeStateTables(): Promise<void> {
    const tables = await this.rows(
      "SELECT DISTINCT TABLE_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?) AND CHARACTER_SET_NAME <> 'utf8mb4'",
      [this.baseSchema, this.stateTable('migrations').table, this.stateTable('steps').table],
    );
    for (const { name } of tables) await this.knex.raw(`ALTER TABLE ${this.quote(String(name))} CONVERT TO CHARACTER SET utf8mb4`);
  }

  async introspect(): Promise<SchemaModel> {
    // Each query reads one table of information_schema, narrowed to the base database, and the rows are joined
    // here: MariaDB fills a table of information_schema that a query joins for every database on the server, not
    // the base one alone (6 ms a join with the 300 tables of a bare server, more with every table added).
    const schemaTables = await this.rows(
      'SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
      [this.baseSchema],
    );
    const tableCollations = new Map(schemaTables.filter((t) => t.type === 'BASE TABLE').map((t) => [String(t.name), t.collation]));
    const columns = (
      await this.rows(
        `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable,
                COLUMN_DEFAULT AS default_expr, EXTRA AS extra, COLUMN_COMMENT AS comment, GENERATION_EXPRESSION AS generation,
                CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
        [this.baseSchema],
      )
    ).filter((c) => tableCollations.has(String(c.table_name)));
    // Every column: whether an index is ignored is IGNORED on MariaDB (10.6+), IS_VISIBLE on MySQL.
    const indexes = await this.rows(
      'SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
      [this.baseSchema],
    );
    const foreignKeys = await this.#foreignKeyRows();
    const checks = await this.#checkRows();
    // Views (of any database) over the base database's tables, which name every column they read as `db`.`table`.`column`.
    const views = await this.rows(
      'SELECT TABLE_SCHEMA AS view_schema, TABLE_NAME AS view_name, LOWER(VIEW_DEFINITION) AS definition FROM information_schema.VIEWS WHERE LOCATE(?, VIEW_DEFINITION) > 0',
      [`${this.quote(this.baseSchema)}.`],
    );
    const readers = (...path: string[]): QualifiedName[] => {
      const name = [this.baseSchema, ...path]
        .map((part) => this.quote(part))
        .join('.')
        .toLowerCase();
      return views
        .filter((v) => String(v.definition).includes(name))
        .map((v) => ({ schema: String(v.view_schema), name: String(v.view_name) }));
    };
    const tables = new Map<string, TableModel>();
    for (const c of columns) {
      const name = String(c.table_name);
      if (name.startsWith(STATE_TABLE_PREFIX) || REBUILD_TABLE.test(name)) continue;
      if (!tables.has(name)) {
        const tableReaders = readers(name);
        tables.set(name, {
          name,
          columns: [],
          primaryKey: [],
          indexes: [],
          constraints: [],
          ...(tableReaders.length > 0 ? { views: tableReaders } : {}),
        });
      }
      const reading = readers(name, String(c.column_name));
      tables.get(name)!.columns.push({
        name: String(c.column_name),
        type: String(c.type),
        nullable: c.nullable === 'YES',
        default: c.default_expr === null || c.default_expr === 'NULL' ? null : String(c.default_expr),
        invisible: /\bINVISIBLE\b/i.test(String(c.extra ?? '')),
        generated: /\bGENERATED\b/i.test(String(c.extra ?? '')),
        ...(/\bauto_increment\b/i.test(String(c.extra ?? '')) ? { identity: 'by default' as const } : {}),
        ...onUpdateOf(String(c.extra ?? '')),
        ...(ownCollation(c.collation, tableCollations.get(name))
          ? { collation: `CHARACTER SET ${this.quote(String(c.charset))} COLLATE ${this.quote(String(c.collation))}` }
          : {}),
        ...(reading.length > 0 ? { views: reading } : {}),
        // No comment is an empty one here.
        ...(c.comment ? { comment: String(c.comment) } : {}),
      });
    }
    for (const ix of indexes) {
      const table = tables.get(String(ix.TABLE_NAME));
      if (!table) continue;
      const name = String(ix.INDEX_NAME);
      if (name === 'PRIMARY') {
        table.primaryKey.push(String(ix.COLUMN_NAME));
        continue;
      }
      let index = table.indexes.find((i) => i.name === name);
      if (!index) {
        index = { name, columns: [], unique: Number(ix.NON_UNIQUE) === 0, ...indexOptions(ix) };
        table.indexes.push(index);
      }
      // MySQL 8 functional key parts have no column.
      if (ix.COLUMN_NAME === null) index.special = true;
      else addIndexPart(index, String(ix.COLUMN_NAME), ix);
    }
    for (const k of foreignKeys) {
      const constraints = tables.get(String(k.table_name))?.constraints;
      const key = constraintOf(String(k.type), String(k.name), k.child, [String(k.column_name)]);
      const known = constraints?.find((c) => c.kind === key.kind && c.name === key.name && c.from === key.from);
      if (known) {
        known.columns.push(...key.columns);
        known.references?.columns.push(String(k.ref_column));
      } else {
        const references = k.type === 'f' ? rebuildableReference(k) : undefined;
        constraints?.push(references ? { ...key, references } : key);
      }
    }
    for (const k of checks) {
      const columns = [...String(k.clause).matchAll(/`((?:[^`]|``)+)`/g)].map((m) => m[1].replace(/``/g, '`'));
      tables.get(String(k.table_name))?.constraints!.push(constraintOf('c', String(k.name), null, columns));
    }
    this.#holders(
      tables,
      columns,
      await this.rows(
        'SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS table_name, ACTION_STATEMENT AS body FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?',
        [this.baseSchema],
      ),
    );
    return new SchemaModel(
      this.rules,
      [...tables.values()],
      // Views (and MariaDB's sequences) share the tables' names.
      schemaTables.filter((t) => t.type !== 'BASE TABLE').map((t) => String(t.name)),
    );
  }

  /**
   * Foreign keys from each table (with what they do on delete and update)
   * and from other tables to it, one row per column, in key order. Keys into
   * the base database may come from any database, so that one look reads the
   * whole server.
   */
  async #foreignKeyRows(): Promise<Row[]> {
    const keys = await this.rows(
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, 'f' AS type, NULL AS child, COLUMN_NAME AS column_name,
              ORDINAL_POSITION AS position,
              -- What a key references (a table of the same database, else null).
              CASE WHEN REFERENCED_TABLE_SCHEMA = TABLE_SCHEMA THEN REFERENCED_TABLE_NAME END AS ref_table,
              REFERENCED_COLUMN_NAME AS ref_column
         FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL`,
      [this.baseSchema],
    );
    const rules = await this.rows(
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, DELETE_RULE AS on_delete, UPDATE_RULE AS on_update
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
      [this.baseSchema],
    );
    const ruleOf = new Map(rules.map((r) => [`${String(r.table_name)}\0${String(r.name)}`, r]));
    const referencing = await this.rows(
      `SELECT REFERENCED_TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, 'r' AS type, TABLE_NAME AS child,
              REFERENCED_COLUMN_NAME AS column_name, ORDINAL_POSITION AS position
         FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL`,
      [this.baseSchema],
    );
    const rows: Row[] = [
      ...keys.flatMap((k) => {
        const rule = ruleOf.get(`${String(k.table_name)}\0${String(k.name)}`);
        return rule ? [{ ...k, on_delete: rule.on_delete, on_update: rule.on_update }] : [];
      }),
      ...referencing,
    ];
    const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));
    return rows.sort(
      (a, b) =>
        compareText(text(a.table_name), text(b.table_name)) ||
        compareText(text(a.name), text(b.name)) ||
        compareText(text(a.type), text(b.type)) ||
        compareText(text(a.child), text(b.child)) ||
        Number(a.position) - Number(b.position),
    );
  }

  /**
   * Each table's checks and their clauses. MariaDB names checks per table,
   * MySQL per schema: where the server says which table a clause is of
   * (MariaDB), a check is matched by table and name, else by name alone.
   */
  async #checkRows(): Promise<Row[]> {
    const named = await this.rows(
      "SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ? AND CONSTRAINT_TYPE = 'CHECK'",
      [this.baseSchema],
    );
    // All columns: MySQL has no TABLE_NAME here.
    const clauses = await this.rows('SELECT * FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?', [this.baseSchema]);
    return named.flatMap((check) =>
      clauses
        .filter(
          (c) =>
            String(c.CONSTRAINT_NAME) === String(check.name) &&
            (c.TABLE_NAME === undefined || String(c.TABLE_NAME) === String(check.table_name)),
        )
        .map((c) => ({ table_name: check.table_name, name: check.name, clause: c.CHECK_CLAUSE })),
    );
  }

  async indexState(table: string, index: string): Promise<IndexState> {
    const rows = await this.rows(
      'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1',
      [this.baseSchema, table, index],
    );
    return rows.length > 0 ? 'valid' : 'missing';
  }

  async constraintExists(table: string, constraint: string): Promise<boolean> {
    const rows = await this.rows(
      'SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = ?',
      [this.baseSchema, table, constraint],
    );
    return rows.length > 0;
  }

  async tableExists(table: string): Promise<boolean> {
    const rows = await this.rows(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'",
      [this.baseSchema, table],
    );
    return rows.length > 0;
  }

  async columnExists(table: string, column: string): Promise<boolean> {
    const rows = await this.rows('SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?', [
      this.baseSchema,
      table,
      column,
    ]);
    return rows.length > 0;
  }

  async schemaExists(name: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])).length > 0;
  }

  async listViews(schema: string): Promise<Map<string, string[]>> {
    const rows = await this.rows(
      `SELECT v.TABLE_NAME AS name, c.COLUMN_NAME AS column_name
         FROM information_schema.VIEWS v
         LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = v.TABLE_SCHEMA AND c.TABLE_NAME = v.TABLE_NAME
        WHERE v.TABLE_SCHEMA = ?
        ORDER BY v.TABLE_NAME, c.ORDINAL_POSITION`,
      [schema],
    );
    return viewColumns(rows);
  }

  async refusesDefault(column: string, type: string, expression: string): Promise<string | undefined> {
    const probe = this.quote('_zm_probe');
    try {
      // One session for the temporary table, which is the session's own.
      await this.knex.transaction(async (trx) => {
        await trx.raw(literalMarks(`CREATE TEMPORARY TABLE ${probe} (${this.columnDefinition(column, { type, default: expression })})`));
        await trx.raw(`DROP TEMPORARY TABLE ${probe}`);
      });
    } catch (error) {
      // The default's own fault (ER_INVALID_DEFAULT; MySQL's ER_BLOB_CANT_HAVE_DEFAULT for a TEXT or JSON type).
      // Anything else (no privilege for a temporary table) is left to the steps that use it.
      const { code } = error as { code?: unknown };
      if (code === 'ER_INVALID_DEFAULT' || code === 'ER_BLOB_CANT_HAVE_DEFAULT') return serverText(error);
    }
    return undefined;
  }

  async mutable(row: string, expression: string, type: string): Promise<boolean | undefined> {
    const probe = this.quote('_zm_mutable_row');
    // One session for the temporary table, which is the session's own; dropped whatever happens.
    return this.knex.transaction(async (trx) => {
      try {
        await trx.raw(`CREATE TEMPORARY TABLE ${probe} AS ${row}`);
        await trx.raw(`ALTER TABLE ${probe} ADD COLUMN ${this.quote('_zm_value')} ${type} AS (${expression}) STORED`);
        return false;
      } catch (error) {
        // A stored generated column takes no expression the server will not call deterministic: MariaDB's
        // ER_GENERATED_COLUMN_FUNCTION_IS_NOT_ALLOWED (1901, now() and stored functions and subqueries alike), MySQL's
        // (3102) and its named-function form (3763). Anything else (no privilege for a temporary table) tells nothing.
        return [1901, 3102, 3763].includes((error as { errno?: number }).errno ?? 0) ? true : undefined;
      } finally {
        await trx.raw(`DROP TEMPORARY TABLE IF EXISTS ${probe}`).catch(() => undefined);
      }
    });
  }

  columnDefinition(name: string, spec: ColumnSpec & { onUpdate?: string }, options: { invisible?: boolean } = {}): string {
    const parts = [this.quote(name), spec.type, spec.nullable === false ? 'NOT NULL' : 'NULL'];
    if (spec.default !== undefined) parts.push(`DEFAULT ${spec.default}`);
    if (spec.onUpdate !== undefined) parts.push(`ON UPDATE ${spec.onUpdate}`);
    if (options.invisible) parts.push('INVISIBLE');
    return parts.join(' ');
  }

  createTable(table: string, columns: Record<string, ColumnSpec>, primaryKey: string[]): Step {
    const defs = Object.entries(columns).map(([name, spec]) =>
      this.columnDefinition(name, { ...spec, nullable: primaryKey.includes(name) ? false : spec.nullable }),
    );
    if (primaryKey.length > 0) defs.push(`PRIMARY KEY (${primaryKey.map((c) => this.quote(c)).join(', ')})`);
    for (const [name, spec] of Object.entries(columns)) {
      if (spec.unique) defs.push(`UNIQUE (${this.quote(name)})`);
    }
    return step(`create table ${table}`, `CREATE TABLE ${this.table(table)} (\n  ${defs.join(',\n  ')}\n)`, {
      guard: { kind: 'tableExists', table },
    });
  }

  dropTable(table: string): Step {
    return step(`drop table ${table}`, `DROP TABLE IF EXISTS ${this.table(table)}`, { guard: { kind: 'tableMissing', table } });
  }

  addColumn(table: string, column: string, spec: ColumnSpec, options: { invisible: boolean; after?: string }): Step {
    const after = options.after === undefined ? '' : ` AFTER ${this.quote(options.after)}`;
    return step(
      `add column ${table}.${column}`,
      `ALTER TABLE ${this.table(table)} ADD COLUMN ${this.columnDefinition(column, spec, options)}${after}, LOCK=NONE`,
      { guard: { kind: 'columnExists', table, column }, instantWhereAllowed: true },
    );
  }

  setDefault(table: string, column: string, expression: string): Step {
    // In parentheses: MySQL 8 takes an expression there only so (MariaDB either way).
    return step(
      `default of ${table}.${column} for new rows`,
      `ALTER TABLE ${this.table(table)} ALTER COLUMN ${this.quote(column)} SET DEFAULT (${expression}), LOCK=NONE`,
      { instant: true },
    );
  }

  dropColumn(table: string, column: string, foreignKeys: string[] = []): Step {
    // InnoDB keeps a column its foreign keys use: they go in the same statement (the guard skips it once done).
    const dropKeys = this.#dropKeys(foreignKeys);
    return step(
      `drop column ${table}.${column}`,
      `ALTER TABLE ${this.table(table)} ${dropKeys}DROP COLUMN ${this.quote(column)}, LOCK=NONE`,
      {
        guard: { kind: 'columnMissing', table, column },
        instantWhereAllowed: true,
      },
    );
  }

  finalizeColumn(
    table: string,
    column: string,
    spec: ColumnSpec,
    options: { invisible: boolean; keptByTrigger?: boolean; preserved?: string[] },
  ): Step | undefined {
    if (!options.invisible && spec.nullable !== false && spec.default === undefined) return undefined;
    const modify = `ALTER TABLE ${this.table(table)} MODIFY COLUMN ${this.columnDefinition(column, spec)}, LOCK=NONE`;
    const fill = options.keptByTrigger ? this.#fillNullsLeft(table, column, spec, options.preserved ?? []) : [];
    return step(`finalize column ${table}.${column}`, [...fill, modify].join(';\n'), fill.length > 0 ? { instantWhereAllowed: true } : {});
  }

  /** MODIFY restates the whole column: everything but NULL is written as it was, or it would be lost (a collation, a comment, ON UPDATE). */
  setNotNull(table: string, column: string, spec: FinalColumn & { invisible?: boolean }): Step {
    const definition = this.columnDefinition(column, { ...spec, nullable: false }, { invisible: spec.invisible });
    const comment = spec.comment ? ` COMMENT ${this.literal(spec.comment)}` : '';
    return step(`set not null ${table}.${column}`, `ALTER TABLE ${this.table(table)} MODIFY COLUMN ${definition}${comment}, LOCK=NONE`);
  }

  renameColumn(table: string, from: string, to: string): Step {
    return step(
      `rename column ${table}.${from} to ${to}`,
      `ALTER TABLE ${this.table(table)} RENAME COLUMN ${this.quote(from)} TO ${this.quote(to)}, LOCK=NONE`,
      {
        guard: { kind: 'columnMissing', table, column: from },
        breaksViews: true,
        instantWhereAllowed: true,
      },
    );
  }

  /** Indexes on the old column are dropped whole (MySQL would otherwise only take the column out of them). */
  replaceColumn(
    table: string,
    column: string,
    helper: string,
    spec: FinalColumn,
    indexes: string[],
    foreignKeys: string[],
    preserved: string[] = [],
  ): Step {
    // InnoDB drops neither a column's foreign keys nor its indexes with it: named first, in the same statement.
    const dropIndexes = this.#dropKeys(foreignKeys) + indexes.map((i) => `DROP INDEX ${this.quote(i)}, `).join('');
    const comment = spec.comment ? ` COMMENT ${this.literal(spec.comment)}` : '';
    const replace = `ALTER TABLE ${this.table(table)} ${dropIndexes}DROP COLUMN ${this.quote(column)}, CHANGE COLUMN ${this.quote(helper)} ${this.columnDefinition(column, spec)}${comment}, LOCK=NONE`;
    return step(`replace column ${table}.${column}`, [...this.#fillNullsLeft(table, helper, spec, preserved), replace].join(';\n'), {
      guard: { kind: 'columnMissing', table, column: helper },
      breaksViews: true,
      instantWhereAllowed: true,
    });
  }

  /**
   * What runs before a column a dual-write trigger kept filled becomes NOT
   * NULL with a default. Contract drops the trigger first (no transactional
   * DDL), so an insert of the new app that leaves the column out stores NULL
   * in it until the ALTER, and during its online rebuild: the ALTER would
   * fail on that row, and so would every rerun. The final default is set
   * first, which such inserts then get, and the NULLs already written get it
   * too, in the same step, run again with it, so none written before a retry
   * is missed. READ COMMITTED: the UPDATE keeps locks only on the rows it
   * changes, not on every row its scan reads. Without a default, there is no
   * value the new app asked for: such a row still stops the ALTER. The
   * `preserved` columns (ON UPDATE CURRENT_TIMESTAMP) are set to themselves,
   * so those rows keep them; the table's own UPDATE triggers do fire for them.
   */
  #fillNullsLeft(table: string, column: string, spec: ColumnSpec, preserved: string[]): string[] {
    if (spec.nullable !== false || spec.default === undefined) return [];
    const q = this.quote(column);
    const kept = preserved.filter((c) => !this.rules.sameColumn(c, column)).map((c) => `, ${this.quote(c)} = ${this.quote(c)}`);
    return [
      this.setDefault(table, column, spec.default).sql,
      'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
      `UPDATE ${this.table(table)} SET ${q} = DEFAULT${kept.join('')} WHERE ${q} IS NULL`,
    ];
  }

  placeholderDefault(table: string, column: string, type: string, foreignKeys: string[] = []): Step | undefined {
    const t = type.toLowerCase();
    const value = /int|dec|num|float|double|real|bit|bool|year/.test(t)
      ? '0'
      : /^(var)?char|text|binary|blob|enum|set/.test(t)
        ? "''"
        : /^(date|datetime|timestamp)/.test(t)
          ? "'1970-01-01 00:00:01'"
          : /^time/.test(t)
            ? "'00:00:00'"
            : undefined;
    if (value === undefined) return undefined;
    // Dropping a foreign key changes the catalog only. IF EXISTS, for a rerun, is MariaDB's: MySQL's stops such a
    // rerun ("check that it exists"), which then needs the placeholder's ALTER run by hand.
    const dropKeys = this.#dropKeys(foreignKeys, this.#mariadb);
    return step(
      `placeholder default for ${table}.${column}`,
      `ALTER TABLE ${this.table(table)} ${dropKeys}ALTER COLUMN ${this.quote(column)} SET DEFAULT ${value}`,
      { prepares: true },
    );
  }

  createTrigger(table: string, name: string, rules: DualWriteRule[], versionSchema: string, options: { rulesOnly?: boolean } = {}): Step {
    // Never asked here (capabilities.updateTriggerLocksRows is false): the triggers are made IF NOT EXISTS.
    if (options.rulesOnly) throw new Error('MySQL/MariaDB cannot change the rules of a dual-write trigger in place');
    // Inside a trigger DATABASE() is the trigger's database, so the session says which version it is.
    const newApp = `(@zmigrate_version IS NOT NULL AND @zmigrate_version >= ${this.literal(versionSchema)})`;
    // A column's new and old values are told apart by their bytes too (changedValue): a write that changes a
    // string's case, accents or trailing spaces, equal under the column's collation, changed the column.
    const syntax: RuleSyntax = { quote: (i) => this.quote(i), distinct: changedValue, newApp };
    const trigger = (event: 'INSERT' | 'UPDATE', suffix: string) => {
      const key = event === 'INSERT' ? 'onInsert' : 'onUpdate';
      const active = rules.filter((r) => r[key]);
      if (active.length === 0) return undefined;
      const flags = active.map((_, i) => `DECLARE c${i} BOOLEAN DEFAULT FALSE;`).join(' ');
      const decide = active.map((r, i) => `SET c${i} = ${renderCondition(r[key]!, syntax)};`).join('\n    ');
      const apply = active
        .map((r, i) => `IF c${i} THEN SET NEW.${this.quote(r.target)} = ${renderValue(r, syntax)}; END IF;`)
        .join('\n    ');
      return `CREATE TRIGGER IF NOT EXISTS ${this.qualify(this.baseSchema, name + suffix)} BEFORE ${event} ON ${this.table(table)} FOR EACH ROW
BEGIN
  ${flags}
  IF @zmigrate_backfill IS NULL THEN
    ${decide}
    ${apply}
  END IF;
END`;
    };
    // UPDATE first: with it alone in place (a run stopped between the two), a row an app inserts is left for the
    // backfill, which fills what is NULL, and its updates are followed; with INSERT alone, a row filled on insert
    // would miss its updates, and the backfill would skip it as filled.
    const statements = [trigger('UPDATE', '_bu'), trigger('INSERT', '_bi')].filter((t): t is string => t !== undefined);
    return step(`dual-write trigger on ${table}`, statements.join(';\n'), { instant: true });
  }

  dropTrigger(table: string, name: string): Step {
    return step(
      `drop dual-write trigger on ${table}`,
      TRIGGER_SUFFIXES.map((suffix) => `DROP TRIGGER IF EXISTS ${this.qualify(this.baseSchema, name + suffix)}`).join(';\n'),
      { instant: true },
    );
  }

  async listTriggers(prefix: string): Promise<Array<{ table: string; name: string }>> {
    const rows = await this.rows(
      'SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS table_name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND LEFT(TRIGGER_NAME, ?) = ?',
      [this.baseSchema, prefix.length, prefix],
    );
    const seen = new Map<string, { table: string; name: string }>();
    for (const r of rows) {
      const name = String(r.name).replace(TRIGGER_SUFFIX, '');
      seen.set(name, { table: String(r.table_name), name });
    }
    return [...seen.values()];
  }

  async preservedOnUpdate(table: string): Promise<string[]> {
    const rows = await this.rows(
      "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE '%on update%'",
      [this.baseSchema, table],
    );
    return rows.map((r) => String(r.name));
  }

  /**
   * The expression's value is first converted as the column converts what it
   * stores, where CAST can say that exactly (castTarget): a double 12.345
   * stored into decimal(12,2) is 12.35, which the column holds rightly. Other
   * types are compared as they are, under the column's collation for strings.
   */
  holdsOtherThan(column: string, expression: string, type: string): string {
    const target = castTarget(type);
    return `NOT (${column} <=> ${target ? `CAST((${expression}) AS ${target})` : `(${expression})`})`;
  }

  async estimateRows(table: string): Promise<number | undefined> {
    const [row] = await this.rows('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
      this.baseSchema,
      table,
    ]);
    return positiveFigure(row?.n);
  }

  /** Off-page BLOB and TEXT values count too (DATA_LENGTH holds their pages): a copy writes them again. */
  async estimateRowBytes(table: string): Promise<number | undefined> {
    const [row] = await this.rows(
      'SELECT (DATA_LENGTH + INDEX_LENGTH) / TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_ROWS > 0',
      [this.baseSchema, table],
    );
    return positiveFigure(row?.n);
  }

  typedNull(): string {
    return 'NULL';
  }

  backfillFlag(on: true): string;
  backfillFlag(on: boolean): string | undefined;
  backfillFlag(on: boolean): string | undefined {
    return on ? 'SET @zmigrate_backfill = 1' : 'SET @zmigrate_backfill = NULL';
  }

  renameIndex(table: string, from: string, to: string): Step {
    return step(
      `rename index ${from} to ${to}`,
      `ALTER TABLE ${this.table(table)} RENAME INDEX ${this.quote(from)} TO ${this.quote(to)}, LOCK=NONE`,
      {
        guard: { kind: 'indexMissing', table, index: from },
      },
    );
  }

  /** With each column's prefix length and order, and the index's kind, comment and visibility, as given. */
  createIndex(table: string, index: IndexDefinition): Step {
    const cols = index.columns
      .map((c, i) => {
        const part = index.parts?.[i];
        return `${this.quote(c)}${part?.length ? `(${Number(part.length)})` : ''}${part?.descending ? ' DESC' : ''}`;
      })
      .join(', ');
    const kind = index.kind === 'fulltext' || index.kind === 'spatial' ? `${index.kind.toUpperCase()} ` : index.unique ? 'UNIQUE ' : '';
    const comment = index.comment ? ` COMMENT ${this.literal(index.comment)}` : '';
    const ignored = index.ignored ? (this.#mariadb ? ' IGNORED' : ' INVISIBLE') : '';
    return step(
      `create index ${index.name}`,
      `ALTER TABLE ${this.table(table)} ADD ${kind}INDEX ${this.quote(index.name)} (${cols})${index.kind === 'hash' ? ' USING HASH' : ''}${comment}${ignored}, ALGORITHM=INPLACE, LOCK=NONE`,
      { guard: { kind: 'indexExists', table, index: index.name } },
    );
  }

  /**
   * InnoDB builds a FULLTEXT or SPATIAL index only under a lock that blocks
   * writes (LOCK=SHARED at best), and MariaDB's unique index over a long
   * column (USING HASH, on a hidden virtual column) only by copying the table.
   */
  indexNotOnline(index: IndexModel): string | undefined {
    if (index.kind === 'hash')
      return `${this.displayName} builds a unique index USING HASH (over a long column) only by copying the table (not with ALGORITHM=INPLACE, LOCK=NONE)`;
    if (!index.kind) return undefined;
    return `${this.displayName} builds a ${index.kind.toUpperCase()} index only under a lock that blocks writes (not with LOCK=NONE)`;
  }

  dropIndex(table: string, index: string): Step {
    return step(`drop index ${index}`, `ALTER TABLE ${this.table(table)} DROP INDEX ${this.quote(index)}, ALGORITHM=INPLACE, LOCK=NONE`, {
      guard: { kind: 'indexMissing', table, index },
    });
  }

  /**
   * With foreign_key_checks on, InnoDB adds a foreign key only by copying the
   * table under a write lock (ALGORITHM=COPY, LOCK=SHARED). With it off, for
   * this one statement, the key is added in place with concurrent writes
   * (ALGORITHM=INPLACE, LOCK=NONE; metadata only, the index having been built
   * online just before when none served): new writes are checked from then on,
   * and the rows already there are verified apart, in chunks, after it.
   */
  addForeignKey(table: string, fk: ForeignKeyDefinition): Step {
    const alter = `ALTER TABLE ${this.table(table)} ADD ${this.#foreignKey(fk)}, ALGORITHM=INPLACE, LOCK=NONE`;
    return step(`add foreign key ${fk.name} (existing rows verified next)`, this.#withoutKeyChecks(alter), {
      guard: { kind: 'constraintExists', table, constraint: fk.name },
    });
  }

  /**
   * No RENAME for a foreign key: the key under its new name is added, as
   * addForeignKey adds one (in place, not checking the rows, which the old
   * key already held), and the old one dropped, in one statement, so the
   * column is never without a key.
   */
  get renameForeignKey(): ((table: string, from: string, to: ForeignKeyDefinition) => Step) | undefined {
    // MySQL has no DROP FOREIGN KEY IF EXISTS, which placeholderDefault needs to be run again.
    return this.#mariadb ? (table, from, to) => this.#renameForeignKey(table, from, to) : undefined;
  }

  #renameForeignKey(table: string, from: string, to: ForeignKeyDefinition): Step {
    const alter = `ALTER TABLE ${this.table(table)} DROP FOREIGN KEY ${this.quote(from)}, ADD ${this.#foreignKey(to)}, ALGORITHM=INPLACE, LOCK=NONE`;
    return step(`rename foreign key ${from} to ${to.name}`, this.#withoutKeyChecks(alter), {
      guard: { kind: 'constraintMissing', table, constraint: from },
    });
  }

  /**
   * InnoDB: integers of the same size and sign (a display width aside), and
   * strings of any length; any other type only the same. (The character
   * sets of strings must match too, which the model does not hold: the
   * server refuses such a key when it is added, before the old one goes.)
   */
  keyTypesMatch(child: string, parent: string): boolean {
    const kind = (type: string) => {
      const t = type.toLowerCase().trim().replace(/\s+/g, ' ');
      if (/^(var)?char\b/.test(t)) return 'string';
      if (/^(var)?binary\b/.test(t)) return 'binary';
      return t.replace(/^((?:tiny|small|medium|big)?int|integer)\(\d+\)/, '$1').replace(/^integer\b/, 'int');
    };
    return kind(child) === kind(parent);
  }

  /**
   * ColumnModel.holders, as far as names tell: the generated columns whose
   * expression names a column (MariaDB then refuses to drop it), and the
   * table's triggers that read or set it as NEW.column or OLD.column (every
   * write would fail once it is gone). zmigrate's own triggers are left out.
   */
  #holders(tables: Map<string, TableModel>, columns: Array<Record<string, unknown>>, triggers: Array<Record<string, unknown>>): void {
    const hold = (table: string, column: string, holder: ColumnHolder) => {
      const found = tables.get(table)?.columns.find((c) => this.rules.sameColumn(c.name, column));
      if (found) found.holders = [...(found.holders ?? []), holder];
    };
    for (const g of columns.filter((c) => c.generation)) {
      const table = String(g.table_name);
      for (const c of tables.get(table)?.columns ?? [])
        if (String(g.generation).toLowerCase().includes(this.quote(c.name).toLowerCase()))
          hold(table, c.name, { kind: 'generated column', name: String(g.column_name) });
    }
    for (const t of triggers.filter((t) => !String(t.name).startsWith('_zm_'))) {
      const table = String(t.table_name);
      for (const c of tables.get(table)?.columns ?? [])
        if (namesRowColumn(String(t.body), c.name, (n) => this.quote(n))) hold(table, c.name, { kind: 'trigger', name: String(t.name) });
    }
  }

  /** `DROP FOREIGN KEY [IF EXISTS] k, ` for each key, to open an ALTER TABLE's list of changes. */
  #dropKeys(keys: string[], ifExists = false): string {
    return keys.map((k) => `DROP FOREIGN KEY ${ifExists ? 'IF EXISTS ' : ''}${this.quote(k)}, `).join('');
  }

  /** `CONSTRAINT … FOREIGN KEY (…) REFERENCES … (…)[ ON DELETE …]`, for ALTER TABLE … ADD. */
  #foreignKey(fk: ForeignKeyDefinition): string {
    const cols = fk.columns.map((c) => this.quote(c)).join(', ');
    const refs = fk.references.columns.map((c) => this.quote(c)).join(', ');
    const onDelete = fk.onDelete ? ` ON DELETE ${FOREIGN_KEY_ACTIONS[fk.onDelete]}` : '';
    return `CONSTRAINT ${this.quote(fk.name)} FOREIGN KEY (${cols}) REFERENCES ${this.table(fk.references.table)} (${refs})${onDelete}`;
  }

  /**
   * An ALTER TABLE that adds a foreign key in place (foreign_key_checks off,
   * for that statement only). MySQL has no per-statement form: the session
   * flag is set back right after (a new session starts with it on).
   */
  #withoutKeyChecks(alter: string): string {
    return this.#mariadb
      ? `SET STATEMENT foreign_key_checks = 0 FOR ${alter}`
      : `SET SESSION foreign_key_checks = 0;\n${alter};\nSET SESSION foreign_key_checks = 1`;
  }

  /** The index zmigrate built for the key, named after it, goes too (guarded: there is none when another index served). */
  dropForeignKey(table: string, name: string): Step[] {
    return [
      step(
        `drop foreign key ${name}`,
        `ALTER TABLE ${this.table(table)} DROP FOREIGN KEY ${this.quote(name)}, ALGORITHM=INPLACE, LOCK=NONE`,
        {
          guard: { kind: 'constraintMissing', table, constraint: name },
        },
      ),
      this.dropIndex(table, name),
    ];
  }

  /**
   * Views name tables by name here, so a plain rename would leave the new
   * app's views invalid until they are recreated. Instead a bridge view
   * `to` over `from` comes first, the runner recreates the views on it, and
   * one RENAME TABLE moves the bridge aside and the table to `to` at once:
   * the views read the table from the next statement on. (A statement that
   * queued behind the RENAME's locks can still fail with errno 1356, far
   * fewer than in the gap before the views were recreated.)
   */
  renameTable(from: string, to: string): Step[] {
    const bridge = bridgeView(from);
    return [
      step(
        `rename table ${from} to ${to}`,
        [
          `CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW ${this.table(to)} AS SELECT * FROM ${this.table(from)}`,
          `RENAME TABLE ${this.table(to)} TO ${this.table(bridge)}, ${this.table(from)} TO ${this.table(to)}`,
        ].join(';\n'),
        { guard: { kind: 'tableMissing', table: from }, swapsViews: true, instant: true },
      ),
      step(`drop bridge view ${bridge}`, `DROP VIEW IF EXISTS ${this.table(bridge)}`),
    ];
  }

  createSchema(name: string): Step {
    return step(`create version schema ${name}`, `CREATE DATABASE IF NOT EXISTS ${this.quote(name)}`, { locks: false });
  }

  dropSchema(name: string): Step {
    return step(`drop version schema ${name}`, `DROP DATABASE IF EXISTS ${this.quote(name)}`);
  }

  replaceView(schema: string, view: ViewTable): Step[] {
    const columns = view.columns.map((c) => `${this.quote(c.source)} AS ${this.quote(c.name)}`).join(', ');
    return [
      step(
        `view ${schema}.${view.name}`,
        `CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW ${this.qualify(schema, view.name)} AS SELECT ${columns} FROM ${this.table(view.source)}`,
      ),
    ];
  }

  dropView(schema: string, view: string): Step {
    return step(`drop view ${schema}.${view}`, `DROP VIEW IF EXISTS ${this.qualify(schema, view)}`);
  }

  private table(name: string): string {
    return this.qualify(this.baseSchema, name);
  }

  private async rows(sql: string, bindings: readonly unknown[] = []): Promise<Row[]> {
    const [rows] = (await this.knex.raw(sql, bindings as Knex.RawBinding[])) as [Row[]];
    return rows;
  }
}

/**
 * REFERENTIAL_CONSTRAINTS.DELETE_RULE values that zmigrate writes again.
 * InnoDB's RESTRICT and NO ACTION are the same; MariaDB shows a key without
 * ON DELETE as RESTRICT and one with ON DELETE RESTRICT as NO ACTION, so
 * RESTRICT is written again as no clause.
 */
const ON_DELETE: Readonly<Record<string, ForeignKeyAction | undefined>> = {
  RESTRICT: undefined,
  'NO ACTION': 'no action',
  CASCADE: 'cascade',
  'SET NULL': 'set null',
};

/** A foreign key's target as alterColumn can build it again (ForeignKeyReference), from its first column's catalog row. */
function rebuildableReference(k: Row): ForeignKeyReference | undefined {
  // ON UPDATE: only the default (RESTRICT, which MariaDB shows, or NO ACTION), which the key is written with again.
  const plain = (k.on_update === 'RESTRICT' || k.on_update === 'NO ACTION') && Object.hasOwn(ON_DELETE, String(k.on_delete));
  if (!plain || k.ref_table === null) return undefined;
  const onDelete = ON_DELETE[String(k.on_delete)];
  return { table: String(k.ref_table), columns: [String(k.ref_column)], ...(onDelete ? { onDelete } : {}) };
}

/** What an index is besides its columns, from its first STATISTICS row: kind, comment, visibility. */
function indexOptions(ix: Row): Pick<IndexModel, 'kind' | 'comment' | 'ignored'> {
  const type = String(ix.INDEX_TYPE);
  const kind = type === 'FULLTEXT' ? 'fulltext' : type === 'SPATIAL' ? 'spatial' : type === 'HASH' ? 'hash' : undefined;
  const ignored = ix.IGNORED === 'YES' || ix.IS_VISIBLE === 'NO';
  return { ...(kind ? { kind } : {}), ...(ix.INDEX_COMMENT ? { comment: String(ix.INDEX_COMMENT) } : {}), ...(ignored ? { ignored } : {}) };
}

/** One column of an index, with its prefix length and order where they are not the whole column ascending (COLLATION 'D': MariaDB 10.8+, MySQL 8). */
function addIndexPart(index: IndexModel, column: string, ix: Row): void {
  const part = { ...(ix.SUB_PART === null ? {} : { length: Number(ix.SUB_PART) }), ...(ix.COLLATION === 'D' ? { descending: true } : {}) };
  index.columns.push(column);
  if (Object.keys(part).length === 0 && !index.parts) return;
  index.parts = [...(index.parts ?? index.columns.slice(1).map(() => ({}))), part];
}

/** The name a renamed table's bridge view is moved aside to: `_zm_bridge_` and a hash, short enough for any table name. */
function bridgeView(table: string): string {
  return `_zm_bridge_${createHash('sha256').update(table).digest('hex').slice(0, 16)}`;
}

/**
 * The column's ON UPDATE value as EXTRA shows it (`on update current_timestamp(3)`),
 * written out anew from its precision: the only value the server allows there.
 */
function onUpdateOf(extra: string): { onUpdate?: string } {
  const found = /\bon update current_timestamp(?:\((\d*)\))?/i.exec(extra);
  return found ? { onUpdate: `current_timestamp(${found[1] ?? ''})` } : {};
}

/** Whether a column's collation is its own, not its table's: one a column added without saying would not get. */
function ownCollation(column: unknown, table: unknown): boolean {
  return column !== null && column !== undefined && table !== null && table !== undefined && String(column) !== String(table);
}

/** Names in the order information_schema sorts them, case aside (its collation ignores case), then by case. */
function compareText(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * True where a column's value in the new row differs from the one in the old
 * row, NULLs included: by value (<=>) or by bytes (the value cast to a binary
 * string). A comparison by value alone goes by the column's collation, under
 * which 'alice' and 'Alice', 'Jose' and 'José', or 'a' and 'a ' are equal,
 * though the write changed what the column holds. Both sides are the same
 * column, of one type, so their binary strings are written alike (a decimal
 * with its scale, a date with its precision, a double with all its digits).
 */
function changedValue(a: string, b: string): string {
  return `(NOT (${a} <=> ${b}) OR NOT (CAST(${a} AS BINARY) <=> CAST(${b} AS BINARY)))`;
}

/**
 * What CAST converts a value to as a column of this type converts what it
 * stores (rounding a number to the column's scale, half away from zero for
 * a decimal, to even for a double; cutting a date's time, or a time's
 * fraction, at the column's precision, as the server does on either
 * side; padding a binary(n) with zero bytes), for the types where the two
 * agree; undefined for the others, whose value is compared as it is.
 * One case is off, on the safe side: into an integer column CAST cuts a
 * string that holds a fraction ('2.5' gives 2) where the column rounds it
 * (3), so such a row is reported, never passed.
 */
function castTarget(type: string): string | undefined {
  const match = /^\s*([a-z]\w*)\s*(?:\(\s*([^)]*?)\s*\))?\s*(.*)$/is.exec(type);
  if (!match) return undefined;
  const [, word, args, rest] = match;
  const name = word.toLowerCase();
  const digits = args === undefined || /^\d+$/.test(args);
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|int[1-48]|middleint|bool|boolean)$/.test(name))
    return /\bunsigned\b/i.test(rest) ? 'UNSIGNED' : 'SIGNED';
  if (/^(decimal|dec|numeric|fixed)$/.test(name)) {
    if (args === undefined) return 'DECIMAL';
    return /^\d+(\s*,\s*\d+)?$/.test(args) ? `DECIMAL(${args.replace(/\s+/g, '')})` : undefined;
  }
  // float(p) above 24 is a double, which a comparison takes as it is; float(m, d) rounds to d places besides.
  if (name === 'float') return args === undefined || (digits && Number(args) <= 24) ? 'FLOAT' : undefined;
  if (name === 'datetime' || name === 'timestamp') return digits ? `DATETIME${args === undefined ? '' : `(${args})`}` : undefined;
  if (name === 'time') return digits ? `TIME${args === undefined ? '' : `(${args})`}` : undefined;
  if (name === 'date' && args === undefined) return 'DATE';
  if (name === 'binary' && args !== undefined && digits) return `BINARY(${args})`;
  return undefined;
}
