/**
 * alterColumn and the indexes over its column, built again on the new column
 * at expand and given the old names at contract: each must come out as it
 * was, not as a plain B-tree over the same columns.
 *
 * First, the PostgreSQL indexes that read its column other than as
 * a plain key column: in an expression, or in a partial index's predicate.
 * Such an index once went with the old column at contract, without a word
 * (a partial UNIQUE index's rule with it). It is now built again on the new
 * column at expand, from its definition with the column rewritten (method,
 * operator classes, ordering, storage parameters and predicate kept), so it
 * holds for both apps' writes, and takes the old name at contract; rollback
 * drops it. Where the rewrite cannot be sure (a column named like a word of
 * an index definition), the operation is refused before anything changes.
 *
 * An index that is the table's replica identity (REPLICA IDENTITY USING
 * INDEX) once left the table with none (it behaved as NOTHING) after
 * contract: the rebuilt index takes it in the swap.
 */
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { deployUnderLoad, queryRows, retryViewSwap, rowsOf, waitUntil } from './support/apps';
import { snapshot } from './support/inspect';
import { startCli } from './support/process';

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

  /** The backfill's checkpoint: the last key it has filled up to (0 before its first batch). */
  async function backfilledUpTo(): Promise<number> {
    const rows = rowsOf<{ c: string }>(await db.knex.raw('SELECT checkpoint AS c FROM zmigrate.steps WHERE checkpoint IS NOT NULL'));
    return rows[0] ? Number((JSON.parse(rows[0].c) as { last: unknown[] | null }).last?.[0] ?? 0) : 0;
  }

  test.each([
    [
      'a partial unique index whose predicate reads it',
      'CREATE TABLE subs (id integer PRIMARY KEY, user_id integer NOT NULL, status text NOT NULL);\n' +
        "INSERT INTO subs SELECT g, g, 'active' FROM generate_series(1, 4000) g;\n" +
        "CREATE UNIQUE INDEX one_active ON subs (user_id) WHERE status = 'active'",
      "op.alterColumn('subs', 'status', { type: 'varchar(20)', up: 'status', down: 'status' })",
      "UPDATE subs SET status = 'cancelled' WHERE id = 1",
      "INSERT INTO subs VALUES (9001, 1, 'active')",
    ],
    [
      'a unique index over an expression of it',
      'CREATE TABLE subs (id integer PRIMARY KEY, email text NOT NULL);\n' +
        "INSERT INTO subs SELECT g, 'u' || g || '@x.org' FROM generate_series(1, 4000) g;\n" +
        'CREATE UNIQUE INDEX subs_email ON subs (lower(email))',
      "op.alterColumn('subs', 'email', { type: 'varchar(100)', up: 'email', down: 'email' })",
      "UPDATE subs SET email = 'moved1@x.org' WHERE id = 1",
      "INSERT INTO subs VALUES (9001, 'U1@x.org')",
    ],
  ])(
    'during the backfill, an old-app update frees a value of %s, and an insert takes it again',
    async (_, schema, operation, update, insert) => {
      for (const statement of schema.split(';\n')) await db.knex.raw(statement);
      const dir = migrationsDir({ '0001_alter.ts': migrationSource([operation]) });
      const running = startCli(['expand', '--dir', dir, '--batch-size', '200', '--batch-delay', '100', '--jobs', '1'], {
        ZMIGRATE_DATABASE_URL: db.url,
      });
      await running.waitForStderr(/backfill subs\._zm_/);
      let upTo = 0;
      await waitUntil(
        'the backfill to pass row 400, or the expand to end',
        async () => running.ended || (upTo = await backfilledUpTo()) >= 400,
      );
      expect({ upTo: upTo >= 400 ? '400 or more' : upTo, running: !running.ended }).toEqual({ upTo: '400 or more', running: true });
      // Row 1 is backfilled: the update must reach its new column at once (the full trigger, not one for inserts
      // only with a redo after the backfill), or the new column's index still holds the value the insert takes.
      await db.knex.raw(update);
      await db.knex.raw(insert);
      expect((await running.done).code).toBe(0);
      expect((await runCli(['contract', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } })).code).toBe(0);
      const counts = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT count(*) AS n FROM subs'));
      expect(Number(counts[0].n)).toBe(4001);
    },
  );
});

