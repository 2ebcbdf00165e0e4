/**
 * The test harness's own guarantees, where getting them wrong would damage
 * what is not theirs: dropping a test database drops nothing else.
 */
import { createTestDatabase, dropDatabase } from './support/databases';
import { rowsOf } from './support/apps';

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
