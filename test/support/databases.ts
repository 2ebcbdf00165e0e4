/**
 * Each test file gets databases of its own on both servers (and a PGlite
 * folder), so files run in parallel without seeing each other.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { knexConfigForVersion } from '../../src';
import { mysqlConnection } from '../../src/dialects/url';

export type Engine = 'postgres' | 'mysql' | 'pglite';
export const SERVER_ENGINES: Engine[] = ['postgres', 'mysql'];
export const ALL_ENGINES: Engine[] = ['postgres', 'mysql', 'pglite'];

export interface TestDatabase {
  engine: Engine;
  /** The URL zmigrate and the apps use. */
  url: string;
  /** The base schema (PostgreSQL) or database (MySQL) that migrations change. */
  base: string;
  /** A knex connected to the database as an application would be (not zmigrate). */
  knex: Knex;
  /** A knex whose connections use the given version schema (search_path / default database). */
  versionKnex(schema: string): Knex;
  /** PGlite: closes the test's own connection so a zmigrate process can open the folder. Elsewhere a no-op. */
  closeApp(): Promise<void>;
  /** Drops the database and everything zmigrate made for it. */
  drop(): Promise<void>;
}

let counter = 0;

function serverUrl(engine: 'postgres' | 'mysql'): string {
  const variable = engine === 'postgres' ? 'ZMIGRATE_TEST_PG_URL' : 'ZMIGRATE_TEST_MYSQL_URL';
  const url = process.env[variable];
  if (!url) throw new Error(`${variable} is not set (global setup should have set it or failed)`);
  return url;
}

function uniqueName(): string {
  counter += 1;
  return `zmt_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === 'pglite') return createPglite();
  const admin = serverUrl(engine);
  const name = uniqueName();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const adminKnex = knexFor(engine, admin);
  try {
    await adminKnex.raw(engine === 'postgres' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\``);
  } finally {
    await adminKnex.destroy();
  }
  const knex = knexFor(engine, url.toString());
  const extra: Knex[] = [];
  return {
    engine,
    url: url.toString(),
    base: engine === 'postgres' ? 'public' : name,
    knex,
    versionKnex(schema) {
      const k =
        engine === 'postgres'
          ? knexFactory({ client: 'pg', connection: { connectionString: url.toString() }, searchPath: [schema], pool: { min: 0, max: 4 } })
          : knexFactory(knexConfigForVersion(mysqlConfig(url.toString()), schema));
      extra.push(k);
      return k;
    },
    async closeApp() {},
    async drop() {
      await Promise.all([...extra, knex].map((k) => k.destroy()));
      const a = knexFor(engine, admin);
      try {
        if (engine === 'postgres') {
          await a.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } else {
          const [rows] = await a.raw(
            'SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? OR SCHEMA_NAME LIKE ?',
            [name, `${name}\\_%`],
          );
          for (const row of rows as Array<{ s: string }>) await a.raw(`DROP DATABASE IF EXISTS \`${row.s}\``);
        }
      } finally {
        await a.destroy();
      }
    },
  };
}

function knexFor(engine: 'postgres' | 'mysql', url: string): Knex {
  if (engine === 'postgres') return knexFactory({ client: 'pg', connection: { connectionString: url }, pool: { min: 0, max: 4 } });
  return knexFactory(mysqlConfig(url));
}

function mysqlConfig(url: string): Knex.Config {
  const u = new URL(url);
  return {
    client: 'mysql2',
    connection: {
      ...mysqlConnection(u),
      database: decodeURIComponent(u.pathname.slice(1)) || undefined,
    },
    pool: { min: 0, max: 4 },
  };
}

/**
 * PGlite keeps its data in a folder that one process opens at a time, and
 * loads itself with a dynamic import that jest's VM refuses; so tests read it
 * in a child process, after zmigrate has exited. Only `raw` is offered.
 */
function createPglite(): TestDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-pglite-'));
  const script = path.join(__dirname, 'pglite-query.js');
  const raw = async (sql: string, bindings: unknown[] = []) => {
    const sqlPg = sql.replace(
      /\?/g,
      (() => {
        let i = 0;
        return () => `$${++i}`;
      })(),
    );
    const out = execFileSync(process.execPath, [script, dir, sqlPg, JSON.stringify(bindings)], { encoding: 'utf8' });
    return { rows: JSON.parse(out) as unknown[] };
  };
  return {
    engine: 'pglite',
    url: `pglite:${dir}`,
    base: 'public',
    knex: { raw } as unknown as Knex,
    versionKnex() {
      throw new Error('PGlite has a single connection; query the version schema with qualified names');
    },
    async closeApp() {},
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
