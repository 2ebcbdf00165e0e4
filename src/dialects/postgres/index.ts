import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import type { ColumnSpec, ForeignKeyAction } from '../../migration/types';
import {
  constraintOf,
  SchemaModel,
  type ColumnGrant,
  type ColumnHolder,
  type Deferrable,
  type ForeignKeyReference,
  type IdentifierRules,
  type QualifiedName,
  type TableModel,
  type ViewTable,
} from '../../engine/schema-model';
import { step, type Step } from '../../engine/step';
import { positiveFigure } from '../../engine/raw-result';
import { helperColumn, namesIdentifier, renderCondition, renderValue, type DualWriteRule, type RuleSyntax } from '../../engine/dual-write';
import {
  FOREIGN_KEY_ACTIONS,
  type Dialect,
  type DialectCapabilities,
  type ErrorClass,
  type ForeignKeyDefinition,
  type FinalColumn,
  type IndexDefinition,
  type IndexState,
  LockWaitStopped,
  type RowAddress,
  type Unreachable,
  type VersionTable,
} from '../dialect';
import { lexSql, POSTGRES_LEX, splitSql } from '../sql-split';
import { needsNoTransaction } from './no-transaction';
import { indexBuiltConcurrently } from './concurrent-index';
import { addToUrlOptions, sessionSetting } from './session-options';
import { bound, literalMarks, param } from '../bound-sql';
import { failedStatementVerb, serverText } from '../permission';
import type { LagSource } from '../../engine/throttle';
import { connectPostgresReplica, PrimaryReplicationLag } from './replication';
import { loadPgDriver } from './driver';
import { pgClient } from './client';
import { ConfigError, RunnerLockError } from '../../errors';
import { LOCK_TAKEN, RETAKE_LOCK_MS, whenSessionEnds } from '../runner-session';
import { workerPool } from '../worker-sessions';
import { namesRowColumn } from '../row-references';
import { viewColumns } from '../view-columns';

/** The privileges a column can be granted on its own: only these are written back (ColumnModel.grants). */
const COLUMN_PRIVILEGES: ReadonlyArray<ColumnGrant['privilege']> = ['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'];

const LEX = POSTGRES_LEX;
/** zmigrate's own schema: `zmigrate` for base schema public, `zmigrate_<base>` for another (`?schema=` in the URL). */
export function stateSchemaFor(baseSchema: string): string {
  return baseSchema === 'public' ? 'zmigrate' : `zmigrate_${baseSchema}`;
}

const exactRules: IdentifierRules = {
  sameTable: (a, b) => a === b,
  sameColumn: (a, b) => a === b,
};

interface Row {
  [key: string]: unknown;
}

/** PostgreSQL through node-postgres. Also the base of the embedded PGlite dialect. */
/** The pg client, as the pool's afterCreate hook gets it. */
interface PgSession {
  query(sql: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}
type AfterCreateDone = (error: Error | null, conn: unknown) => void;

/** How often the server checks, during a long statement, that a zmigrate client is still there. */
const CLIENT_CHECK_MS = 500;

export class PostgresDialect implements Dialect {
  readonly displayName: string = 'PostgreSQL';
  readonly sqlFlavour = 'postgres' as const;
  readonly updateLockClause = 'FOR NO KEY UPDATE';
  readonly capabilities: DialectCapabilities = {
    transactionalDdl: true,
    concurrentIndexOutsideTransaction: true,
    invisibleColumns: false,
    placesColumns: false,
    partialIndexes: true,
    notValidConstraints: true,
    foreignKeyIndex: false,
    updateTriggerLocksRows: true,
    lockingReadWaitsOnScannedRows: false,
    maxIdentifierLength: 63,
    movesIdentity: true,
    notNullTimestampOnline: true,
    indexNamesPerTable: false,
    triggersSeeGeneratedColumns: false,
    foreignKeyNamesPerSchema: false,
    viewsHoldColumns: true,
    viewColumnDefaults: true,
  };
  readonly rules = exactRules;
  #knex: Knex | undefined;
  readonly #config: Knex.Config;
  #lockKey: [number, number];
  readonly #stateSchema: string;
  /** The user may set session_replication_role, so the backfill can run with no trigger firing. */
  #skipsTriggers = false;
  /** True between acquireRunnerLock and releaseRunnerLock: a new session must take the lock again. */
  #holdsRunnerLock = false;
  #workers: Knex | undefined;
  readonly workerSessions?: (count: number) => Knex;

  /** The knex is made on first use, so a subclass can prepare first (PGlite locks its folder). */
  constructor(
    config: Knex.Config,
    readonly baseSchema: string = 'public',
  ) {
    // A server's sessions (node-postgres), not PGlite's one in-process connection.
    const server = config.client === pgClient();
    this.#config = server
      ? { ...config, pool: { ...config.pool, afterCreate: (conn: PgSession, done: AfterCreateDone) => this.#newSession(conn, done) } }
      : config;
    if (server) {
      this.workerSessions = (count) =>
        (this.#workers ??= workerPool<PgSession>(config, count, async (conn) => {
          await this.#checkClient(conn);
          await conn.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED', []);
        }));
    }
    this.#stateSchema = stateSchemaFor(baseSchema);
    const digest = createHash('sha256').update(`zmigrate:${baseSchema}`).digest();
    this.#lockKey = [digest.readInt32BE(0), digest.readInt32BE(4)];
  }

  static fromUrl(url: URL, options: { lockTimeoutMs: number }): PostgresDialect {
    loadPgDriver();
    const schema = url.searchParams.get('schema') ?? 'public';
    // zmigrate's state schema is named after it, and knex's query builder would read its `?` as a placeholder.
    if (schema.includes('?'))
      throw new ConfigError(`schema name ${JSON.stringify(schema)} in the database URL has a "?", which zmigrate does not support`);
    const connection = new URL(url.toString());
    connection.searchParams.delete('schema');
    // Every session (the runner's, a replacement after a lost connection, the backfill's workers) starts under the
    // lock timeout. node-postgres lets an `options` parameter of the URL win over the config's, so it goes there too.
    // With a base schema of its own, unqualified names in raw SQL, custom phases and up/down resolve there first,
    // then in public (where extensions usually are).
    const sessionOptions = [
      sessionSetting('lock_timeout', String(Math.max(1, Math.round(options.lockTimeoutMs)))),
      ...(schema === 'public' ? [] : [sessionSetting('search_path', `"${schema.replace(/"/g, '""')}", public`)]),
    ].join(' ');
    addToUrlOptions(connection, sessionOptions);
    return new PostgresDialect(
      {
        client: pgClient(),
        connection: {
          connectionString: connection.toString(),
          application_name: 'zmigrate',
          connectionTimeoutMillis: 10_000,
          options: sessionOptions,
        } as Knex.PgConnectionConfig,
        pool: { min: 1, max: 1 },
        acquireConnectionTimeout: 15_000,
        // knex would print connection errors with a stack to stdout; zmigrate reports them itself.
        log: { warn: () => undefined },
      },
      schema,
    );
  }

  get knex(): Knex {
    this.#knex ??= knexFactory(this.#config);
    return this.#knex;
  }

  quote(identifier: string): string {
    return `"${identifier.replace(/"/g, '""')}"`;
  }

  qualify(schema: string, name: string): string {
    return `${this.quote(schema)}.${this.quote(name)}`;
  }

  splitStatements(sql: string): string[] {
    return splitSql(sql, LEX);
  }

  lexSql(sql: string): { statements: string[]; hasComments: boolean } {
    return lexSql(sql, LEX);
  }

  needsNoTransaction(statement: string): boolean {
    return needsNoTransaction(statement);
  }

  keyText(quoted: string): string {
    return `${quoted}::text`;
  }

  indexBuiltConcurrently(statement: string): { table: string; index: string } | undefined {
    return indexBuiltConcurrently(statement, this.baseSchema);
  }

