/**
 * Finds the servers the tests talk to: ZMIGRATE_TEST_PG_URL and
 * ZMIGRATE_TEST_MYSQL_URL when set, else containers started with
 * testcontainers. Without either the run fails and says how to fix it;
 * no test is ever skipped for want of a server.
 */
import type { StartedTestContainer } from 'testcontainers';

declare global {
  var __ZMIGRATE_CONTAINERS__: StartedTestContainer[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  globalThis.__ZMIGRATE_CONTAINERS__ = [];
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
