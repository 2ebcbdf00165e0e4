/**
 * The migration user's privileges, on PostgreSQL and MariaDB, with a real
 * login that has a password (a random name, dropped at the end).
 *
 * - A missing privilege is one clear line naming the privilege and the
 *   object, exit code 2 (the environment is wrong, not the migration), the
 *   password nowhere, and a state that a rerun finishes once it is granted.
 * - Exactly the privileges docs/deploying.md lists run expand → contract and
 *   expand → rollback.
 */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { SERVER_ENGINES, createTestDatabase, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { inspect } from './support/inspect';
import { rowsOf } from './support/apps';
import { parseStatus, startCli } from './support/process';
import { latestVersionSchema } from '../src';

/** Tables the migration user owns; made by the admin first, as in an adopted database. */
const ORDERS_SQL = {
  postgres: 'CREATE TABLE "orders" ("id" bigint PRIMARY KEY, "customer" varchar(100) NOT NULL, "amount" integer NOT NULL)',
  mysql: 'CREATE TABLE `orders` (`id` bigint PRIMARY KEY, `customer` varchar(100) NOT NULL, `amount` integer NOT NULL)',
};

/** Two migrations that need every kind of privilege: new table, column, index, foreign key, triggers, backfill, rename. */
const MIGRATIONS = {
  '0001_customers.ts': migrationSource([
    "op.createTable('customers', { columns: { id: { type: 'bigint', primaryKey: true }, name: { type: 'varchar(100)', nullable: false } } })",
    "op.addColumn('orders', 'customer_id', { type: 'bigint', nullable: true })",
    "op.createIndex('orders', ['customer_id'])",
    "op.addForeignKey('orders', ['customer_id'], { references: { table: 'customers', columns: ['id'] } })",
  ]),
  '0002_amount.ts': migrationSource([
    "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
    "op.renameColumn('orders', 'customer', 'customer_name')",
  ]),
};

/** A letter first, letters and digits only: safe in the CREATE ROLE / CREATE USER text, which takes no bound parameters on PostgreSQL. */
const random = (n: number) => `${randomBytes(n).toString('hex')}`;

function serverKnex(engine: 'postgres' | 'mysql'): Knex {
  const url = new URL(process.env[engine === 'postgres' ? 'ZMIGRATE_TEST_PG_URL' : 'ZMIGRATE_TEST_MYSQL_URL']!);
  return engine === 'postgres'
    ? knexFactory({ client: 'pg', connection: { connectionString: url.toString() }, pool: { min: 0, max: 1 } })
    : knexFactory({
        client: 'mysql2',
        connection: {
          host: url.hostname,
          port: Number(url.port || 3306),
          user: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
        },
        pool: { min: 0, max: 1 },
      });
}

/** One line "error: …" matching `pattern`, the exit code, nothing on stdout but progress on stderr, no stack, no password. */
function expectPrivilegeError(result: CliResult, pattern: RegExp, password: string): void {
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
  expect({ code: result.code, errors }).toEqual({ code: 2, errors: [expect.stringMatching(pattern)] });
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout + result.stderr).not.toContain(password);
}

function ident(engine: Engine, name: string): string {
  return engine === 'mysql' ? `\`${name.replace(/`/g, '``')}\`` : `"${name.replace(/"/g, '""')}"`;
}

