/**
 * Finds the servers the tests talk to: ZMIGRATE_TEST_PG_URL and
 * ZMIGRATE_TEST_MYSQL_URL when set (each must answer, else the run stops
 * here once rather than in every file), else containers started with
 * testcontainers. Without either the run fails and says how to fix it;
 * no test is ever skipped for want of a server.
 */
import knexFactory, { type Knex } from 'knex';
import type { StartedTestContainer } from 'testcontainers';
import { mysqlConnection, redactUrl, redactUrls } from '../../src/dialects/url';

declare global {
  var __ZMIGRATE_CONTAINERS__: StartedTestContainer[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  globalThis.__ZMIGRATE_CONTAINERS__ = [];
  const given = [
    { engine: 'postgres', variable: 'ZMIGRATE_TEST_PG_URL' },
    { engine: 'mysql', variable: 'ZMIGRATE_TEST_MYSQL_URL' },
  ] as const;
  for (const { engine, variable } of given) {
    const url = process.env[variable];
    if (url) await probeServer(engine, variable, url);
  }
  if (!process.env.ZMIGRATE_TEST_PG_URL) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const pg = await start('PostgreSQL', 'ZMIGRATE_TEST_PG_URL', 'postgres://postgres@127.0.0.1:5432/test', () =>
      new PostgreSqlContainer('postgres:15').withDatabase('test').start(),
    );
    process.env.ZMIGRATE_TEST_PG_URL = pg.getConnectionUri();
  }
  if (!process.env.ZMIGRATE_TEST_MYSQL_URL) {
    const { MariaDbContainer } = await import('@testcontainers/mariadb');
    const mysql = await start('MariaDB', 'ZMIGRATE_TEST_MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', () =>
      new MariaDbContainer('mariadb:10.11').withDatabase('test').withRootPassword('test').start(),
    );
    process.env.ZMIGRATE_TEST_MYSQL_URL = `mysql://root:test@${mysql.getHost()}:${mysql.getPort()}/test`;
  }
}

async function start<T extends StartedTestContainer>(engine: string, variable: string, example: string, run: () => Promise<T>): Promise<T> {
  try {
    const container = await run();
    globalThis.__ZMIGRATE_CONTAINERS__!.push(container);
    return container;
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new Error(
      `No ${engine} server for the tests: set ${variable} (for example ${variable}=${example}), ` +
        `or make Docker available so testcontainers can start one (testcontainers said: ${reason})`,
    );
  }
}

/**
 * Fails, with one line saying how to provide a server, unless the server
 * that `url` (the value of `variable`) names answers SELECT 1.
 */
export async function probeServer(engine: 'postgres' | 'mysql', variable: string, url: string): Promise<void> {
  const pool = { min: 0, max: 1 };
  // knex logs a failed connection with its stack: the one line below says it all.
  const quiet = () => undefined;
  const log = { error: quiet, warn: quiet, debug: quiet, deprecate: quiet };
  let knex: Knex | undefined;
  try {
    knex =
      engine === 'postgres'
        ? knexFactory({ client: 'pg', connection: { connectionString: url, connectionTimeoutMillis: 10_000 }, pool, log })
        : knexFactory({
            client: 'mysql2',
            connection: {
              ...mysqlConnection(new URL(url)),
              database: decodeURIComponent(new URL(url).pathname.slice(1)) || undefined,
              connectTimeout: 10_000,
            },
            pool,
            log,
          });
    await knex.raw('SELECT 1');
  } catch (error) {
    // Not `instanceof Error`: under jest the driver's errors come from another realm.
    const text = typeof (error as Error | undefined)?.message === 'string' ? (error as Error).message : String(error);
    const reason = redactUrls(text.split('\n')[0]);
    const server = engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB';
    const failure = new Error(
      `${variable}=${redactUrl(url)}: the tests cannot use that ${server} server (${reason}); ` +
        `start it (or correct the URL), or unset ${variable} to have the tests start one in Docker (testcontainers)`,
    );
    failure.stack = failure.message; // one line, not a stack of the probe's internals
    throw failure;
  } finally {
    await knex?.destroy();
  }
}
