/**
 * Each test file gets databases of its own on both servers (and a PGlite
 * folder), so files run in parallel without seeing each other.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { knexConfigForVersion } from '../../src';
import { mysqlConnection } from '../../src/dialects/url';
import { pgliteRaw, withPglite } from './pglite';

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

/** A database name no other test, process or checkout uses at the same time. */
export function uniqueName(): string {
  counter += 1;
  return `zmt_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/**
 * A collation that does not sort by code point: on PostgreSQL ICU's en-US (punctuation before digits), on
 * MySQL/MariaDB utf8mb4_general_ci (letters compared as capitals, so before `_`).
 */
const LOCALE_COLLATION = {
  postgres: "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
  mysql: 'CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci',
};

/** `localeCollation`: the database's default collation is a language's (LOCALE_COLLATION), not the server's. */
export async function createTestDatabase(engine: Engine, options: { localeCollation?: boolean } = {}): Promise<TestDatabase> {
  if (engine === 'pglite') return createPglite();
  const admin = serverUrl(engine);
  const name = uniqueName();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const adminKnex = knexFor(engine, admin);
  const collation = options.localeCollation ? ` ${LOCALE_COLLATION[engine]}` : '';
  try {
    await adminKnex.raw(engine === 'postgres' ? `CREATE DATABASE "${name}"${collation}` : `CREATE DATABASE \`${name}\`${collation}`);
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
      await dropDatabase(engine, name);
    },
  };
}

/**
 * Drops database `name` on the engine's test server and, on MySQL/MariaDB,
 * the version databases zmigrate made for it (`<name>_<migration>`), and no
 * other: LIKE reads `_` as any one character, so the name's own are escaped.
 */
export async function dropDatabase(engine: 'postgres' | 'mysql', name: string): Promise<void> {
  const a = knexFor(engine, serverUrl(engine));
  try {
    if (engine === 'postgres') {
      await a.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    } else {
      const [rows] = await a.raw('SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? OR SCHEMA_NAME LIKE ?', [
        name,
        `${name.replace(/[\\%_]/g, '\\$&')}\\_%`,
      ]);
      for (const row of rows as Array<{ s: string }>) await a.raw('DROP DATABASE IF EXISTS ??', [row.s]);
    }
  } finally {
    await a.destroy();
  }
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

/** A PGlite folder; each query opens it in this process and closes it again (see support/pglite.ts). Only `raw` is offered. */
function createPglite(): TestDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-pglite-'));
  const raw = (sql: string, bindings: unknown[] = []) => withPglite(dir, (db) => pgliteRaw(db)(sql, bindings));
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
