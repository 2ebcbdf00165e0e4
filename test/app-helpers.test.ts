/**
 * The helpers an app uses to pick its version: the latest version schema
 * from zmigrate's state, and knex / pg / mysql2 settings that point a
 * connection at it. Setting the schema is all the triggers need.
 */
import knexFactory from 'knex';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import { knexConfigForVersion, latestVersionSchema, mysqlConfigForVersion, pgConfigForVersion, StateError } from '../src';
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
