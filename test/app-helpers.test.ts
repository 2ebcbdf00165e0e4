/**
 * The helpers an app uses to pick its version: the latest version schema
 * from zmigrate's state, and knex / pg / mysql2 settings that point a
 * connection at it. Setting the schema is all the triggers need.
 */
import knexFactory, { type Knex } from 'knex';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import {
  ConfigError,
  ConnectionError,
  knexConfigForVersion,
  latestVersionSchema,
  mysqlConfigForVersion,
  pgConfigForVersion,
  StateError,
} from '../src';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';

describe.each(SERVER_ENGINES)('app helpers on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('latestVersionSchema, then knex and the native driver write through the version', async () => {
    await expect(latestVersionSchema(db.url)).rejects.toBeInstanceOf(StateError);
    const dir = migrationsDir({
      '0001_people.ts': migrationSource([
        "op.createTable('people', { columns: { id: { type: 'integer', primaryKey: true }, name: { type: 'varchar(40)', nullable: false } } })",
      ]),
      '0002_rename.ts': migrationSource(["op.renameColumn('people', 'name', 'full_name')"]),
    });
    expect((await runCli(['expand', '--dir', dir, '--url', db.url])).code).toBe(0);
    const schema = await latestVersionSchema(db.url);
    expect(schema).toBe(`${db.base}_0002_rename`);

    const url = new URL(db.url);
    const base =
      engine === 'postgres'
        ? { client: 'pg', connection: { connectionString: db.url } }
        : {
            client: 'mysql2',
            connection: {
              host: url.hostname,
              port: Number(url.port),
              user: decodeURIComponent(url.username),
              password: decodeURIComponent(url.password),
              database: db.base,
            },
          };
    const app = knexFactory(knexConfigForVersion(base, schema));
    try {
      await app('people').insert({ id: 1, full_name: 'via knex' });
    } finally {
      await app.destroy();
    }

    if (engine === 'postgres') {
      const pool = new Pool(pgConfigForVersion({ connectionString: db.url }, schema));
      try {
        await pool.query('INSERT INTO people (id, full_name) VALUES ($1, $2)', [2, 'via pg']);
      } finally {
        await pool.end();
      }
    } else {
      const pool = mysql.createPool(
        mysqlConfigForVersion(
          {
            host: url.hostname,
            port: Number(url.port),
            user: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
          },
          schema,
        ),
      );
      try {
        await pool.query('INSERT INTO people (id, full_name) VALUES (?, ?)', [2, 'via mysql2']);
      } finally {
        await pool.end();
      }
    }
    // The old app reads the same rows under the old name.
    const rows = await db.knex('people').orderBy('id').select('id', 'name');
    expect(rows).toEqual([
      { id: 1, name: 'via knex' },
      { id: 2, name: engine === 'postgres' ? 'via pg' : 'via mysql2' },
    ]);
  });

  test('a URL or a function as the connection, a name in capitals, an options parameter in the URL: the version still reaches the session', async () => {
    if (engine === 'postgres') {
      // A schema whose name keeps its capitals only when quoted, and a URL with options of its own.
      await db.knex.raw('CREATE SCHEMA "MyApp_V2"; CREATE TABLE "MyApp_V2".marker (id integer)');
      const url = new URL(db.url);
      url.searchParams.set('options', '-c statement_timeout=4321');
      const pool = new Pool(pgConfigForVersion({ connectionString: url.toString() }, 'MyApp_V2'));
      try {
        const { rows } = await pool.query(
          "SELECT current_setting('search_path') AS path, current_setting('statement_timeout') AS timeout, (SELECT count(*) FROM marker) AS markers",
        );
        expect(rows).toEqual([{ path: '"MyApp_V2"', timeout: '4321ms', markers: '0' }]);
      } finally {
        await pool.end();
      }
      return;
    }
    const version = `${db.base}_helpers`;
    await db.knex.raw(`CREATE DATABASE \`${version}\``);
    const url = new URL(db.url);
    const settings = {
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: db.base,
    };
    try {
      for (const connection of [db.url, async () => settings]) {
        const app = knexFactory(knexConfigForVersion({ client: 'mysql2', connection }, version));
        try {
          const [rows] = (await app.raw('SELECT DATABASE() AS db, @zmigrate_version AS version')) as [unknown[]];
          expect(rows).toEqual([{ db: version, version }]);
        } finally {
          await app.destroy();
        }
      }
    } finally {
      await db.knex.raw(`DROP DATABASE \`${version}\``);
    }
  });
});

