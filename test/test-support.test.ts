/**
 * The test harness's own guarantees, where getting them wrong would make
 * other tests fail for the wrong reason or damage what is not theirs: a
 * server named by a variable that does not answer stops the run with one
 * line, and dropping a test database drops nothing else.
 */
import { createServer } from 'node:net';
import { createTestDatabase, dropDatabase } from './support/databases';
import { probeServer } from './support/global-setup';
import { rowsOf } from './support/apps';

/** A local port nothing listens on: one the system handed out, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the servers named by ZMIGRATE_TEST_PG_URL and ZMIGRATE_TEST_MYSQL_URL', () => {
  test.each([
    ['postgres', 'ZMIGRATE_TEST_PG_URL'],
    ['mysql', 'ZMIGRATE_TEST_MYSQL_URL'],
  ] as const)(
    '%s: one that answers passes the probe; one that does not fails it with one line saying what to do',
    async (engine, variable) => {
      await expect(probeServer(engine, variable, process.env[variable]!)).resolves.toBeUndefined();
      const url = `${engine}://someone:Pr0be-Secret@127.0.0.1:${await closedPort()}/test`;
      const failure = await probeServer(engine, variable, url).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.stack).toMatch(
        new RegExp(
          `^${variable}=${engine}://someone:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/test: the tests cannot use that .* server \\(connect ECONNREFUSED .*\\); ` +
            `start it \\(or correct the URL\\), or unset ${variable} to have the tests start one in Docker \\(testcontainers\\)$`,
        ),
      );
    },
  );
});

describe('dropping a MySQL/MariaDB test database', () => {
  test('drops its version databases and leaves one whose name matches only where LIKE reads _ as any character', async () => {
    const observer = await createTestDatabase('mysql');
    const db = await createTestDatabase('mysql');
    // `zmt_1_x_1` + `\_%` as a LIKE pattern, its own _ unescaped, also matched `zmtq1qxq1_…`.
    const lookalike = `${db.base.replace(/_/g, 'q')}_0001_other`;
    const exists = async (name: string) =>
      rowsOf(await observer.knex.raw('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])).length === 1;
    try {
      await observer.knex.raw('CREATE DATABASE ??', [`${db.base}_0001_mine`]);
      await observer.knex.raw('CREATE DATABASE ??', [lookalike]);
      await db.drop();
      expect({ base: await exists(db.base), version: await exists(`${db.base}_0001_mine`), lookalike: await exists(lookalike) }).toEqual({
        base: false,
        version: false,
        lookalike: true,
      });
    } finally {
      await dropDatabase('mysql', lookalike);
      await observer.drop();
    }
  });
});