  missingPrivilege(error: unknown): string | undefined {
    const text = serverText(error);
    const verb = failedStatementVerb(error);
    const owner = /must be owner of (table|relation|view|materialized view|index|sequence|function|schema|database|type) (\S+)/.exec(text);
    if (owner) return `ownership of ${owner[1]} ${owner[2]}`;
    const database = /permission denied for database "?([^"\s]+)"?/.exec(text);
    if (database) return `${verb === 'create' ? 'CREATE' : 'CONNECT'} on database ${database[1]}`;
    const schema = /permission denied for schema (\S+)/.exec(text);
    if (schema) return `${verb === 'create' || verb === 'alter' ? 'CREATE' : 'USAGE'} on schema ${schema[1]}`;
    const object = /permission denied for (table|relation|view|sequence|function) (\S+)/.exec(text);
    if (object) {
      const privilege = verb && ['select', 'insert', 'update', 'delete', 'truncate'].includes(verb) ? verb.toUpperCase() : 'a privilege';
      return `${privilege} on ${object[1]} ${object[2]}`;
    }
    return undefined;
  }

  classifyError(error: unknown): ErrorClass {
    const e = error as { code?: string; message?: string };
    if (error instanceof LockWaitStopped) return 'lockTimeout';
    switch (e?.code) {
      case '55P03':
        return 'lockTimeout';
      case '57P01':
      case '57P02':
      case '57P03':
        return 'connectionLost';
      case '28P01':
      case '28000':
        return 'authentication';
      case '3D000':
        return 'unknownDatabase';
      case '42P01':
        return 'unknownTable';
      case '42501':
        return 'permissionDenied';
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ETIMEDOUT':
      case 'EAI_AGAIN':
        return 'unreachable';
      case 'ECONNRESET':
      case 'EPIPE':
        return 'connectionLost';
    }
    const message = e?.message ?? '';
    if (/Connection terminated|connection is closed|Client has encountered a connection error|terminating connection/i.test(message))
      return 'connectionLost';
    if (/timeout exceeded when trying to connect|Knex: Timeout acquiring a connection/i.test(message)) return 'unreachable';
    return 'other';
  }

  async connect(options: { lockTimeoutMs: number }): Promise<void> {
    await this.knex.raw("select set_config('lock_timeout', ?, false)", [`${Math.max(1, Math.round(options.lockTimeoutMs))}ms`]);
    const found = await this.rows('select 1 from pg_namespace where nspname = ?', [this.baseSchema]);
    if (found.length === 0) {
      throw Object.assign(new Error(`schema "${this.baseSchema}" does not exist`), { code: '3F000' });
    }
    const [role] = await this.rows(
      "select r.rolsuper as superuser, current_setting('server_version_num')::int as version from pg_roles r where r.rolname = current_user",
    );
    // GRANT SET ON PARAMETER came with PostgreSQL 15; before it only a superuser may.
    const granted =
      Number(role?.version) >= 150000 &&
      (await this.rows("select has_parameter_privilege('session_replication_role', 'SET') as ok"))[0]?.ok === true;
    this.#skipsTriggers = role?.superuser === true || granted;
  }

  async close(): Promise<void> {
    const sessions = [this.#knex, this.#workers];
    this.#knex = this.#workers = undefined;
    await Promise.all(sessions.map((k) => k?.destroy()));
  }

  async notAssignable(row: string, expression: string, column: string, type: string): Promise<string | undefined> {
    // Empty tables: the INSERT is planned, its types checked, and no row moves. 42804: datatype mismatch, the one
    // error the assignment itself raises; anything else is another check's.
    return this.#probe(
      [
        `CREATE TEMPORARY TABLE _zm_assign_row AS ${row}`,
        `CREATE TEMPORARY TABLE _zm_assign_target (${this.quote(column)} ${type})`,
        `INSERT INTO pg_temp._zm_assign_target SELECT (${expression}) FROM pg_temp._zm_assign_row AS _zm_row`,
      ],
      (code) => code === '42804',
    ).then((failed) => failed?.text);
  }

  async unreachableFromVersions(row: string, expression: string, tables: readonly VersionTable[]): Promise<Unreachable | undefined> {
    // The row's columns are typed under zmigrate's own path (a new column's type may be the base schema's), then
    // the expression is read over them with the catalog alone. 42704: a type, 42883: a function or operator, 42P01:
    // a relation. Temporary tables stand in for the tables the version schemas have a view of (pg_temp is searched
    // first for relations, never for functions), with the table's columns where it is there already, so only
    // another relation of the base schema (a sequence, a view) is missing, as it is for an app on a version schema.
    const standIn = (t: VersionTable) =>
      `CREATE TEMPORARY TABLE ${this.quote(t.name)} ${t.source ? `AS SELECT * FROM ${this.table(t.source)} LIMIT 0` : '()'}`;
    const failed = await this.#probe(
      [
        `CREATE TEMPORARY TABLE _zm_path_check AS ${row}`,
        ...tables.map((t) => literalMarks(standIn(t))),
        "SET LOCAL search_path = 'pg_catalog'",
        `SELECT (${expression}) AS v FROM pg_temp._zm_path_check AS _zm_row`,
      ],
      (code) => code === '42704' || code === '42883' || code === '42P01',
    );
    if (failed?.code !== '42P01') return failed && { reason: failed.text };
    const named = await this.#relationsNamed(
      expression,
      tables.map((t) => t.name),
    );
    if (named.length === 0) return { reason: failed.text };
    return {
      reason: `${failed.text}: ${named.map((r) => `${r.kind} ${this.qualify(this.baseSchema, r.name)}`).join(', ')}, and a version schema has a view of each table and nothing else`,
      qualified: named.map((r) => this.qualify(this.baseSchema, r.name)).join(', '),
    };
  }

  /** The base schema's relations other than `tables` that `expression` names (a mention in a string counts: nextval('seq')). */
  async #relationsNamed(expression: string, tables: readonly string[]): Promise<Array<{ name: string; kind: string }>> {
    const rows = await this.rows(
      "select c.relname as name, c.relkind as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')",
      [this.baseSchema],
    );
    const kinds: Record<string, string> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table' };
    return rows
      .map((r) => ({ name: String(r.name), kind: kinds[String(r.kind)] ?? 'relation' }))
      .filter((r) => !tables.includes(r.name) && namesIdentifier(expression, r.name));
  }

  async mutable(row: string, expression: string): Promise<boolean | undefined> {
    // An index expression must be immutable (42P17 where it is not); a subquery (0A000), or a type without a
    // B-tree operator class (42704), is refused before that is asked, and so tells nothing.
    const code = await this.#attempt([
      `CREATE TEMPORARY TABLE _zm_mutable_row AS ${row}`,
      `CREATE INDEX ON pg_temp._zm_mutable_row ((${expression}))`,
    ]);
    return code === undefined ? false : code === '42P17' ? true : undefined;
  }

  /**
   * Runs `statements` in a transaction it rolls back (what they make goes with
   * it): the server's code and words for an error whose code `counts`, else
   * undefined (they ran, or failed for a reason another check or step reports).
   */
  async #probe(statements: string[], counts: (code: string) => boolean): Promise<{ code: string; text: string } | undefined> {
    let failed: unknown;
    const code = await this.#attempt(statements, (error) => (failed = error));
    return code !== undefined && counts(code) ? { code, text: serverText(failed) } : undefined;
  }

  /** Runs `statements` in a transaction it rolls back: the code of the error one failed with, else undefined. */
  async #attempt(statements: string[], onError?: (error: unknown) => void): Promise<string | undefined> {
    const trx = await this.knex.transaction();
    try {
      for (const sql of statements) await trx.raw(sql);
      return undefined;
    } catch (error) {
      onError?.(error);
      return String((error as { code?: unknown }).code ?? '');
    } finally {
      await trx.rollback().catch(() => undefined);
    }
  }

  primaryLagSource(warn: (message: string) => void): LagSource | undefined {
    return new PrimaryReplicationLag(this.knex, warn);
  }

  connectReplica(url: string): Promise<LagSource> {
    return connectPostgresReplica(url);
  }

  async acquireRunnerLock(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [row] = await this.rows('select pg_try_advisory_lock(?, ?) as ok', this.#lockKey);
      if (row.ok === true) return (this.#holdsRunnerLock = true);
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
    }
  }

  async releaseRunnerLock(): Promise<void> {
    this.#holdsRunnerLock = false;
    await this.knex.raw('select pg_advisory_unlock(?, ?)', this.#lockKey);
  }

  /**
   * The pool replaces a session the server ended (pg_terminate_backend, a
   * restart) without a word; the runner lock was that session's, so the new
   * one, opened at once, takes it again before any statement runs, or stops
   * the run.
   */
  #newSession(conn: PgSession, done: AfterCreateDone): void {
    whenSessionEnds(conn, () => {
      if (this.#holdsRunnerLock) this.#knex?.raw('select 1').catch(() => undefined);
    });
    this.#checkClient(conn).then(
      () => this.#retakeRunnerLock(conn, done),
      (error: Error) => done(error, conn),
    );
  }

  /**
   * A runner killed mid-statement must not keep the runner lock (or a batch
   * its row locks) until the statement ends: PostgreSQL 14+ checks every
   * CLIENT_CHECK_MS whether the client is still there and ends the session if not.
   */
  async #checkClient(conn: PgSession): Promise<void> {
    await conn.query(
      "select set_config('client_connection_check_interval', $1, false) where current_setting('server_version_num')::int >= 140000",
      [`${CLIENT_CHECK_MS}ms`],
    );
  }

  #retakeRunnerLock(conn: PgSession, done: AfterCreateDone): void {
    if (!this.#holdsRunnerLock) return done(null, conn);
    const deadline = Date.now() + RETAKE_LOCK_MS;
    const attempt = (): void => {
      conn.query('select pg_try_advisory_lock($1, $2) as ok', this.#lockKey).then(
        (result) => {
          if (result.rows[0]?.ok === true) return done(null, conn);
          // The ended session may not be gone yet; after that, another runner has it.
          if (Date.now() < deadline) return void setTimeout(attempt, 100);
          done(new RunnerLockError(LOCK_TAKEN), conn);
        },
        (error: Error) => done(error, conn),
      );
    };
    attempt();
  }

  async holdsRunnerLock(): Promise<boolean> {
    const [row] = await this.rows(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and classid = (?::int)::oid and objid = (?::int)::oid and objsubid = 2 and granted",
      this.#lockKey,
    );
    return Number(row.n) > 0;
  }

  async lockTables(trx: Knex.Transaction, tables: readonly string[]): Promise<void> {
    const existing = await this.rows(
      `select c.relname, current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout
         from json_array_elements_text(?::json) with ordinality as t(name, n)
         join pg_class c on c.relname = t.name and c.relkind in ('r', 'p')
         join pg_namespace s on s.oid = c.relnamespace and s.nspname = ?
        order by t.n`,
      [JSON.stringify(tables), this.baseSchema],
      trx,
    );
    if (existing.length === 0) return;
    const lock = literalMarks(`LOCK TABLE ${existing.map((r) => this.table(String(r.relname))).join(', ')} IN ACCESS EXCLUSIVE MODE`);
    const { lock_timeout: limit, statement_timeout: before } = existing[0];
    if (limit === '0') return void (await trx.raw(lock));
    // The statement timeout, for this statement alone, bounds the wait for all of them together.
    await trx.raw("select set_config('statement_timeout', ?, true)", [String(limit)]);
    const started = Date.now();
    try {
      await trx.raw(lock);
    } catch (error) {
      if ((error as { code?: string }).code === '57014') throw new LockWaitStopped(Date.now() - started, 'lock', { cause: error });
      throw error;
    }
    await trx.raw("select set_config('statement_timeout', ?, true)", [String(before)]);
  }

  async describeLockHolders(): Promise<string | undefined> {
    const rows = await this.rows(
      `select distinct a.pid, a.usename, a.application_name, a.state,
              round(extract(epoch from now() - a.xact_start)::numeric, 1) as age, left(a.query, 120) as query
         from pg_locks l
         join pg_class c on c.oid = l.relation
         join pg_namespace n on n.oid = c.relnamespace
         join pg_stat_activity a on a.pid = l.pid
        where n.nspname = ? and l.granted and a.pid <> pg_backend_pid() and a.xact_start is not null
        order by age desc limit 3`,
      [this.baseSchema],
    );
    if (rows.length === 0) return undefined;
    return rows
      .map(
        (r) =>
          `pid ${r.pid} (user ${r.usename}${r.application_name ? `, application ${r.application_name}` : ''}, ${r.state} in a transaction open for ${r.age} s; last query: ${String(r.query).replace(/\s+/g, ' ')})`,
      )
      .join('; ');
  }

  async describeRunnerLockHolder(): Promise<string | undefined> {
    const [row] = await this.rows(
      `select a.pid, a.usename, a.application_name, a.client_addr::text as addr, a.backend_start
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.database = (select oid from pg_database where datname = current_database())
          and l.classid = (?::int)::oid and l.objid = (?::int)::oid and l.objsubid = 2 and l.granted`,
      this.#lockKey,
    );
    if (!row) return undefined;
    return `pid ${row.pid} (user ${row.usename}, application ${row.application_name || '?'}, from ${row.addr ?? 'local socket'}, connected ${new Date(row.backend_start as string).toISOString()})`;
  }

  stateTable(name: 'migrations' | 'steps'): { schema?: string; table: string } {
    return { schema: this.#stateSchema, table: name };
  }

  async ensureStateNamespace(): Promise<void> {
    await this.knex.raw(`create schema if not exists ${this.quote(this.#stateSchema)}`);
  }

  stateTableOptions(): void {}

  async upgradeStateTables(): Promise<void> {}

  async introspect(): Promise<SchemaModel> {
    const columns = await this.rows(
      `select c.relname as table_name, c.relkind::text as relkind, c.relispartition as is_partition,
              a.attname as column_name, format_type(a.atttypid, a.atttypmod) as type,
              not a.attnotnull as nullable, pg_get_expr(d.adbin, d.adrelid) as default_expr,
              col_description(c.oid, a.attnum) as comment, a.attidentity::text as identity, a.attgenerated::text as generated,
              -- A collation of the column's own, not its type's.
              (select format('COLLATE %I.%I', cn.nspname, co.collname) from pg_collation co
                 join pg_namespace cn on cn.oid = co.collnamespace join pg_type ty on ty.oid = a.atttypid
                where co.oid = a.attcollation and a.attcollation <> ty.typcollation) as collation,
              -- The sequence the column owns (serial, or its identity), in the table's schema.
              (select s.relname from pg_depend dp join pg_class s on s.oid = dp.objid
                where dp.classid = 'pg_class'::regclass and dp.refclassid = 'pg_class'::regclass and dp.refobjid = c.oid
                  and dp.refobjsubid = a.attnum and dp.deptype in ('a', 'i') and s.relkind = 'S' and s.relnamespace = c.relnamespace
                limit 1) as sequence
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where n.nspname = ? and c.relkind in ('r', 'p')
        order by c.relname, a.attnum`,
      [this.baseSchema],
    );
    const indexes = await this.rows(
      `select t.relname as table_name, i.relname as index_name, ix.indisprimary as is_primary, ix.indisunique as is_unique,
              ix.indisreplident as replica_identity,
              (ix.indpred is not null or ix.indexprs is not null) as special,
              -- The definition after USING (method, keys with their collations, operator classes and order, INCLUDE,
              -- NULLS NOT DISTINCT, storage parameters, predicate), where the server writes it as expected; with the
              -- index's own tablespace, which pg_get_indexdef leaves out, where it goes (before the predicate).
              (select case when s.spcname is null then d.body
                           when d.pred is null then d.body || ' TABLESPACE ' || quote_ident(s.spcname)
                           when right(d.body, length(d.pred)) = d.pred
                             then left(d.body, length(d.body) - length(d.pred)) || ' TABLESPACE ' || quote_ident(s.spcname) || d.pred end
                 from (select substr(pg_get_indexdef(ix.indexrelid), length(p.prefix) + 1) as body,
                              ' WHERE ' || pg_get_expr(ix.indpred, ix.indrelid) as pred
                         from (select format('CREATE %sINDEX %I ON %I.%I USING ', case when ix.indisunique then 'UNIQUE ' else '' end,
                                             i.relname, n.nspname, t.relname) as prefix) p
                        where starts_with(pg_get_indexdef(ix.indexrelid), p.prefix)) d
                 left join pg_tablespace s on s.oid = i.reltablespace) as definition,
              exists(select 1 from pg_constraint k where k.conindid = ix.indexrelid and k.conrelid = ix.indrelid and k.contype in ('u', 'x')) as is_constraint,
              (select case when k.condeferred then 'deferred' else 'immediate' end from pg_constraint k
                where k.conindid = ix.indexrelid and k.conrelid = ix.indrelid and k.contype in ('u', 'x', 'p') and k.condeferrable) as deferrable,
              -- The key columns (INCLUDE columns follow them in indkey).
              array(select a.attname from unnest(ix.indkey) with ordinality k(attnum, ord)
                      join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum where k.ord <= ix.indnkeyatts order by k.ord)::text[] as columns,
              -- Every column the index reads: INCLUDE columns, and those in its expressions and predicate.
              array(select a.attname from pg_attribute a where a.attrelid = t.oid and a.attnum > 0 and (a.attnum = any(ix.indkey)
                       or exists(select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = ix.indexrelid
                                    and d.refclassid = 'pg_class'::regclass and d.refobjid = ix.indrelid and d.refobjsubid = a.attnum))
                     order by a.attnum)::text[] as uses
         from pg_index ix
         join pg_class t on t.oid = ix.indrelid
         join pg_class i on i.oid = ix.indexrelid
         join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = ?`,
      [this.baseSchema],
    );
    // Foreign keys and checks over each table's columns, and foreign keys of other tables to them.
    const constraints = await this.rows(
      `select t.relname as table_name, k.conname as name, k.contype as type, null as child,
              array(select a.attname from unnest(k.conkey) with ordinality u(attnum, i)
                      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.i)::text[] as columns,
              null as index_name,
              -- What a foreign key references (a table of the same schema, else null) and how it behaves.
              (select r.relname from pg_class r where r.oid = k.confrelid and r.relnamespace = t.relnamespace) as ref_table,
              array(select a.attname from unnest(k.confkey) with ordinality u(attnum, i)
                      join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.i)::text[] as ref_columns,
              k.confdeltype::text as on_delete, k.confupdtype::text as on_update, k.confmatchtype::text as match_type,
              k.condeferrable as deferrable,
              -- A validated check that applies to this table only: its condition, which alterColumn can write again.
              case when k.contype = 'c' and k.convalidated and not k.connoinherit then pg_get_expr(k.conbin, k.conrelid) end as check_expr
         from pg_constraint k join pg_class t on t.oid = k.conrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = ? and k.contype in ('c', 'f')
       union all
       select t.relname, k.conname, 'r', c.relname,
              array(select a.attname from pg_attribute a where a.attrelid = k.confrelid and a.attnum = any(k.confkey))::text[],
              (select i.relname from pg_class i where i.oid = k.conindid),
              null, null, null, null, null, null, null
         from pg_constraint k join pg_class t on t.oid = k.confrelid join pg_namespace n on n.oid = t.relnamespace
         join pg_class c on c.oid = k.conrelid
        where n.nspname = ? and k.contype = 'f'`,
      [this.baseSchema, this.baseSchema],
    );
    const tables = new Map<string, TableModel>();
    for (const c of columns) {
      const name = String(c.table_name);
      if (!tables.has(name)) {
        const partitioned = c.relkind === 'p' ? 'partitioned' : c.is_partition === true ? 'partition' : undefined;
        tables.set(name, { name, columns: [], primaryKey: [], indexes: [], constraints: [], ...(partitioned ? { partitioned } : {}) });
      }
      tables.get(name)!.columns.push({
        name: String(c.column_name),
        type: String(c.type),
        nullable: c.nullable === true,
        default: c.default_expr === null ? null : String(c.default_expr),
        invisible: false,
        ...(c.comment === null ? {} : { comment: String(c.comment) }),
        ...(c.generated === 's' ? { generated: true, default: null } : {}),
        ...(c.identity === 'a' || c.identity === 'd' ? { identity: c.identity === 'a' ? 'always' : 'by default' } : {}),
        ...(c.sequence === null ? {} : { sequence: String(c.sequence) }),
        ...(c.collation === null ? {} : { collation: String(c.collation) }),
      });
    }
    for (const ix of indexes) {
      const table = tables.get(String(ix.table_name));
      if (!table) continue;
      const cols = parseTextArray(ix.columns);
      const uses = parseTextArray(ix.uses);
      const definition = {
        ...(typeof ix.definition === 'string' ? { definition: ix.definition } : {}),
        ...(ix.deferrable === 'immediate' || ix.deferrable === 'deferred' ? { deferrable: ix.deferrable as Deferrable } : {}),
        ...(ix.replica_identity === true ? { replicaIdentity: true as const } : {}),
      };
      if (ix.is_primary === true) {
        table.primaryKey = cols;
        table.primaryKeyName = String(ix.index_name);
        table.primaryKeyIndex = { uses, ...definition };
      } else {
        table.indexes.push({
          name: String(ix.index_name),
          columns: cols,
          unique: ix.is_unique === true,
          special: ix.special === true,
          uses,
          ...definition,
          ...(ix.is_constraint === true ? { constraint: true } : {}),
        });
      }
    }
    for (const k of constraints) {
      const constraint = constraintOf(String(k.type), String(k.name), k.child, parseTextArray(k.columns), k.index_name);
      const references = k.type === 'f' ? rebuildableReference(k) : undefined;
      const expression = k.check_expr === null || k.check_expr === undefined ? undefined : String(k.check_expr);
      tables
        .get(String(k.table_name))
        ?.constraints!.push({ ...constraint, ...(references ? { references } : {}), ...(expression ? { expression } : {}) });
    }
    // The views (and materialized views) that read each table, and which of its columns (through their rewrite rules).
    const readers = await this.rows(
      `select distinct c.relname as table_name, a.attname as column_name, vn.nspname as view_schema, v.relname as view_name
         from pg_depend dv join pg_rewrite rw on rw.oid = dv.objid join pg_class v on v.oid = rw.ev_class
         join pg_namespace vn on vn.oid = v.relnamespace join pg_class c on c.oid = dv.refobjid
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_attribute a on a.attrelid = c.oid and a.attnum = dv.refobjsubid and dv.refobjsubid > 0
        where dv.classid = 'pg_rewrite'::regclass and dv.refclassid = 'pg_class'::regclass and n.nspname = ? and v.oid <> c.oid`,
      [this.baseSchema],
    );
    for (const r of readers) {
      const table = tables.get(String(r.table_name));
      const view: QualifiedName = { schema: String(r.view_schema), name: String(r.view_name) };
      const on = r.column_name === null ? table : table?.columns.find((c) => c.name === String(r.column_name));
      if (!on) continue;
      on.views = [...(on.views ?? []), view];
      if (on !== table && table && !table.views?.some((v) => v.schema === view.schema && v.name === view.name))
        table.views = [...(table.views ?? []), view];
    }
    // Triggers, generated columns, policies, publications (a column list or row filter) and functions with a
    // SQL-standard body that hold on to a column (not zmigrate's triggers).
    const holders = await this.rows(
      `select c.relname as table_name, a.attname as column_name, h.kind, h.name
         from pg_depend d join pg_class c on c.oid = d.refobjid join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum = d.refobjsubid
         cross join lateral (
           select 'trigger' as kind, g.tgname::text as name from pg_trigger g where d.classid = 'pg_trigger'::regclass and g.oid = d.objid
           union all
           select 'generated column', ga.attname::text from pg_attrdef ad join pg_attribute ga on ga.attrelid = ad.adrelid and ga.attnum = ad.adnum
            where d.classid = 'pg_attrdef'::regclass and ad.oid = d.objid
           union all
           select 'policy', p.polname::text from pg_policy p where d.classid = 'pg_policy'::regclass and p.oid = d.objid
           union all
           select 'publication', pb.pubname::text from pg_publication_rel pr join pg_publication pb on pb.oid = pr.prpubid
            where d.classid = 'pg_publication_rel'::regclass and pr.oid = d.objid
           union all
           select 'function', f.oid::regprocedure::text from pg_proc f where d.classid = 'pg_proc'::regclass and f.oid = d.objid) h
        where d.refclassid = 'pg_class'::regclass and d.deptype = 'n' and n.nspname = ?
          and not (h.kind = 'trigger' and (h.name like '\\_zm\\_%' or h.name like '~\\_zm\\_%'))
        order by 1, 2, 3, 4`,
      [this.baseSchema],
    );
    for (const h of holders) {
      const column = tables.get(String(h.table_name))?.columns.find((c) => c.name === String(h.column_name));
      const holder = { kind: String(h.kind) as ColumnHolder['kind'], name: String(h.name) };
      if (column) column.holders = [...(column.holders ?? []), holder];
    }
    // Objects of other tables or functions that hold on to the table as a whole or to its row type.
    const tableHolders = await this.rows(
      `select c.relname as table_name, h.kind, h.name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join pg_depend d on (d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.refobjsubid = 0)
                          or (d.refclassid = 'pg_type'::regclass and d.refobjid = c.reltype)
         cross join lateral (
           select 'function' as kind, f.oid::regprocedure::text as name from pg_proc f where d.classid = 'pg_proc'::regclass and f.oid = d.objid
           union all
           select 'column', format('%I.%I.%I', on_.nspname, oc.relname, oa.attname) from pg_class oc
             join pg_namespace on_ on on_.oid = oc.relnamespace
             join pg_attribute oa on oa.attrelid = oc.oid and oa.attnum = d.objsubid
            where d.classid = 'pg_class'::regclass and oc.oid = d.objid and oc.oid <> c.oid and oc.relkind in ('r', 'p', 'f', 'c')) h
        where d.deptype = 'n' and n.nspname = ? and c.relkind in ('r', 'p')
        order by 1, 2, 3`,
      [this.baseSchema],
    );
    for (const h of tableHolders) {
      const table = tables.get(String(h.table_name));
      if (table) table.holders = [...(table.holders ?? []), { kind: String(h.kind) as ColumnHolder['kind'], name: String(h.name) }];
    }
    // PL/pgSQL trigger functions whose body names a column of the row (no dependency records that).
    const functions = await this.rows(
      `select distinct c.relname as table_name, p.proname as name, p.prosrc as body
         from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
         join pg_proc p on p.oid = g.tgfoid join pg_language l on l.oid = p.prolang
        where n.nspname = ? and not g.tgisinternal and g.tgname not like '\\_zm\\_%' and g.tgname not like '~\\_zm\\_%'
          and l.lanname = 'plpgsql'`,
      [this.baseSchema],
    );
    for (const f of functions)
      for (const column of tables.get(String(f.table_name))?.columns ?? [])
        if (namesRowColumn(String(f.body), column.name, (n) => this.quote(n)))
          column.holders = [...(column.holders ?? []), { kind: 'trigger function', name: String(f.name) }];
    // Privileges granted on a column itself, which go with it when it is dropped.
    const grants = await this.rows(
      `select c.relname as table_name, a.attname as column_name, x.privilege_type as privilege, x.is_grantable as grantable,
              case when x.grantee = 0 then null else pg_get_userbyid(x.grantee) end as grantee
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attacl is not null
         cross join lateral aclexplode(a.attacl) x
        where n.nspname = ? and c.relkind in ('r', 'p')
        order by 1, 2, 5, 3`,
      [this.baseSchema],
    );
    for (const g of grants) {
      const column = tables.get(String(g.table_name))?.columns.find((c) => c.name === String(g.column_name));
      const privilege = COLUMN_PRIVILEGES.find((p) => p === g.privilege);
      if (!column || !privilege) continue;
      const grant: ColumnGrant = {
        privilege,
        grantable: g.grantable === true,
        ...(g.grantee === null ? {} : { grantee: String(g.grantee) }),
      };
      column.grants = [...(column.grants ?? []), grant];
    }
    // Views, materialized views, sequences and foreign tables share the tables' names.
    const others = await this.rows(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ? and c.relkind in ('v', 'm', 'S', 'f') order by 1`,
      [this.baseSchema],
    );
    return new SchemaModel(
      this.rules,
      [...tables.values()],
      others.map((o) => String(o.name)),
    );
  }

  async indexState(table: string, index: string): Promise<IndexState> {
    const [row] = await this.rows(
      `select ix.indisvalid as valid from pg_index ix
         join pg_class i on i.oid = ix.indexrelid join pg_class t on t.oid = ix.indrelid
         join pg_namespace n on n.oid = i.relnamespace
        where n.nspname = ? and i.relname = ? and t.relname = ?`,
      [this.baseSchema, index, table],
    );
    if (!row) return 'missing';
    return row.valid === true ? 'valid' : 'invalid';
  }

  async constraintExists(table: string, constraint: string): Promise<boolean> {
    const rows = await this.rows(
      `select 1 from pg_constraint k join pg_class t on t.oid = k.conrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = ? and t.relname = ? and k.conname = ?`,
      [this.baseSchema, table, constraint],
    );
    return rows.length > 0;
  }

  async tableExists(table: string): Promise<boolean> {
    const rows = await this.rows(
      "select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relname = ? and c.relkind in ('r', 'p')",
      [this.baseSchema, table],
    );
    return rows.length > 0;
  }

  async columnExists(table: string, column: string): Promise<boolean> {
    const rows = await this.rows(
      `select 1 from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ? and c.relname = ? and a.attname = ? and a.attnum > 0 and not a.attisdropped`,
      [this.baseSchema, table, column],
    );
    return rows.length > 0;
  }

  async schemaExists(name: string): Promise<boolean> {
    return (await this.rows('select 1 from pg_namespace where nspname = ?', [name])).length > 0;
  }

  async listViews(schema: string): Promise<Map<string, string[]>> {
    const rows = await this.rows(
      `select c.relname as name, a.attname as column_name
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = ? and c.relkind = 'v'
        order by c.relname, a.attnum`,
      [schema],
    );
    return viewColumns(rows);
  }

  columnDefinition(name: string, spec: ColumnSpec, options: { notNull?: boolean } = {}): string {
    const parts = [this.quote(name), spec.type];
    if (options.notNull ?? spec.nullable === false) parts.push('NOT NULL');
    if (spec.default !== undefined) parts.push(`DEFAULT ${spec.default}`);
    return parts.join(' ');
  }

  createTable(table: string, columns: Record<string, ColumnSpec>, primaryKey: string[]): Step {
    const defs = Object.entries(columns).map(([name, spec]) => this.columnDefinition(name, spec));
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

  addColumn(table: string, column: string, spec: ColumnSpec): Step {
    return step(`add column ${table}.${column}`, `ALTER TABLE ${this.table(table)} ADD COLUMN ${this.columnDefinition(column, spec)}`, {
      guard: { kind: 'columnExists', table, column },
    });
  }

  setDefault(table: string, column: string, expression: string): Step {
    return step(`default of ${table}.${column} for new rows`, this.#setDefault(table, column, expression), { instant: true });
  }

  #setDefault(table: string, column: string, expression: string): string {
    return `ALTER TABLE ${this.table(table)} ALTER COLUMN ${this.quote(column)} SET DEFAULT ${expression}`;
  }

  *sequenceNames(table: string, column: string): Iterable<string> {
    // PostgreSQL's own names for it, `<table>_<column>_seq`, then `…_seq1`, `…_seq2`: each whole within 63 bytes.
    for (let n = 0; ; n++) yield objectName(table, column, n === 0 ? 'seq' : `seq${n}`);
  }

  ownedSequence(table: string, column: string, type: string, name: string): { step: Step; next: string } {
    const sequence = this.table(name);
    const next = `nextval(${literal(sequence)}::regclass)`;
    return {
      next,
      step: step(
        `sequence of ${table}.${column}`,
        [
          `CREATE SEQUENCE ${sequence} AS ${type} OWNED BY ${this.table(table)}.${this.quote(column)}`,
          this.#setDefault(table, column, next),
        ].join(';\n'),
      ),
    };
  }

  /**
   * Adds the column to an empty temporary table, in a transaction rolled back
   * after, and reads whether PostgreSQL rewrote the table for it (a new file
   * node): it does for a default with a volatile function in it, which it
   * computes for each row, and stores any other once, as the column's value
   * for the rows already there (pgroll asks it the same way).
   */
  async probeDefault(type: string, expression?: string): Promise<boolean | undefined> {
    const node = `SELECT pg_relation_filenode('pg_temp._zm_probe'::regclass) AS node`;
    const rolledBack = new Error('probe done');
    let perRow: boolean | undefined;
    try {
      await this.knex.transaction(async (trx) => {
        await trx.raw('CREATE TEMPORARY TABLE _zm_probe (_zm_row integer)');
        const before = await trx.raw<{ rows: Array<{ node: unknown }> }>(node);
        const value = expression === undefined ? '' : ` DEFAULT ${expression}`;
        await trx.raw(literalMarks(`ALTER TABLE pg_temp._zm_probe ADD COLUMN _zm_value ${type}${value}`));
        const after = await trx.raw<{ rows: Array<{ node: unknown }> }>(node);
        perRow = String(after.rows[0]?.node) !== String(before.rows[0]?.node);
        throw rolledBack;
      });
    } catch (error) {
      // A role that may not create the temporary table cannot ask at all: a default is then taken to be computed
      // per row, and filled in batches, which is right whatever it computes. Other errors (a type or function the
      // migration makes first) are asked about again at the next planning.
      if (error !== rolledBack) return expression !== undefined && this.classifyError(error) === 'permissionDenied' ? true : undefined;
    }
    return perRow;
  }

  async refusesDefault(column: string, type: string, expression: string): Promise<string | undefined> {
    // The default's own fault: of another type (42804), not castable (42846), or a value the type refuses (class 22).
    // Anything else (a type a migration makes first, no TEMPORARY privilege) is left to the steps that use it.
    return this.#probe(
      [literalMarks(`CREATE TEMPORARY TABLE _zm_probe (${this.quote(column)} ${type} DEFAULT ${expression})`)],
      (code) => code === '42804' || code === '42846' || code.startsWith('22'),
    ).then((failed) => failed?.text);
  }

  dropColumn(table: string, column: string): Step {
    return step(`drop column ${table}.${column}`, `ALTER TABLE ${this.table(table)} DROP COLUMN IF EXISTS ${this.quote(column)}`, {
      guard: { kind: 'columnMissing', table, column },
    });
  }

  finalizeColumn(table: string, column: string, spec: ColumnSpec, options: { notNullChecked?: string }): Step | undefined {
    const t = this.table(table);
    const statements: string[] = [];
    if (spec.default !== undefined) statements.push(this.#setDefault(table, column, spec.default));
    // With a validated CHECK (col IS NOT NULL) in place, SET NOT NULL needs no scan.
    if (spec.nullable === false) statements.push(`ALTER TABLE ${t} ALTER COLUMN ${this.quote(column)} SET NOT NULL`);
    if (options.notNullChecked) statements.push(`ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${this.quote(options.notNullChecked)}`);
    return statements.length > 0 ? step(`finalize column ${table}.${column}`, statements.join(';\n')) : undefined;
  }

  setNotNull(table: string, column: string): Step {
    return step(`set not null ${table}.${column}`, `ALTER TABLE ${this.table(table)} ALTER COLUMN ${this.quote(column)} SET NOT NULL`);
  }

  renameColumn(table: string, from: string, to: string): Step {
    return step(
      `rename column ${table}.${from} to ${to}`,
      `ALTER TABLE ${this.table(table)} RENAME COLUMN ${this.quote(from)} TO ${this.quote(to)}`,
      {
        guard: { kind: 'columnMissing', table, column: from },
      },
    );
  }

  /** Indexes on the old column go with it (PostgreSQL drops them with the column). */
  replaceColumn(table: string, column: string, helper: string, spec: FinalColumn): Step {
    const t = this.table(table);
    const { sequence } = spec;
    const statements = [
      // The old column's sequence would go with it: the new column takes it over first.
      ...(sequence?.identity ? [this.#identityFrom(table, helper, sequence.name, sequence.identity)] : []),
      ...(sequence && !sequence.identity ? this.#sequenceTo(table, helper, sequence.name, spec.type) : []),
      `ALTER TABLE ${t} DROP COLUMN ${this.quote(column)}`,
      `ALTER TABLE ${t} RENAME COLUMN ${this.quote(helper)} TO ${this.quote(column)}`,
      ...(sequence?.identity ? [`ALTER SEQUENCE ${this.table(helperColumn(sequence.name))} RENAME TO ${this.quote(sequence.name)}`] : []),
    ];
    if (spec.comment !== undefined) statements.push(`COMMENT ON COLUMN ${t}.${this.quote(column)} IS ${literal(spec.comment)}`);
    if (spec.default !== undefined) statements.push(this.#setDefault(table, column, spec.default));
    if (spec.nullable === false) statements.push(`ALTER TABLE ${t} ALTER COLUMN ${this.quote(column)} SET NOT NULL`);
    for (const { privilege, grantee, grantable } of spec.grants ?? [])
      statements.push(
        `GRANT ${privilege} (${this.quote(column)}) ON ${t} TO ${grantee === undefined ? 'PUBLIC' : this.quote(grantee)}${grantable ? ' WITH GRANT OPTION' : ''}`,
      );
    // PL/pgSQL keeps, per session, the plans it made for the old column's type: touching the
    // table's trigger functions (their cost, unchanged) makes every session recompile them.
    statements.push(
      `DO ${dollarQuoted(`DECLARE f record; BEGIN
  FOR f IN SELECT DISTINCT p.oid::regprocedure AS sig, p.procost FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid
            JOIN pg_language l ON l.oid = p.prolang WHERE g.tgrelid = to_regclass(${literal(t)}) AND NOT g.tgisinternal AND l.lanname = 'plpgsql' LOOP
    BEGIN
      EXECUTE format('ALTER FUNCTION %s COST %s', f.sig, f.procost);
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
  END LOOP;
END `)}`,
    );
    // One transaction: readers see the old column or the new one, never neither.
    return step(`replace column ${table}.${column}`, statements.join(';\n'), { guard: { kind: 'columnMissing', table, column: helper } });
  }

  /**
   * A serial column's sequence owned by the new column, so that it stays
   * when the old one goes; of the new column's type where that is an integer
   * (a widened `serial` counts past 2^31 too: bounds that were the old
   * type's follow the new one).
   */
  #sequenceTo(table: string, helper: string, sequence: string, type: string): string[] {
    const seq = this.table(sequence);
    const integer = integerType(type);
    return [
      `ALTER SEQUENCE ${seq} OWNED BY ${this.table(table)}.${this.quote(helper)}`,
      ...(integer ? [`ALTER SEQUENCE ${seq} AS ${integer}`] : []),
    ];
  }

  /**
   * The new column made an identity column of the same kind, numbering on
   * from where the old column's sequence stands (read in the swap, whose
   * lock holds off the inserts that would move it), with its start,
   * increment, cache, cycling and any bounds that were not its type's own. Its sequence
   * is `_zm_<old sequence>` until the old one has gone with the old column.
   * NOT NULL first, as an identity column must be (the validated check
   * spares the scan).
   */
  #identityFrom(table: string, helper: string, sequence: string, kind: 'always' | 'by default'): string {
    const [t, seq, fresh] = [this.table(table), this.table(sequence), this.table(helperColumn(sequence))];
    // Into a format() string: a % of a name is doubled.
    const alter = `ALTER TABLE ${t} ALTER COLUMN ${this.quote(helper)}`.replace(/%/g, '%%');
    return `DO ${dollarQuoted(`DECLARE q record; next_value bigint; top numeric; bounds text := ''; BEGIN
  SELECT seqstart AS start, seqincrement AS inc, seqmin AS min, seqmax AS max, seqcache AS cache, seqcycle AS cycle,
         seqtypid::regtype::text AS type
    INTO STRICT q FROM pg_sequence WHERE seqrelid = ${literal(seq)}::regclass;
  EXECUTE format('SELECT CASE WHEN is_called THEN last_value + %s ELSE last_value END FROM %s', q.inc, ${literal(seq)}) INTO next_value;
  top := CASE q.type WHEN 'smallint' THEN 32767 WHEN 'integer' THEN 2147483647 ELSE 9223372036854775807 END;
  IF q.min <> (CASE WHEN q.inc > 0 THEN 1 ELSE -top - 1 END) THEN bounds := bounds || ' MINVALUE ' || q.min; END IF;
  IF q.max <> (CASE WHEN q.inc > 0 THEN top ELSE -1 END) THEN bounds := bounds || ' MAXVALUE ' || q.max; END IF;
  EXECUTE ${literal(`ALTER TABLE ${t} ALTER COLUMN ${this.quote(helper)} SET NOT NULL`)};
  EXECUTE format(${literal(`${alter} ADD GENERATED ${kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (SEQUENCE NAME ${fresh.replace(/%/g, '%%')} INCREMENT BY %s START WITH %s CACHE %s %s%s)`)},
    q.inc, q.start, q.cache, CASE WHEN q.cycle THEN 'CYCLE' ELSE 'NO CYCLE' END, bounds);
  PERFORM setval(${literal(fresh)}, next_value, false);
END `)}`;
  }

  addNotNullCheck(table: string, column: string, constraint: string): Step {
    return step(
      `check ${table}.${column} is not null (not valid yet)`,
      `ALTER TABLE ${this.table(table)} ADD CONSTRAINT ${this.quote(constraint)} CHECK (${this.quote(column)} IS NOT NULL) NOT VALID`,
    );
  }

  validateConstraint(table: string, constraint: string): Step {
    return step(`validate ${constraint}`, `ALTER TABLE ${this.table(table)} VALIDATE CONSTRAINT ${this.quote(constraint)}`, {
      prepares: true,
    });
  }

  dropConstraint(table: string, constraint: string): Step {
    return step(`drop constraint ${constraint}`, `ALTER TABLE ${this.table(table)} DROP CONSTRAINT IF EXISTS ${this.quote(constraint)}`);
  }

  /** Its columns were renamed with it: only the name changes. */
  renameForeignKey(table: string, from: string, to: ForeignKeyDefinition): Step {
    return this.renameConstraint(table, from, to.name);
  }

  renameConstraint(table: string, from: string, to: string): Step {
    return step(
      `rename constraint ${from} to ${to}`,
      `ALTER TABLE ${this.table(table)} RENAME CONSTRAINT ${this.quote(from)} TO ${this.quote(to)}`,
      { guard: { kind: 'constraintMissing', table, constraint: from } },
    );
  }

  /**
   * The condition with every reference to column `from` made one to `to`
   * (quoted): a name is a bare word (folded to lower case, as the server
   * folds it) or a quoted identifier, outside string literals, and neither a
   * function's name nor a type's (after `::`) nor qualified (after `.`).
   * Undefined for what this scan does not read: dollar quoting, or a reference
   * it cannot tell from another use of the name.
   */
  rewriteColumn(expression: string, from: string, to: string): string | undefined {
    let out = '';
    for (let i = 0; i < expression.length;) {
      const rest = expression.slice(i);
      const literal = /^[eE]?'(?:[^']|'')*'/.exec(rest) ?? /^\$/.exec(rest);
      if (literal) {
        if (literal[0] === '$') return undefined;
        out += literal[0];
        i += literal[0].length;
        continue;
      }
      const name = /^"((?:[^"]|"")*)"/.exec(rest) ?? /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(rest);
      if (!name) {
        out += expression[i];
        i += 1;
        continue;
      }
      const value = name[1] !== undefined ? name[1].replace(/""/g, '"') : name[0].toLowerCase();
      const before = out.trimEnd();
      const after = expression.slice(i + name[0].length).trimStart();
      const reference =
        value === from && !before.endsWith('.') && !before.endsWith('::') && !after.startsWith('(') && !after.startsWith('.');
      if (value === from && !reference) return undefined;
      out += reference ? this.quote(to) : name[0];
      i += name[0].length;
    }
    return out;
  }

  createTrigger(table: string, name: string, rules: DualWriteRule[], versionSchema: string, options: { rulesOnly?: boolean } = {}): Step {
    const newApp = newVersionOnPath(this.baseSchema, versionSchema);
    // A column's new and old values are told apart by their binary images (imagesDiffer). An image that differs
    // where = would not (citext 'A' and 'a', numeric 1.5 and 1.50) is a write that changed the column, as the rules mean.
    const syntax: RuleSyntax = { quote: (i) => this.quote(i), distinct: imagesDiffer, newApp };
    const flags = rules.map((_, i) => `c${i} boolean;`).join(' ');
    const decide = (event: 'onInsert' | 'onUpdate') =>
      rules.map((r, i) => `c${i} := ${r[event] ? renderCondition(r[event]!, syntax) : 'false'};`).join('\n    ');
    const apply = rules.map((r, i) => `IF c${i} THEN NEW.${this.quote(r.target)} := ${renderValue(r, syntax)}; END IF;`).join('\n  ');
    const fn = this.qualify(this.#stateSchema, name);
    // Nothing to do on UPDATE: no UPDATE trigger, whose mere presence costs every updated row a lock (capabilities).
    const updates = rules.some((r) => r.onUpdate);
    const body = `DECLARE ${flags}
BEGIN
  IF current_setting('zmigrate.backfill', true) = 'on' THEN RETURN NEW; END IF;
  IF TG_OP = 'INSERT' THEN
    ${decide('onInsert')}
  ELSE
    ${decide('onUpdate')}
  END IF;
  ${apply}
  RETURN NEW;
END`;
    const replaceFunction = `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(`\n${body}\n`)}`;
    // The trigger keeps calling the same function, whose next call runs the new body: no lock on the table.
    if (options.rulesOnly) return step(`dual-write rules on ${table}`, replaceFunction);
    return step(
      `dual-write trigger on ${table}${updates ? '' : ' (inserts)'}`,
      `${replaceFunction};\n` +
        `CREATE OR REPLACE TRIGGER ${this.quote(onTable(name))} BEFORE INSERT${updates ? ' OR UPDATE' : ''} ON ${this.table(table)} FOR EACH ROW ` +
        // The WHEN clause skips the function call altogether for the backfill's own writes.
        `WHEN (current_setting('zmigrate.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION ${fn}()`,
    );
  }

  dropTrigger(table: string, name: string): Step {
    return step(
      `drop dual-write trigger on ${table}`,
      // Under the name it has on the table, and the one an earlier zmigrate gave it.
      `DROP TRIGGER IF EXISTS ${this.quote(onTable(name))} ON ${this.table(table)};\n` +
        `DROP TRIGGER IF EXISTS ${this.quote(name)} ON ${this.table(table)};\n` +
        `DROP FUNCTION IF EXISTS ${this.qualify(this.#stateSchema, name)}()`,
    );
  }

  /** By the name the migration gives them (the `~` before it on the table is left out), under either name. */
  async listTriggers(prefix: string): Promise<Array<{ table: string; name: string }>> {
    const rows = await this.rows(
      `select distinct ltrim(t.tgname, '~') as name, c.relname as table_name from pg_trigger t join pg_class c on c.oid = t.tgrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ? and (starts_with(t.tgname, ?) or starts_with(t.tgname, ?)) and not t.tgisinternal`,
      [this.baseSchema, prefix, onTable(prefix)],
    );
    return rows.map((r) => ({ table: String(r.table_name), name: String(r.name) }));
  }

  async preservedOnUpdate(): Promise<string[]> {
    return [];
  }

  /**
   * `ctid`, walked in page ranges with a TID range scan (PostgreSQL 14+), each
   * range read once instead of a sort of the whole table per batch.
   */
  readonly rowAddress: RowAddress = {
    column: 'ctid',
    select: 'ctid::text',
    pages: async (table) => {
      const [row] = await this.rows(
        `select pg_relation_size(c.oid) / current_setting('block_size')::bigint as pages
           from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relname = ?`,
        [this.baseSchema, table],
      );
      return Number(row?.pages ?? 0);
    },
    pageRange: (from, to) => bound`ctid >= ${param(`(${Math.trunc(from)},0)`)}::tid AND ctid < ${param(`(${Math.trunc(to)},0)`)}::tid`,
  };

  /**
   * Binary images, the expression's value cast to the column's type first
   * (as the column got it), so that types without an equality operator
   * (json, xml, point) can be checked too; a collation does not change them.
   */
  holdsOtherThan(column: string, expression: string, type: string): string {
    const [base] = splitCollation(type);
    return imagesDiffer(column, `CAST((${expression}) AS ${base})`);
  }

  async estimateRows(table: string): Promise<number | undefined> {
    const [row] = await this.rows(
      'select c.reltuples::bigint as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relname = ?',
      [this.baseSchema, table],
    );
    return positiveFigure(row?.n);
  }

  /**
   * The table's pages and its indexes', not its TOAST: an UPDATE that leaves
   * a TOASTed value alone keeps pointing at it, so those bytes are not
   * written again.
   */
  async estimateRowBytes(table: string): Promise<number | undefined> {
    const [row] = await this.rows(
      `select (pg_relation_size(c.oid) + pg_indexes_size(c.oid))::float8 / c.reltuples as n
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ? and c.relname = ? and c.reltuples > 0`,
      [this.baseSchema, table],
    );
    return positiveFigure(row?.n);
  }

  /** A type's COLLATE clause is not part of a cast: it follows it. */
  typedNull(type: string): string {
    const [base, collation] = splitCollation(type);
    return `CAST(NULL AS ${base})${collation}`;
  }

  /**
   * The settings of a backfill batch's transaction, for it alone:
   * - The flag the dual-write triggers' WHEN clause checks. Where the user
   *   may (a superuser, or GRANT SET ON PARAMETER session_replication_role),
   *   the batch also runs as a replica session: no trigger fires at all, so
   *   the table's own triggers do not see the backfill, and no row pays for a
   *   trigger's WHEN clause (a third of a backfill's time).
   * - Its commit does not wait for its WAL to reach disk: a crash may lose
   *   the last batches, but each with its checkpoint, so a rerun does them
   *   again; the apps' own commits still wait (and flush the batches' WAL
   *   before theirs).
   * - The table pages it writes out are handed to the kernel to write back
   *   every 256 kB (`backend_flush_after`, off by default), as the
   *   checkpointer does with its own. Left to pile up in the page cache, the
   *   pages a long backfill evicts were all flushed by the next checkpoint's
   *   fsync, and every app commit waited behind it: at 10M rows on this
   *   project's machine, checkpoints came every 4 s and the worst app write
   *   took 143–237 ms over six runs; with this, 67–106 ms over seven, at
   *   about the same speed.
   */
  backfillFlag(on: true): string;
  backfillFlag(on: boolean): string | undefined;
  backfillFlag(on: boolean): string | undefined {
    // Set for the transaction only (set_config's third argument): nothing to clear.
    if (!on) return undefined;
    const role = this.#skipsTriggers ? ", set_config('session_replication_role', 'replica', true)" : '';
    return `SELECT set_config('zmigrate.backfill', 'on', true), set_config('synchronous_commit', 'off', true), set_config('backend_flush_after', '256kB', true)${role}`;
  }

  renameIndex(table: string, from: string, to: string): Step {
    return step(`rename index ${from} to ${to}`, `ALTER INDEX ${this.qualify(this.baseSchema, from)} RENAME TO ${this.quote(to)}`, {
      guard: { kind: 'indexMissing', table, index: from },
    });
  }

  createIndex(table: string, index: IndexDefinition): Step {
    const cols = index.columns.map((c) => this.quote(c)).join(', ');
    const where = index.where ? ` WHERE ${index.where}` : '';
    return step(
      `create index ${index.name}`,
      `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${this.quote(index.name)} ON ${this.table(table)} (${cols})${where}`,
      { transactional: false, guard: { kind: 'indexExists', table, index: index.name } },
    );
  }

  createIndexUsing(table: string, name: string, unique: boolean, definition: string): Step {
    return step(
      `create index ${name}`,
      `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${this.quote(name)} ON ${this.table(table)} USING ${definition}`,
      { transactional: false, guard: { kind: 'indexExists', table, index: name } },
    );
  }

  dropIndex(table: string, index: string): Step {
    return step(`drop index ${index}`, `DROP INDEX CONCURRENTLY IF EXISTS ${this.qualify(this.baseSchema, index)}`, {
      transactional: false,
      guard: { kind: 'indexMissing', table, index },
    });
  }

  /** No scan: the index is already built and valid; only a short ACCESS EXCLUSIVE lock for the catalog change. */
  attachUniqueConstraint(table: string, index: string): Step {
    return step(
      `attach unique constraint ${index}`,
      `ALTER TABLE ${this.table(table)} ADD CONSTRAINT ${this.quote(index)} UNIQUE USING INDEX ${this.quote(index)}`,
      {
        guard: { kind: 'constraintExists', table, constraint: index },
      },
    );
  }

  /** A catalog change alone: the index is unique, not partial, over NOT NULL columns already. */
  replicaIdentity(table: string, index: string): Step {
    return step(`replica identity ${index}`, `ALTER TABLE ${this.table(table)} REPLICA IDENTITY USING INDEX ${this.quote(index)}`);
  }

  /** The unique index over NOT NULL columns becomes the primary key, under its own name (no scan). */
  attachPrimaryKey(table: string, index: string): Step {
    return step(
      `attach primary key ${index}`,
      `ALTER TABLE ${this.table(table)} ADD CONSTRAINT ${this.quote(index)} PRIMARY KEY USING INDEX ${this.quote(index)}`,
      { guard: { kind: 'constraintExists', table, constraint: index } },
    );
  }

  /** NOT VALID: a short SHARE ROW EXCLUSIVE lock on both tables, no scan; VALIDATE CONSTRAINT at contract. */
  addForeignKey(table: string, fk: ForeignKeyDefinition): Step {
    const cols = fk.columns.map((c) => this.quote(c)).join(', ');
    const refs = fk.references.columns.map((c) => this.quote(c)).join(', ');
    const onDelete = fk.onDelete ? ` ON DELETE ${FOREIGN_KEY_ACTIONS[fk.onDelete]}` : '';
    return step(
      `add foreign key ${fk.name} (not valid yet)`,
      `ALTER TABLE ${this.table(table)} ADD CONSTRAINT ${this.quote(fk.name)} FOREIGN KEY (${cols}) REFERENCES ${this.table(fk.references.table)} (${refs})${onDelete} NOT VALID`,
      { guard: { kind: 'constraintExists', table, constraint: fk.name } },
    );
  }

  dropForeignKey(table: string, name: string): Step[] {
    return [this.dropConstraint(table, name)];
  }

  addCheck(table: string, name: string, expression: string): Step {
    return step(
      `add check ${name} (not valid yet)`,
      `ALTER TABLE ${this.table(table)} ADD CONSTRAINT ${this.quote(name)} CHECK (${expression}) NOT VALID`,
      {
        guard: { kind: 'constraintExists', table, constraint: name },
      },
    );
  }

  /** Views in version schemas follow the table (they name it by OID). */
  renameTable(from: string, to: string): Step[] {
    return [
      step(`rename table ${from} to ${to}`, `ALTER TABLE ${this.table(from)} RENAME TO ${this.quote(to)}`, {
        guard: { kind: 'tableMissing', table: from },
      }),
    ];
  }

  createSchema(name: string): Step {
    return step(`create version schema ${name}`, `CREATE SCHEMA IF NOT EXISTS ${this.quote(name)}`, { locks: false });
  }

  dropSchema(name: string): Step {
    return step(`drop version schema ${name}`, `DROP SCHEMA IF EXISTS ${this.quote(name)} CASCADE`);
  }

  replaceView(schema: string, view: ViewTable, exists = false): Step[] {
    const columns = view.columns.map((c) => `${this.quote(c.source)} AS ${this.quote(c.name)}`).join(', ');
    const name = this.qualify(schema, view.name);
    const create = (verb: string) => [
      `${verb} ${name} AS SELECT ${columns} FROM ${this.table(view.source)}`,
      ...view.columns.flatMap((c) =>
        c.default === undefined ? [] : [`ALTER VIEW ${name} ALTER COLUMN ${this.quote(c.name)} SET DEFAULT ${c.default}`],
      ),
    ];
    // Dropped and created in one transaction: readers see the old or the new view, never none.
    const anew = [`DROP VIEW IF EXISTS ${name}`, ...create('CREATE VIEW')];
    if (!exists) return [step(`view ${schema}.${view.name}`, anew.join(';\n'))];
    // Replaced in place where its columns stay as they were (more may follow): the view keeps its grants, and
    // an app's prepared `SELECT *` its result type. A column gone, renamed or of another type or collation
    // (42P16) needs the view made anew.
    const block = (statements: string[]) => statements.map((s) => `  ${s};\n`).join('');
    return [
      step(
        `view ${schema}.${view.name}`,
        `DO ${dollarQuoted(`BEGIN\n${block(create('CREATE OR REPLACE VIEW'))}EXCEPTION WHEN invalid_table_definition THEN\n${block(anew)}END`)}`,
      ),
    ];
  }

  dropView(schema: string, view: string): Step {
    return step(`drop view ${schema}.${view}`, `DROP VIEW IF EXISTS ${this.qualify(schema, view)}`);
  }

  protected table(name: string): string {
    return this.qualify(this.baseSchema, name);
  }

  protected async rows(sql: string, bindings: readonly unknown[] = [], session: Knex | Knex.Transaction = this.knex): Promise<Row[]> {
    const result = await session.raw(sql, bindings as Knex.RawBinding[]);
    return (result as { rows: Row[] }).rows;
  }
}

/** pg_constraint.confdeltype's codes that zmigrate writes again (`a`, NO ACTION, is the default and needs no clause). */
const ON_DELETE: Readonly<Record<string, ForeignKeyAction | undefined>> = { a: undefined, r: 'restrict', c: 'cascade', n: 'set null' };

/** A foreign key's target as alterColumn can build it again (ForeignKeyReference), from the catalog row read for it. */
function rebuildableReference(k: Row): ForeignKeyReference | undefined {
  const onDelete = String(k.on_delete);
  const plain = k.on_update === 'a' && k.match_type === 's' && k.deferrable === false && Object.hasOwn(ON_DELETE, onDelete);
  if (!plain || k.ref_table === null) return undefined;
  const action = ON_DELETE[onDelete];
  return { table: String(k.ref_table), columns: parseTextArray(k.ref_columns), ...(action ? { onDelete: action } : {}) };
}

function parseTextArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  const text = String(value ?? '');
  if (!text.startsWith('{')) return [];
  const inner = text.slice(1, -1);
  if (inner === '') return [];
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^,]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(inner))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}