describe.each(SERVER_ENGINES)('latestVersionSchema on %s', (engine) => {
  test.each([
    // PostgreSQL trusts local logins here, so its refused login is a role it does not have.
    ['refused credentials', 'authentication failed for'],
    ['a port nothing listens on', 'cannot reach the database server at'],
  ])('%s: a one-line ConnectionError, the password nowhere', async (what, start) => {
    const url = new URL(engine === 'postgres' ? process.env.ZMIGRATE_TEST_PG_URL! : process.env.ZMIGRATE_TEST_MYSQL_URL!);
    url.password = 'Secr3t-Wrong-99';
    if (engine === 'postgres') url.username = `zm_no_role_${process.pid}`;
    if (what !== 'refused credentials') url.port = '1';
    const error = await latestVersionSchema(url.toString()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    const text = `${(error as Error).message} ${(error as ConnectionError).hint}`;
    expect(text.startsWith(`${start} ${engine}://${url.username}:***@127.0.0.1:${url.port}/`)).toBe(true);
    expect(text).not.toContain('\n');
    expect(text).not.toMatch(/Secr3t|Wrong-99/);
  });
});

describe.each(SERVER_ENGINES)('knexConfigForVersion and a pool made beforehand on %s', (engine) => {
  test('a connectionPool is refused, saying how to version such a pool (knex would leave it on the base tables, or fail)', async () => {
    const db = await createTestDatabase(engine);
    const pool = engine === 'postgres' ? new Pool({ connectionString: db.url }) : mysql.createPool(mysqlSettings(db.url));
    try {
      const client = engine === 'postgres' ? 'pg' : 'mysql2';
      let thrown: unknown;
      try {
        knexConfigForVersion({ client, connectionPool: pool }, `${db.base}_0001_x`);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toMatch(
        /^knexConfigForVersion cannot version a connectionPool made beforehand: give knex `connection` instead, or make the pool with pgConfigForVersion .*mysqlConfigForVersion/,
      );
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});

describe('knexConfigForVersion on MySQL/MariaDB', () => {
  let db: TestDatabase;
  let version: string;
  beforeAll(async () => {
    db = await createTestDatabase('mysql');
    version = `${db.base}_v2`;
    await db.knex.raw(`CREATE DATABASE \`${version}\``);
  });
  afterAll(async () => {
    await db.drop();
  });

  /** The session's default database and the version the triggers are told, through a knex made of `config`. */
  async function session(config: Knex.Config): Promise<unknown> {
    const app = knexFactory(config);
    try {
      const [rows] = (await app.raw('SELECT DATABASE() AS db, @zmigrate_version AS version')) as [unknown[]];
      return rows[0];
    } finally {
      await app.destroy();
    }
  }

  test("knex's `dialect` alias without `client` is MySQL too (it was given a PostgreSQL searchPath)", async () => {
    const quiet = { warn() {}, deprecate() {} };
    expect(await session({ ...knexConfigForVersion({ dialect: 'mysql2', connection: db.url }, version), log: quiet })).toEqual({
      db: version,
      version,
    });
  });

  test("the mysql client's URL becomes fields its driver knows (mysqljs knows no `uri` and would go to localhost)", async () => {
    const url = new URL(db.url);
    url.searchParams.set('connectTimeout', '4000');
    const config = knexConfigForVersion({ client: 'mysql', connection: url.toString() }, version);
    expect(config.connection).toEqual({ ...mysqlSettings(db.url), connectTimeout: 4000, database: version });
    // The same fields reach the server through mysql2.
    expect(await session({ client: 'mysql2', connection: config.connection, pool: config.pool })).toEqual({ db: version, version });
  });

  test("the version is set after the app's own afterCreate, and a config versioned twice takes the second version", async () => {
    const older = `${db.base}_v1`;
    const afterCreate = (
      conn: { query: (sql: string, values: unknown[], cb: (err: Error | null) => void) => void },
      done: (err: Error | null, conn: unknown) => void,
    ) => conn.query('SET @zmigrate_version = ?, @app_ready = 1', [older], (err) => done(err, conn));
    expect(await session(knexConfigForVersion({ client: 'mysql2', connection: db.url, pool: { afterCreate } }, version))).toEqual({
      db: version,
      version,
    });
    expect(await session(knexConfigForVersion(knexConfigForVersion({ client: 'mysql2', connection: db.url }, older), version))).toEqual({
      db: version,
      version,
    });
  });
});

function mysqlSettings(url: string): { host: string; port: number; user: string; password: string } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}