/**
 * Every other PostgreSQL index over the column, built again from its
 * definition too: access method, operator class, collation, order, INCLUDE
 * columns (not made key columns, which would weaken a unique index), NULLS
 * NOT DISTINCT and storage parameters; a UNIQUE constraint's index and the
 * primary key's become the constraint again.
 */
describe('alterColumn keeps the kind and options of each index over its column on PostgreSQL', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, ref text NOT NULL, note text, tags text[], code text)');
    await db.knex.raw("INSERT INTO orders SELECT g, 'r' || g, 'n' || g, array['t' || g], 'c' || g FROM generate_series(1, 200) g");
    await db.knex.raw('CREATE UNIQUE INDEX orders_ref_note ON orders (ref) INCLUDE (note) WITH (fillfactor = 60)');
    await db.knex.raw('ALTER TABLE orders ADD CONSTRAINT orders_ref_key UNIQUE (ref) INCLUDE (note, code)');
    await db.knex.raw('CREATE INDEX orders_ref_hash ON orders USING hash (ref)');
    await db.knex.raw('CREATE INDEX orders_tags ON orders USING gin (tags)');
    await db.knex.raw('CREATE INDEX orders_code_pattern ON orders (code COLLATE "C" text_pattern_ops DESC NULLS LAST)');
    await db.knex.raw('CREATE UNIQUE INDEX orders_code_once ON orders (code) NULLS NOT DISTINCT');
    await db.knex.raw('CREATE INDEX orders_id_brin ON orders USING brin (id, note) WITH (pages_per_range = 16)');
  });

  afterEach(async () => {
    await db.drop();
  });

  const cli = (command: string, column: string): Promise<CliResult> => {
    const source = migrationSource([`op.alterColumn('orders', '${column}', { default: 'NULL', up: '${column}', down: '${column}' })`]);
    return runCli([command, '--dir', migrationsDir({ '0001_alter.ts': source })], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  };

  /** Each index's and each constraint's definition, by name. */
  async function definitions(): Promise<string[]> {
    const indexes = await queryRows(db.knex, "select indexdef as d from pg_indexes where tablename = 'orders' order by indexname");
    const constraints = await queryRows(
      db.knex,
      "select conname || ' ' || pg_get_constraintdef(oid) as d from pg_constraint where conrelid = 'orders'::regclass order by conname",
    );
    return [...indexes, ...constraints].map((r) => String(r.d));
  }

  async function method(index: string): Promise<string> {
    const [row] = await queryRows(db.knex, 'select a.amname from pg_class c join pg_am a on a.oid = c.relam where c.relname = ?', [index]);
    return String(row.amname);
  }

  test.each(['ref', 'note', 'tags', 'code', 'id'])(
    'altering %s, its indexes come out as they were, and do what they did',
    async (column) => {
      const before = await definitions();
      expect(outcome(await cli('expand', column))).toEqual({ code: 0, errors: [] });
      expect(outcome(await cli('contract', column))).toEqual({ code: 0, errors: [] });
      expect(await definitions()).toEqual(before);
      expect(await method('orders_tags')).toBe('gin');
      expect(await method('orders_ref_hash')).toBe('hash');
      // Unique on ref alone (note and code are only INCLUDE columns), and at most one NULL code.
      await expect(db.knex('orders').insert({ id: 1000, ref: 'r1', note: 'other', code: 'c1000' })).rejects.toThrow(
        /orders_ref_(note|key)/,
      );
      await db.knex('orders').insert({ id: 1001, ref: 'r1001', code: null });
      await expect(db.knex('orders').insert({ id: 1002, ref: 'r1002', code: null })).rejects.toThrow(/orders_code_once/);
      await expect(db.knex('orders').insert({ id: 1, ref: 'r1003', code: 'c1003' })).rejects.toThrow(/orders_pkey/);
    },
  );

  /** The index that is the table's replica identity, and the kind (`i`: an index's, `d`: the primary key's). */
  async function replicaIdentity(): Promise<string[]> {
    const rows = await queryRows(
      db.knex,
      `select c.relreplident::text as kind, (select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid
                                              where x.indrelid = c.oid and x.indisreplident) as index
         from pg_class c where c.oid = 'orders'::regclass`,
    );
    return [String(rows[0].kind), String(rows[0].index)];
  }

  test.each([
    ['ref', 'orders_ref_note'],
    ['ref', 'orders_ref_key'],
    ['id', 'orders_pkey'],
  ])('altering %s, index %s stays the replica identity', async (column, index) => {
    await db.knex.raw(`ALTER TABLE orders REPLICA IDENTITY USING INDEX ${index}`);
    expect(await replicaIdentity()).toEqual(['i', index]);
    expect(outcome(await cli('expand', column))).toEqual({ code: 0, errors: [] });
    expect(outcome(await cli('contract', column))).toEqual({ code: 0, errors: [] });
    expect(await replicaIdentity()).toEqual(['i', index]);
  });

  test('a column of the replica identity index made nullable is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_note');
    const before = await snapshot(db);
    const source = migrationSource(["op.alterColumn('orders', 'ref', { nullable: true, up: 'ref', down: 'ref' })"]);
    const result = await runCli(['expand', '--dir', migrationsDir({ '0001_alter.ts': source })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });
    expect(outcome(result)).toEqual({
      code: 2,
      errors: [
        expect.stringMatching(
          /^error: 0001_alter: alterColumn orders\.ref: index "orders_ref_note" is the table's replica identity, whose columns stay NOT NULL/,
        ),
      ],
    });
    expect(await snapshot(db)).toEqual(before);
    expect(await replicaIdentity()).toEqual(['i', 'orders_ref_note']);
  });

  test('rollback leaves them as they were', async () => {
    const before = await definitions();
    expect(outcome(await cli('expand', 'ref'))).toEqual({ code: 0, errors: [] });
    expect(await definitions()).not.toEqual(before);
    expect(outcome(await cli('rollback', 'ref'))).toEqual({ code: 0, errors: [] });
    expect(await definitions()).toEqual(before);
  });

  test('a primary key with INCLUDE columns stays a key over its own columns', async () => {
    await db.knex.raw('CREATE TABLE pairs (id integer, v text, PRIMARY KEY (id) INCLUDE (v) WITH (fillfactor = 50))');
    await db.knex.raw("INSERT INTO pairs SELECT g, 'v' || g FROM generate_series(1, 50) g");
    const key = async () =>
      (
        await queryRows(
          db.knex,
          "select pg_get_indexdef('pairs_pkey'::regclass) || ' ' || pg_get_constraintdef(oid) as d from pg_constraint where conname = 'pairs_pkey'",
        )
      ).map((r) => String(r.d));
    const before = await key();
    const source = migrationSource(["op.alterColumn('pairs', 'v', { type: 'varchar(50)', up: 'v', down: 'v' })"]);
    const dir = migrationsDir({ '0001_alter.ts': source });
    for (const command of ['expand', 'contract'])
      expect(outcome(await runCli([command, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } }))).toEqual({ code: 0, errors: [] });
    expect(await key()).toEqual(before);
    await expect(db.knex('pairs').insert({ id: 1, v: 'another' })).rejects.toThrow(/pairs_pkey/);
  });

  test('a column a DEFERRABLE UNIQUE constraint or primary key covers is refused before anything changes', async () => {
    await db.knex.raw(
      'CREATE TABLE seats (id integer PRIMARY KEY DEFERRABLE, code text CONSTRAINT seats_code UNIQUE DEFERRABLE INITIALLY DEFERRED)',
    );
    await db.knex.raw("INSERT INTO seats SELECT g, 's' || g FROM generate_series(1, 50) g");
    const before = await snapshot(db);
    for (const [column, type, holder] of [
      ['code', 'varchar(20)', 'index "seats_code"'],
      ['id', 'bigint', 'the primary key'],
    ]) {
      const source = migrationSource([`op.alterColumn('seats', '${column}', { type: '${type}', up: '${column}', down: '${column}' })`]);
      const result = await runCli(['expand', '--dir', migrationsDir({ [`0001_${column}.ts`]: source })], {
        env: { ZMIGRATE_DATABASE_URL: db.url },
      });
      // While live, the new column's plain unique index would fail a statement the constraint allows.
      expect(outcome(result)).toEqual({
        code: 2,
        errors: [expect.stringContaining(`alterColumn seats.${column}: ${holder} is DEFERRABLE`)],
      });
      expect(await snapshot(db)).toEqual(before);
    }
  });

  test('an exclusion constraint over the column is refused before anything changes', async () => {
    await db.knex.raw(
      'CREATE TABLE rooms (id integer PRIMARY KEY, during tsrange, CONSTRAINT rooms_free EXCLUDE USING gist (during WITH &&))',
    );
    const before = await snapshot(db);
    const source = migrationSource([
      "op.alterColumn('rooms', 'during', { type: 'tsrange', nullable: false, up: 'during', down: 'during' })",
    ]);
    const result = await runCli(['expand', '--dir', migrationsDir({ '0001_rooms.ts': source })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/alterColumn rooms\.during: index "rooms_free" is an exclusion constraint's/);
    expect(await snapshot(db)).toEqual(before);
  });

  test('an index in a tablespace of its own stays there, a partial one too', async () => {
    // An in-place tablespace (a directory of the data directory), which a server in a container can make too.
    const tablespace = `zmt_${process.pid}_${Date.now().toString(36)}`;
    const session = await db.knex.client.acquireConnection();
    try {
      await session.query('SET allow_in_place_tablespaces = true');
      await session.query(`CREATE TABLESPACE ${tablespace} LOCATION ''`);
      await session.query(`CREATE INDEX orders_note_apart ON orders (note) TABLESPACE ${tablespace}`);
      await session.query(`CREATE INDEX orders_note_some ON orders (note) TABLESPACE ${tablespace} WHERE id > 10`);
      const placed = async () =>
        (
          await queryRows(
            db.knex,
            "select indexname || ' ' || tablespace as d from pg_indexes where tablename = 'orders' and tablespace is not null order by 1",
          )
        ).map((r) => String(r.d));
      expect(await placed()).toEqual([`orders_note_apart ${tablespace}`, `orders_note_some ${tablespace}`]);
      const before = await definitions();
      expect(outcome(await cli('expand', 'note'))).toEqual({ code: 0, errors: [] });
      expect(outcome(await cli('contract', 'note'))).toEqual({ code: 0, errors: [] });
      expect(await definitions()).toEqual(before);
      expect(await placed()).toEqual([`orders_note_apart ${tablespace}`, `orders_note_some ${tablespace}`]);
    } finally {
      // The tablespace outlives the database: emptied and dropped here (the version schema's view keeps the table).
      try {
        const indexes = ['orders_note_apart', 'orders_note_some'].flatMap((i) => [i, `_zm_${i}`]);
        await session.query(`DROP INDEX IF EXISTS ${indexes.join(', ')}`);
        await session.query(`DROP TABLESPACE IF EXISTS ${tablespace}`);
      } finally {
        await db.knex.client.releaseConnection(session);
      }
    }
  });

  test('a column named like a keyword its index definition also writes is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE orders ADD COLUMN last integer');
    await db.knex.raw('CREATE INDEX orders_last ON orders (last DESC NULLS LAST)');
    const before = await snapshot(db);
    const result = await cli('expand', 'last');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /alterColumn orders\.last: index "orders_last" names the column with a word its definition also uses for something else/,
    );
    expect(await snapshot(db)).toEqual(before);
  });

  test('a column named like a keyword is rewritten where the keyword is not in its index definition', async () => {
    await db.knex.raw('ALTER TABLE orders ADD COLUMN last integer');
    await db.knex.raw('CREATE INDEX orders_last ON orders (last DESC)');
    const before = await definitions();
    expect(outcome(await cli('expand', 'last'))).toEqual({ code: 0, errors: [] });
    expect(outcome(await cli('contract', 'last'))).toEqual({ code: 0, errors: [] });
    expect(await definitions()).toEqual(before);
  });
});