describe.each(SERVER_ENGINES)('the migration user on %s', (engine) => {
  const server = engine as 'postgres' | 'mysql';
  const user = `zmt_priv_${random(4)}`;
  const password = `Pw${random(10)}`;
  const account = engine === 'mysql' ? `${ident(engine, user)}@'%'` : ident(engine, user);
  let admin: Knex;
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    admin = serverKnex(server);
    await admin.raw(
      engine === 'mysql' ? `CREATE USER ${account} IDENTIFIED BY '${password}'` : `CREATE ROLE ${account} LOGIN PASSWORD '${password}'`,
    );
  });
  afterAll(async () => {
    for (const db of databases) await db.drop();
    await admin.raw(engine === 'mysql' ? `DROP USER IF EXISTS ${account}` : `DROP ROLE IF EXISTS ${account}`);
    await admin.destroy();
  });

  /** A database with orders (one row) that the migration user owns (PostgreSQL) or may change (MariaDB: `base`). */
  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase(engine);
    databases.push(db);
    await db.knex.raw(ORDERS_SQL[server]);
    await db.knex.raw(`INSERT INTO ${ident(engine, 'orders')} VALUES (1, 'Ada', 7)`);
    if (engine === 'postgres') await db.knex.raw(`ALTER TABLE "orders" OWNER TO ${account}`);
    return db;
  }
  const dbName = (db: TestDatabase) => new URL(db.url).pathname.slice(1);
  /** The GRANT target for the version databases: `<base>\_%`.* (underscores in the name escaped too). */
  const versionDatabases = (db: TestDatabase) => ident(engine, `${dbName(db).replace(/[_%]/g, '\\$&')}\\_%`) + '.*';

  /** Exactly the privileges docs/deploying.md lists for the migration user. */
  async function grantDocumented(db: TestDatabase): Promise<void> {
    if (engine === 'postgres') {
      await db.knex.raw(`GRANT CREATE ON DATABASE ${ident(engine, dbName(db))} TO ${account}`);
      await db.knex.raw(`GRANT CREATE ON SCHEMA "public" TO ${account}`);
    } else {
      await db.knex.raw(
        `GRANT ALTER, CREATE, DROP, INDEX, TRIGGER, CREATE VIEW, SHOW VIEW, SELECT, INSERT, UPDATE, DELETE, REFERENCES ON ${ident(engine, dbName(db))}.* TO ${account}`,
      );
      await db.knex.raw(`GRANT CREATE, DROP, CREATE VIEW, SHOW VIEW ON ${versionDatabases(db)} TO ${account}`);
    }
  }

  function asUser(db: TestDatabase, dir: string) {
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    return (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: url.toString() } });
  }
  const status = async (db: TestDatabase, dir: string) =>
    [...parseStatus(await runCli(['status', '--json', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } })).values()].map(
      (m) => `${m.name} ${m.phase}`,
    );
  const orders = async (db: TestDatabase) => {
    const result = await db.knex.raw(`SELECT * FROM ${ident(engine, 'orders')}`);
    return engine === 'mysql' ? (result as [unknown[]])[0] : (result as { rows: unknown[] }).rows;
  };

  if (engine === 'postgres') {
    test('no CREATE on the database, then not the owner of the table: each a clear error with exit 2; granted, the rerun finishes', async () => {
      const db = await database();
      await db.knex.raw(`GRANT CREATE ON SCHEMA "public" TO ${account}`);
      await db.knex.raw(`ALTER TABLE "orders" OWNER TO CURRENT_USER`);
      await db.knex.raw(`GRANT SELECT ON "orders" TO ${account}`);
      const dir = migrationsDir(MIGRATIONS);
      const zmigrate = asUser(db, dir);
      const before = await inspect(db);

      // zmigrate's own state schema is the first thing it creates.
      expectPrivilegeError(
        await zmigrate('expand'),
        new RegExp(
          `^error: permission denied: the database user lacks CREATE on database ${dbName(db)} \\(the server said: permission denied for database`,
        ),
        password,
      );
      const untouched = await inspect(db);
      expect(untouched.tables).toEqual(before.tables);
      expect(untouched.columns('orders')).toEqual(['id', 'customer', 'amount']);
      expect(untouched.versionSchemas).toEqual([]);
      const schemas = await db.knex.raw("SELECT nspname FROM pg_namespace WHERE nspname = 'zmigrate'");
      expect((schemas as { rows: unknown[] }).rows).toEqual([]);

      // Now it may create schemas, but orders belongs to someone else: only its owner may ALTER it.
      await db.knex.raw(`GRANT CREATE ON DATABASE ${ident(engine, dbName(db))} TO ${account}`);
      expectPrivilegeError(
        await zmigrate('expand'),
        /^error: 0001_customers \(expand\): add column orders\.customer_id: permission denied: the database user lacks ownership of table orders \(the server said: must be owner of table orders\)/,
        password,
      );
      // Stopped cleanly after creating customers, its own table: resumable, orders untouched.
      expect(await status(db, dir)).toEqual(['0001_customers expanding', '0002_amount pending']);
      expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer', 'amount']);

      await db.knex.raw(`ALTER TABLE "orders" OWNER TO ${account}`);
      const rerun = await zmigrate('expand');
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toContain('expanded 0001_customers, 0002_amount');
      expect(rerun.stderr).toContain('expand 0001_customers (resuming)');
      expect(await status(db, dir)).toEqual(['0001_customers expanded', '0002_amount expanded']);
    });

    test('a role that may not create temporary tables: a default the server cannot be asked about is filled in batches, not by a rewrite', async () => {
      const db = await database();
      await grantDocumented(db);
      // The probe of a default asks the server on a temporary table; without TEMPORARY it cannot.
      await db.knex.raw(`REVOKE TEMPORARY ON DATABASE ${ident(engine, dbName(db))} FROM PUBLIC`);
      await db.knex.raw('CREATE SEQUENCE order_codes');
      await db.knex.raw(`GRANT USAGE ON SEQUENCE order_codes TO ${account}`);
      // Volatile, and named like nothing zmigrate lint knows.
      await db.knex.raw("CREATE FUNCTION next_code() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('order_codes') $$");
      await db.knex.raw("INSERT INTO orders SELECT g, 'n', g FROM generate_series(2, 500) g");
      const node = async () =>
        String(rowsOf<{ node: unknown }>(await db.knex.raw("SELECT pg_relation_filenode('orders') AS node"))[0].node);
      const before = await node();
      const dir = migrationsDir({
        '0001_code.ts': migrationSource(["op.addColumn('orders', 'code', { type: 'bigint', nullable: false, default: 'next_code()' })"]),
      });
      const expand = await asUser(db, dir)('expand');
      expect(outcome(expand)).toEqual({ code: 0, errors: [] });
      expect(expand.stderr).toMatch(/· backfill orders\._zm_|· backfill orders/);
      expect(await node()).toBe(before);
      const codes = rowsOf<{ n: unknown; distinct_codes: unknown }>(
        await db.knex.raw('SELECT count(*) AS n, count(DISTINCT code) AS distinct_codes FROM orders'),
      );
      expect(codes.map((r) => [Number(r.n), Number(r.distinct_codes)])).toEqual([[500, 500]]);
    });
  } else {
    test('no ALTER, then no rights on the version databases, then no TRIGGER: each a clear error with exit 2; granted, the rerun finishes', async () => {
      const db = await database();
      const base = ident(engine, dbName(db));
      await db.knex.raw(
        `GRANT CREATE, DROP, INDEX, SELECT, INSERT, UPDATE, DELETE, REFERENCES, CREATE VIEW, SHOW VIEW ON ${base}.* TO ${account}`,
      );
      const dir = migrationsDir(MIGRATIONS);
      const zmigrate = asUser(db, dir);

      const noAlter = await zmigrate('expand');
      expectPrivilegeError(
        noAlter,
        new RegExp(
          `^error: 0001_customers \\(expand\\): add column orders\\.customer_id: permission denied: the database user lacks ALTER on table ${dbName(db)}\\.orders \\(the server said: ALTER command denied to user '${user}'@`,
        ),
        password,
      );
      expect(await status(db, dir)).toEqual(['0001_customers expanding', '0002_amount pending']);
      expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer', 'amount']);

      // 0001 finishes up to its version database; 0002 adds its column, then needs a trigger.
      await db.knex.raw(`GRANT ALTER ON ${base}.* TO ${account}`);
      expectPrivilegeError(
        await zmigrate('expand'),
        new RegExp(
          `^error: 0001_customers \\(expand\\): create version schema ${dbName(db)}_0001_customers: permission denied: the database user lacks CREATE on database ${dbName(db)}_0001_customers`,
        ),
        password,
      );
      expect(await status(db, dir)).toEqual(['0001_customers expanding', '0002_amount pending']);
      expect((await inspect(db)).versionSchemas).toEqual([]);

      await db.knex.raw(`GRANT CREATE, DROP, CREATE VIEW, SHOW VIEW ON ${versionDatabases(db)} TO ${account}`);
      expectPrivilegeError(
        await zmigrate('expand'),
        new RegExp(
          `^error: 0002_amount \\(expand\\): dual-write trigger .*permission denied: the database user lacks TRIGGER on table ${dbName(db)}\\.orders`,
        ),
        password,
      );
      expect(await status(db, dir)).toEqual(['0001_customers expanded', '0002_amount expanding']);
      expect((await inspect(db)).triggers).toEqual([]);

      await db.knex.raw(`GRANT TRIGGER ON ${base}.* TO ${account}`);
      const rerun = await zmigrate('expand');
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toContain('expanded 0002_amount');
      expect(rerun.stderr).toContain('expand 0002_amount (resuming)');
      expect(await status(db, dir)).toEqual(['0001_customers expanded', '0002_amount expanded']);
    });
  }

  test('no access to the database at all: a clear error with exit 2 naming the database, nothing created', async () => {
    const db = await database();
    // PostgreSQL lets everyone connect unless CONNECT is taken from PUBLIC; MariaDB lets in no one without a grant.
    if (engine === 'postgres') await db.knex.raw(`REVOKE CONNECT ON DATABASE ${ident(engine, dbName(db))} FROM PUBLIC`);
    const dir = migrationsDir(MIGRATIONS);
    const redacted = `${engine}://${user}:\\*\\*\\*@`;
    expectPrivilegeError(
      await asUser(db, dir)('expand'),
      new RegExp(
        `^error: cannot use the database at ${redacted}.*: permission denied: the database user lacks ${engine === 'postgres' ? 'CONNECT on' : 'access to'} database ${dbName(db)} `,
      ),
      password,
    );
    const state = await inspect(db);
    expect(state.columns('orders')).toEqual(['id', 'customer', 'amount']);
    expect(state.versionSchemas).toEqual([]);
  });

  test("an app's role that may not read zmigrate's state: status and latestVersionSchema say what it lacks, not that nothing was applied", async () => {
    const db = await database();
    const dir = migrationsDir(MIGRATIONS);
    expect(outcome(await runCli(['expand', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } }))).toEqual({ code: 0, errors: [] });
    // The app's role reads orders and nothing of zmigrate's (information_schema hides from it what it has no privilege on).
    if (engine === 'mysql') await db.knex.raw(`GRANT SELECT ON ${ident(engine, dbName(db))}.${ident(engine, 'orders')} TO ${account}`);
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    const status = await runCli(['status', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: url.toString() } });
    expectPrivilegeError(status, /^error: reading zmigrate's state: permission denied: the database user lacks /, password);
    await expect(latestVersionSchema(url.toString())).rejects.toThrow(/reading zmigrate's state: permission denied/);
  });

  test('exactly the documented privileges run expand → contract', async () => {
    const db = await database();
    await grantDocumented(db);
    const dir = migrationsDir(MIGRATIONS);
    const zmigrate = asUser(db, dir);

    const expand = await zmigrate('expand');
    expect({ code: expand.code, stderr: expand.stderr.split('\n').filter((l) => l.startsWith('error:')) }).toEqual({ code: 0, stderr: [] });
    expect(expand.stdout).toContain('expanded 0001_customers, 0002_amount');
    const contract = await zmigrate('contract');
    expect({ code: contract.code, stderr: contract.stderr.split('\n').filter((l) => l.startsWith('error:')) }).toEqual({
      code: 0,
      stderr: [],
    });
    expect(contract.stdout).toContain('contracted 0001_customers, 0002_amount');
    expect(expand.stdout + expand.stderr + contract.stdout + contract.stderr).not.toContain(password);

    expect(await status(db, dir)).toEqual(['0001_customers complete', '0002_amount complete']);
    const state = await inspect(db);
    expect(state.tables).toEqual(['customers', 'orders']);
    // alterColumn's new amount column took the old one's name at contract: in its place on MySQL/MariaDB (added
    // right after the old one), last on PostgreSQL, which adds columns last.
    expect(state.columns('orders')).toEqual(
      engine === 'mysql' ? ['id', 'customer_name', 'amount', 'customer_id'] : ['id', 'customer_name', 'customer_id', 'amount'],
    );
    expect(state.triggers).toEqual([]);
    expect(state.versionSchemas).toEqual([`${db.base}_0002_amount`]);
    expect(await orders(db)).toEqual([expect.objectContaining({ customer_name: 'Ada', amount: engine === 'mysql' ? 7 : '7' })]);
  });

  test('exactly the documented privileges run expand → rollback', async () => {
    const db = await database();
    await grantDocumented(db);
    const dir = migrationsDir(MIGRATIONS);
    const zmigrate = asUser(db, dir);
    const before = await inspect(db);

    expect((await zmigrate('expand')).code).toBe(0);
    for (const name of ['0002_amount', '0001_customers']) {
      const rollback = await zmigrate('rollback');
      expect({ code: rollback.code, stderr: rollback.stderr.split('\n').filter((l) => l.startsWith('error:')) }).toEqual({
        code: 0,
        stderr: [],
      });
      expect(rollback.stdout).toContain(`rolled back ${name}`);
    }

    expect(await status(db, dir)).toEqual(['0001_customers rolled back', '0002_amount rolled back']);
    const state = await inspect(db);
    expect(state.tables).toEqual(before.tables);
    expect(state.columns('orders')).toEqual(['id', 'customer', 'amount']);
    expect(state.triggers).toEqual([]);
    expect(state.versionSchemas).toEqual([]);
    expect(await orders(db)).toEqual([expect.objectContaining({ customer: 'Ada', amount: 7 })]);
  });

  // Without PROCESS the server does not show which transactions wait for a row lock (INNODB_TRX): a copy's
  // chunk that meets a row an app holds is left to innodb_lock_wait_timeout (whole seconds), then tried again.
  if (engine === 'mysql')
    test("exactly the documented privileges: a copy chunk that meets a row an app holds waits the server's timeout and is tried again", async () => {
      const db = await database();
      await grantDocumented(db);
      await db.knex.raw("INSERT INTO `orders` SELECT seq, CONCAT('c', seq), seq FROM seq_2_to_40000");
      const url = new URL(db.url);
      url.username = user;
      url.password = password;
      const dir = migrationsDir({ '0001_amount.ts': MIGRATIONS['0002_amount.ts'] });
      const run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--batch-size', '500', '--batch-delay', '30'], {
        ZMIGRATE_DATABASE_URL: url.toString(),
      });
      await run.waitForStderr(/· copy orders/);
      const trx = await db.knex.transaction();
      try {
        await trx.raw('UPDATE `orders` SET `amount` = -1 WHERE `id` = 39000');
        await run.waitForStderr(/lock not granted in time for a batch of orders/);
      } finally {
        await trx.commit();
      }
      const result = await run.done;
      expect({ code: result.code, errors: result.stderr.split('\n').filter((l) => l.startsWith('error:')) }).toEqual({
        code: 0,
        errors: [],
      });
      expect(result.stderr).toMatch(/lock not granted in time for a batch of orders; retry 1\/10 in \d+ ms/);
      expect(result.stderr).not.toContain('waiting for a row lock');
      expect(rowsOf(await db.knex.raw('SELECT `amount` FROM `orders` WHERE `id` = 39000'))).toEqual([{ amount: -1 }]);
    });
});