/**
 * The name of a migration's trigger on its table: PostgreSQL fires a table's
 * triggers in the order of their names, and a `~` sorts after every ASCII
 * name, so zmigrate's runs after the user's BEFORE triggers and sees what
 * they set (an `updated_at := now()`) when it derives the other shape.
 */
function onTable(name: string): string {
  return `~${name}`;
}

/**
 * True where two values' binary images differ, NULLs included: for any type,
 * where json, xml, point and others have no equality operator (IS DISTINCT
 * FROM on one fails).
 */
function imagesDiffer(a: string, b: string): string {
  return `record_image_ne(ROW(${a}), ROW(${b}))`;
}

/** A body in dollar quotes whose tag it does not hold: a name or an expression in it may hold `$zmigrate$`. */
function dollarQuoted(body: string): string {
  let tag = '$zmigrate$';
  for (let i = 1; body.includes(tag); i++) tag = `$zmigrate${i}$`;
  return `${tag}${body}${tag}`;
}

/** A type as a migration or the model writes it, and its COLLATE clause (with the space before it), or ''. */
function splitCollation(type: string): [string, string] {
  const [, base, collation] = /^(.*?)(\s+COLLATE\s+.*)?$/is.exec(type)!;
  return [base, collation ?? ''];
}

/** `smallint`, `integer` or `bigint` for a type that is one of them (as the server or a migration spells it), else undefined. */
function integerType(type: string): 'smallint' | 'integer' | 'bigint' | undefined {
  const t = type.trim().toLowerCase();
  if (t === 'smallint' || t === 'int2') return 'smallint';
  if (t === 'integer' || t === 'int' || t === 'int4') return 'integer';
  if (t === 'bigint' || t === 'int8') return 'bigint';
  return undefined;
}

