/**
 * alterColumn and the PostgreSQL indexes that read its column other than as
 * a plain key column: in an expression, or in a partial index's predicate.
 * Such an index once went with the old column at contract, without a word
 * (a partial UNIQUE index's rule with it). It is now built again on the new
 * column at expand, from its definition with the column rewritten (method,
 * operator classes, ordering, storage parameters and predicate kept), so it
 * holds for both apps' writes, and takes the old name at contract; rollback
 * drops it. Where the rewrite cannot be sure (a column named like a word of
 * an index definition), the operation is refused before anything changes.
 */
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli, type CliResult } from './support/cli';
import { deployUnderLoad, retryViewSwap, rowsOf } from './support/apps';
import { snapshot } from './support/inspect';

describe('alterColumn and the partial and expression indexes over its column on PostgreSQL', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw('CREATE TABLE users (id integer PRIMARY KEY, email varchar(100) NOT NULL, deleted_at timestamptz)');
    await db.knex.raw("INSERT INTO users SELECT g, 'u' || g || '@x.org', NULL FROM generate_series(1, 1000) g");
    await db.knex.raw('CREATE UNIQUE INDEX users_email_live ON users (lower(email)) WHERE deleted_at IS NULL');
    await db.knex.raw('CREATE INDEX users_email_pattern ON users (email text_pattern_ops, (length(email)) DESC) WITH (fillfactor = 70)');
  });

  afterEach(async () => {
    await db.drop();
  });

  const WIDEN = migrationSource(["op.alterColumn('users', 'email', { type: 'varchar(255)', up: 'email', down: 'email' })"]);
  const cli = (command: string, source = WIDEN): Promise<CliResult> =>
    runCli([command, '--dir', migrationsDir({ '0001_widen.ts': source })], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  async function definitions(): Promise<string[]> {
    return rowsOf<{ d: string }>(await db.knex.raw("select indexdef as d from pg_indexes where tablename = 'users' order by 1")).map(
      (r) => r.d,
    );
  }

  test('they are built again on the new column, hold for both apps while both write, and take the old names', async () => {
    const before = await definitions();
    await deployUnderLoad({
      run: (command) => cli(command),
      newApp: () => db.versionKnex(`${db.base}_0001_widen`),
      oldWrite: async (i) => {
        await db.knex('users').insert({ id: 10_000 + i, email: `old${i}@x.org` });
      },
      newWrite: async (app, i) => {
        await retryViewSwap(() => app('users').insert({ id: 20_000 + i, email: `new${i}@x.org` }));
      },
      during: async (app, expand) => {
        expect(expand.stderr).toMatch(/create index _zm_users_email_live/);
        // A duplicate is refused to either app (by whichever of the two unique indexes checks first).
        await expect(app('users').insert({ id: 30_000, email: 'U1@X.org' })).rejects.toThrow(/users_email_live/);
        await expect(db.knex('users').insert({ id: 30_001, email: 'U2@X.org' })).rejects.toThrow(/users_email_live/);
        // A deleted row is outside the predicate.
        await app('users').insert({ id: 30_002, email: 'U3@X.org', deleted_at: new Date() });
      },
    });
    // The same definitions under the same names: method, operator class, ordering, storage parameter, predicate.
    expect(await definitions()).toEqual(before);
    await expect(db.knex('users').insert({ id: 40_000, email: 'U4@X.org' })).rejects.toThrow(/users_email_live/);
  });

  test('rollback drops the rebuilt indexes and leaves the old ones', async () => {
    const before = await definitions();
    expect((await cli('expand')).code).toBe(0);
    expect(await definitions()).toHaveLength(before.length + 2);
    expect((await cli('rollback')).code).toBe(0);
    expect(await definitions()).toEqual(before);
  });

  test('a column named like a word of an index definition is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE users ADD COLUMN fillfactor integer');
    await db.knex.raw('CREATE INDEX users_fill ON users (id) WHERE fillfactor > 0');
    const before = await snapshot(db);
    const result = await cli(
      'expand',
      migrationSource(["op.alterColumn('users', 'fillfactor', { type: 'bigint', up: 'fillfactor', down: 'fillfactor' })"]),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /alterColumn users\.fillfactor: index "users_fill" is partial or over expressions and cannot be carried over/,
    );
    expect(await snapshot(db)).toEqual(before);
  });

  test('a partial index that reads other columns only is left alone', async () => {
    await db.knex.raw('CREATE UNIQUE INDEX users_live_id ON users (id) WHERE deleted_at IS NULL');
    const before = await definitions();
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    expect(await definitions()).toEqual(before);
  });
});