/**
 * MySQL/MariaDB: a prefix index keeps its prefix (a unique one over a whole
 * column is another rule), a descending key part its order, an index its
 * comment and whether the optimizer ignores it, whether the table is then
 * backfilled in place (a unique index over the column) or by copy. A
 * FULLTEXT or SPATIAL index cannot be built without blocking writes, so
 * the column is refused.
 */
describe('alterColumn keeps the kind and options of each index over its column on MySQL/MariaDB', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('mysql');
    await db.knex.raw(
      'CREATE TABLE items (id integer PRIMARY KEY, code varchar(20) NOT NULL, title varchar(200), body text, spot point NOT NULL DEFAULT (POINT(0, 0)))',
    );
    await db.knex.raw(
      "INSERT INTO items (id, code, title, body) SELECT seq, CONCAT('code-', seq), CONCAT('title ', seq), CONCAT('text ', seq) FROM seq_1_to_200",
    );
    await db.knex.raw("ALTER TABLE items ADD UNIQUE INDEX items_code (code(8)) COMMENT 'the first eight characters'");
    await db.knex.raw("ALTER TABLE items ADD INDEX items_title (title(10) DESC, id) COMMENT 'by title' IGNORED");
  });

  afterEach(async () => {
    await db.drop();
  });

  const cli = (command: string, column: string, type: string): Promise<CliResult> => {
    const source = migrationSource([`op.alterColumn('items', '${column}', { type: '${type}', up: '${column}', down: '${column}' })`]);
    return runCli([command, '--dir', migrationsDir({ '0001_alter.ts': source })], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  };

  /** The table's keys as the server writes them. */
  async function keys(): Promise<string[]> {
    const [row] = await queryRows(db.knex, 'SHOW CREATE TABLE items');
    return String(row['Create Table'])
      .split('\n')
      .filter((line) => /^\s*(UNIQUE |FULLTEXT |SPATIAL |PRIMARY )?KEY\b/.test(line))
      .map((line) => line.trim().replace(/,$/, ''))
      .sort();
  }

  test('a unique prefix index stays a prefix index, backfilled in place', async () => {
    const before = await keys();
    expect(before).toContain("UNIQUE KEY `items_code` (`code`(8)) COMMENT 'the first eight characters'");
    const expand = await cli('expand', 'code', 'varchar(40)');
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });
    expect(expand.stderr).toMatch(/backfill of items in place, not by copy/);
    expect(outcome(await cli('contract', 'code', 'varchar(40)'))).toEqual({ code: 0, errors: [] });
    expect(await keys()).toEqual(before);
    // The rule is still on the first eight characters: code-1000 is code-100's.
    await expect(db.knex('items').insert({ id: 1000, code: 'code-1000' })).rejects.toThrow(/items_code/);
    await db.knex('items').insert({ id: 1001, code: 'code-300' });
  });

  test('a descending, commented, ignored prefix index stays so, backfilled by copy', async () => {
    const before = await keys();
    expect(before).toContain("KEY `items_title` (`title`(10) DESC,`id`) COMMENT 'by title' IGNORED");
    const expand = await cli('expand', 'title', 'varchar(300)');
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });
    expect(expand.stderr).not.toMatch(/backfill of items in place/);
    expect(outcome(await cli('contract', 'title', 'varchar(300)'))).toEqual({ code: 0, errors: [] });
    expect(await keys()).toEqual(before);
  });

  test.each([
    ['as long as the column', 'varchar(8)'],
    ['a number', 'integer'],
  ])('a prefix the new type cannot have (%s) goes, the index kept on the whole column', async (_what, type) => {
    if (type === 'integer') await db.knex.raw('UPDATE items SET code = CAST(id AS CHAR)');
    expect(outcome(await cli('expand', 'code', type))).toEqual({ code: 0, errors: [] });
    expect(outcome(await cli('contract', 'code', type))).toEqual({ code: 0, errors: [] });
    expect(await keys()).toContain("UNIQUE KEY `items_code` (`code`) COMMENT 'the first eight characters'");
  });

  test('rollback leaves them as they were', async () => {
    const before = await keys();
    expect(outcome(await cli('expand', 'code', 'varchar(40)'))).toEqual({ code: 0, errors: [] });
    expect(await keys()).not.toEqual(before);
    expect(outcome(await cli('rollback', 'code', 'varchar(40)'))).toEqual({ code: 0, errors: [] });
    expect(await keys()).toEqual(before);
  });

  test('a unique index over a long column (MariaDB builds it USING HASH, only by copying the table) is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE items ADD UNIQUE INDEX items_body (body)');
    const before = await snapshot(db);
    const result = await cli('expand', 'body', 'mediumtext');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/alterColumn items\.body: index "items_body" cannot be carried over to the new column: .*HASH/);
    expect(await snapshot(db)).toEqual(before);
  });

  test.each([
    ['FULLTEXT', 'body', 'mediumtext', 'ALTER TABLE items ADD FULLTEXT INDEX items_body (body)'],
    ['SPATIAL', 'spot', 'geometry', 'ALTER TABLE items ADD SPATIAL INDEX items_spot (spot)'],
  ])('a %s index is refused before anything changes', async (kind, column, type, create) => {
    await db.knex.raw(create);
    const before = await snapshot(db);
    const result = await cli('expand', column, type);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `alterColumn items\\.${column}: index "items_${column}" cannot be carried over to the new column: MySQL/MariaDB builds a ${kind} index only under a lock that blocks writes`,
      ),
    );
    expect(await snapshot(db)).toEqual(before);
  });
});