/**
 * A string literal for SQL that cannot take bindings (DDL, function bodies):
 * an escape string where a backslash must come through as it is, whatever
 * standard_conforming_strings says.
 */
function literal(text: string): string {
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/**
 * Whether the session's search_path holds this version schema or a later
 * one: version schemas are named <base>_<migration>, so later versions sort
 * after this one. Where migration names start with a number (`0002_…`), only
 * schemas whose name goes on with a digit count: an old app's path may list
 * a schema of its own such as `public_api`, which sorts after the digits and
 * would pass for a new version, its writes then overwritten from the other
 * column.
 */
function newVersionOnPath(baseSchema: string, versionSchema: string): string {
  const prefix = `${baseSchema}_`;
  const numbered = /^[0-9]/.test(versionSchema.slice(prefix.length));
  const digit = numbered ? ` AND ascii(substr(s.name, ${[...prefix].length + 1}, 1)) BETWEEN 48 AND 57` : '';
  return `EXISTS (SELECT 1 FROM unnest(current_schemas(false)) AS s(name) WHERE starts_with(s.name, ${literal(prefix)}) AND s.name >= ${literal(versionSchema)}${digit})`;
}

/**
 * `<first>_<second>_<label>` within 63 bytes, as PostgreSQL names what it
 * makes for a column (makeObjectName): the longer of the two names is cut
 * first, so a short one stays whole, and the label always does.
 */
function objectName(first: string, second: string, label: string): string {
  const room = 63 - Buffer.byteLength(label) - 2;
  let [a, b] = [Buffer.byteLength(first), Buffer.byteLength(second)];
  while (a + b > room) {
    if (a > b) a--;
    else b--;
  }
  return `${shortened(first, a)}_${shortened(second, b)}_${label}`;
}

/** The longest start of `text` that fits in `bytes` bytes of UTF-8, whole characters only. */
function shortened(text: string, bytes: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > bytes) break;
    out += char;
  }
  return out;
}
