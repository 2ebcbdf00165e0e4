/**
 * addColumn with a default the server computes for each row
 * (gen_random_uuid(), uuid(), nextval(), a volatile function of the user's),
 * without `up`. A native ADD COLUMN would write every row while writes wait:
 * PostgreSQL rewrites the table under an ACCESS EXCLUSIVE lock, and MariaDB
 * refuses it online (`LOCK=NONE is not supported`). zmigrate adds the column
 * without it, sets the default for new rows, and fills the rows there in
 * batches, once each; a PostgreSQL serial type so too, with a sequence of its
 * own. An `up` computed anew each time fills each row once; one the server
 * does not take as immutable (now()) is verified as filled rather than as
 * equal to itself computed again. Other types that
 * give each row a value of their own (identity, stored generated,
 * AUTO_INCREMENT) are refused; MariaDB's own one-value rand() is left to it.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { deployUnderLoad, queryRows } from './support/apps';
import { snapshot } from './support/inspect';

const ROWS = 3000;
const MIGRATION = '0001_change';

/** A zmigrate command on the one migration of these operations (a folder of its own each call, the same file in it). */
function zmigrate(db: TestDatabase, command: string, operations: string[]): Promise<CliResult> {
  return runCli([command, '--dir', migrationsDir({ [`${MIGRATION}.ts`]: migrationSource(operations) })], {
    env: { ZMIGRATE_DATABASE_URL: db.url },
  });
}

/** PostgreSQL's file of the orders table: another one after a step means the table was rewritten. */
async function fileNode(db: TestDatabase): Promise<string> {
  return String((await queryRows(db.knex, "SELECT pg_relation_filenode('orders') AS node"))[0].node);
}

/** The SQL that expand would run for the operation. */
async function expandSql(db: TestDatabase, operation: string): Promise<string> {
  const result = await zmigrate(db, 'plan', [operation]);
  expect(result.code).toBe(0);
  return result.stdout.split(`-- ${MIGRATION}: contract`)[0];
}

describe.each(SERVER_ENGINES)('addColumn with a default computed per row on %s', (engine) => {
  let db: TestDatabase;
  const postgres = engine === 'postgres';
  const token = postgres
    ? "op.addColumn('orders', 'token', { type: 'uuid', nullable: false, default: 'gen_random_uuid()' })"
    : "op.addColumn('orders', 'token', { type: 'char(36)', nullable: false, default: 'uuid()' })";

  /** Rows, rows with a token, and distinct tokens. */
  const counts = async () => {
    const [row] = await queryRows(
      db.knex,
      'SELECT COUNT(*) AS n, COUNT(token) AS filled, COUNT(DISTINCT token) AS distinct_tokens FROM orders',
    );
    return { rows: Number(row.n), filled: Number(row.filled), distinct: Number(row.distinct_tokens) };
  };
  /** The old app: inserts, and updates of the rows there before. */
  const oldWrite = async (i: number) => {
    await db.knex('orders').insert({ id: 100_000 + i, note: `old ${i}` });
    await db
      .knex('orders')
      .where({ id: 1 + (i % ROWS) })
      .update({ note: `old update ${i}` });
  };

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, note varchar(40) NOT NULL)');
    await db.knex.raw(
      postgres
        ? `INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, ${ROWS}) g`
        : `INSERT INTO orders SELECT seq, CONCAT('n', seq) FROM seq_1_to_${ROWS}`,
    );
  });

  afterEach(async () => {
    await db.drop();
  });

  test('every row gets a value of its own, once, while both apps write; contract makes it NOT NULL with the default', async () => {
    const node = postgres ? await fileNode(db) : undefined;
    let kept: unknown;
    await deployUnderLoad({
      run: (command) => zmigrate(db, command, [token]),
      newApp: () => db.versionKnex(`${db.base}_${MIGRATION}`),
      oldWrite,
      newWrite: async (app, i) => {
        await app('orders').insert({ id: 200_000 + i, note: `new ${i}` });
      },
      during: async (app, expand) => {
        expect(expand.stderr).toMatch(/default of orders\.token for new rows/);
        expect(expand.stderr).toMatch(/verified orders\.token holds its default on every row/);
        // PostgreSQL did not rewrite the table (MariaDB copies it by design, writes going on).
        if (node !== undefined) expect(await fileNode(db)).toBe(node);
        const now = await counts();
        expect(now).toEqual({ rows: now.rows, filled: now.rows, distinct: now.rows });
        expect(now.rows).toBeGreaterThan(ROWS);
        // Filled once: an old app's update leaves a row's value as it was.
        [{ token: kept }] = await queryRows(db.knex, 'SELECT token FROM orders WHERE id = 1');
        await db.knex('orders').where({ id: 1 }).update({ note: 'updated again' });
        expect((await queryRows(app, 'SELECT token FROM orders WHERE id = 1'))[0].token).toBe(kept);
      },
    });
    const after = await counts();
    expect(after).toEqual({ rows: after.rows, filled: after.rows, distinct: after.rows });
    expect((await queryRows(db.knex, 'SELECT token FROM orders WHERE id = 1'))[0].token).toBe(kept);
    // Contract: NOT NULL, and the default for every insert that leaves the column out.
    await expect(db.knex('orders').insert({ id: 900_001, note: 'x', token: null })).rejects.toThrow(/null/i);
    await db.knex('orders').insert({ id: 900_002, note: 'y' });
    expect((await queryRows(db.knex, 'SELECT token FROM orders WHERE id = 900002'))[0].token).toEqual(expect.any(String));
    if (node !== undefined) expect(await fileNode(db)).toBe(node);
  });

  test('an up computed anew each time fills each row once, and an old app update keeps the value', async () => {
    const up = postgres
      ? "op.addColumn('orders', 'token', { type: 'uuid', nullable: false, up: 'gen_random_uuid()' })"
      : "op.addColumn('orders', 'token', { type: 'char(36)', nullable: false, up: 'uuid()' })";
    await deployUnderLoad({
      run: (command) => zmigrate(db, command, [up]),
      newApp: () => db.versionKnex(`${db.base}_${MIGRATION}`),
      oldWrite,
      newWrite: async (app, i) => {
        await app('orders').insert({ id: 200_000 + i, note: `new ${i}`, token: randomUUID() });
      },
      during: async (_app, expand) => {
        expect(expand.stderr).toMatch(/verified orders\.token is filled on every row/);
        const [{ token: kept }] = await queryRows(db.knex, 'SELECT token FROM orders WHERE id = 2');
        await db.knex('orders').where({ id: 2 }).update({ note: 'updated again' });
        expect((await queryRows(db.knex, 'SELECT token FROM orders WHERE id = 2'))[0].token).toBe(kept);
      },
    });
    const after = await counts();
    expect(after).toEqual({ rows: after.rows, filled: after.rows, distinct: after.rows });
  });

  test('a NULL the new app writes in a column that may hold one stays: zmigrate backfill once expanded does not fill it again', async () => {
    const nullable = postgres
      ? "op.addColumn('orders', 'token', { type: 'uuid', default: 'gen_random_uuid()' })"
      : "op.addColumn('orders', 'token', { type: 'char(36)', default: 'uuid()' })";
    expect(outcome(await zmigrate(db, 'expand', [nullable]))).toEqual({ code: 0, errors: [] });
    const newApp = db.versionKnex(`${db.base}_${MIGRATION}`);
    await newApp('orders').where({ id: 5 }).update({ token: null });
    await db.knex('orders').insert({ id: 100_001, note: 'old app' });
    const unfilled = async () => (await queryRows(db.knex, 'SELECT id FROM orders WHERE token IS NULL')).map((r) => Number(r.id));
    const rerun = await zmigrate(db, 'backfill', [nullable]);
    expect(await unfilled()).toEqual([5]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout.trim()).toBe(
      `${MIGRATION}: orders.token not filled again (the backfill finished at expand, and a NULL there may be the new app's)`,
    );
    expect(outcome(await zmigrate(db, 'contract', [nullable]))).toEqual({ code: 0, errors: [] });
    expect(await unfilled()).toEqual([5]);
  });

  test('an up that is not immutable (now()) is verified as filled, not as equal, and the log says so', async () => {
    const operations = postgres
      ? [
          "op.addColumn('orders', 'stamped', { type: 'timestamptz', nullable: false, up: 'now()' })",
          "op.alterColumn('orders', 'note', { type: 'text', up: \"note || ' at ' || now()\", down: 'note' })",
        ]
      : [
          "op.addColumn('orders', 'stamped', { type: 'datetime(6)', nullable: false, up: 'now(6)' })",
          "op.alterColumn('orders', 'note', { type: 'text', up: \"CONCAT(note, ' at ', NOW(6))\", down: 'note' })",
        ];
    const expand = await zmigrate(db, 'expand', operations);
    // Computed again, now() gives another time than it gave the row: compared, every row would be wrong.
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });
    const unchecked = '\\(up is not immutable, so its values are not compared\\) on every row';
    expect(expand.stderr).toMatch(new RegExp(`verified orders\\.stamped is filled where up gives a value ${unchecked}`));
    expect(expand.stderr).toMatch(new RegExp(`verified orders\\.note \\(new\\) is filled where up gives a value ${unchecked}`));
    // Nor can a redo tell the rows an app updated during the backfill: the whole trigger runs from the start.
    expect(expand.stderr).not.toMatch(/updated during the backfill/);
    // The old app's insert is filled by the trigger, as with any up.
    await db.knex('orders').insert({ id: 900_001, note: 'late' });
    expect(outcome(await zmigrate(db, 'contract', operations))).toEqual({ code: 0, errors: [] });
    const [row] = await queryRows(
      db.knex,
      "SELECT COUNT(*) AS n, COUNT(stamped) AS stamped, SUM(CASE WHEN note LIKE '% at %' THEN 1 ELSE 0 END) AS relabeled FROM orders",
    );
    expect([row.n, row.stamped, row.relabeled].map(Number)).toEqual([ROWS + 1, ROWS + 1, ROWS + 1]);
  });

  test('an up the server does not take as immutable but that names no time, random or sequence function is still compared', async () => {
    // PostgreSQL: concat() is STABLE (its arguments' text output); MySQL/MariaDB: no stored function in a
    // generated column. Neither gives another value when computed again, so the verification compares values.
    if (!postgres) {
      await db.knex.raw("CREATE FUNCTION order_label(i integer) RETURNS varchar(20) DETERMINISTIC RETURN CONCAT('ORD-', i)");
    }
    // A column named like such a function (random()) is no call of it.
    await db.knex.raw('ALTER TABLE orders ADD COLUMN random integer NOT NULL DEFAULT 0');
    const label = postgres
      ? "op.addColumn('orders', 'label', { type: 'text', up: \"concat('ORD-', id + random)\" })"
      : "op.addColumn('orders', 'label', { type: 'varchar(20)', up: 'order_label(id + random)' })";
    const expand = await zmigrate(db, 'expand', [label]);
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });
    expect(expand.stderr).toMatch(/verified orders\.label = up\(row\) on every row/);
    expect(expand.stderr).not.toMatch(/not immutable/);
    const [row] = await queryRows(db.knex, "SELECT COUNT(*) AS n FROM orders WHERE label = CONCAT('ORD-', id)");
    expect(Number(row.n)).toBe(ROWS);
  });

  test('rollback after expand leaves the table as it was', async () => {
    const before = await snapshot(db);
    expect((await zmigrate(db, 'expand', [token])).code).toBe(0);
    expect((await zmigrate(db, 'rollback', [token])).code).toBe(0);
    expect(await snapshot(db)).toEqual(before);
  });

  test('shares no migration with raw SQL, as an addColumn with up does', async () => {
    const before = await snapshot(db);
    const result = await zmigrate(db, 'expand', ["op.sql({ expand: 'SELECT 1', rollback: '' })", token]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/op\.sql cannot share a migration .*addColumn with up or with a default computed per row/);
    expect(await snapshot(db)).toEqual(before);
  });

  test.each(
    postgres
      ? [
          [
            'a serial type with a default',
            "op.addColumn('orders', 'seq', { type: 'bigserial', default: '0' })",
            /a bigserial column is NOT NULL and draws its values from its own sequence; it takes no up, default or nullable: true/,
          ],
          [
            'an identity column',
            "op.addColumn('orders', 'seq', { type: 'bigint GENERATED ALWAYS AS IDENTITY' })",
            /an identity column gets a value computed for every row.*\(type: 'bigserial' is added online/,
          ],
          [
            'a stored generated column',
            "op.addColumn('orders', 'twice', { type: 'integer GENERATED ALWAYS AS (id * 2) STORED' })",
            /a stored generated column gets a value computed for every row.*\(add a plain column with up/,
          ],
        ]
      : [
          ['an AUTO_INCREMENT column', "op.addColumn('orders', 'seq', { type: 'integer AUTO_INCREMENT' })", /AUTO_INCREMENT gets a value/],
          ['a serial type (AUTO_INCREMENT there)', "op.addColumn('orders', 'seq', { type: 'serial' })", /serial gets a value computed/],
          [
            'a stored generated column',
            "op.addColumn('orders', 'twice', { type: 'integer AS (id * 2) STORED' })",
            /a stored generated column gets a value computed for every row/,
          ],
        ],
  )('%s is refused before anything changes', async (_what, operation, message) => {
    const before = await snapshot(db);
    const result = await zmigrate(db, 'expand', [operation]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await snapshot(db)).toEqual(before);
  });
});

describe('a serial column added on PostgreSQL', () => {
  let db: TestDatabase;
  const serial = "op.addColumn('orders', 'seq', { type: 'bigserial' })";
  const run = (command: string): Promise<CliResult> => zmigrate(db, command, [serial]);

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, note text)');
    await db.knex.raw(`INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, ${ROWS}) g`);
  });

  afterEach(async () => {
    await db.drop();
  });

  test('is an integer column with a sequence of its own, every row numbered once, without a rewrite', async () => {
    const before = await fileNode(db);
    await deployUnderLoad({
      run,
      newApp: () => db.versionKnex(`${db.base}_${MIGRATION}`),
      oldWrite: async (i) => {
        await db.knex('orders').insert({ id: 100_000 + i, note: `old ${i}` });
      },
      newWrite: async (app, i) => {
        await app('orders').insert({ id: 200_000 + i, note: `new ${i}` });
      },
      during: async (_app, expand) => {
        expect(expand.stderr).toMatch(/sequence of orders\.seq/);
        expect(await fileNode(db)).toBe(before);
      },
    });
    const [row] = await queryRows(
      db.knex,
      `SELECT COUNT(*) AS n, COUNT(seq) AS filled, COUNT(DISTINCT seq) AS numbers, MAX(seq) AS top,
              pg_get_serial_sequence('orders', 'seq') AS sequence, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
         FROM orders, pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attname = 'seq'
        GROUP BY a.atttypid, a.atttypmod, a.attnotnull`,
    );
    expect(row).toMatchObject({ filled: row.n, numbers: row.n, sequence: 'public.orders_seq_seq', type: 'bigint', not_null: true });
    // The next number is past every one handed out.
    const [{ seq }] = (await db.knex('orders').insert({ id: 900_001, note: 'after' }).returning('seq')) as Array<{ seq: string }>;
    expect(Number(seq)).toBeGreaterThan(Number(row.top));
    expect(await fileNode(db)).toBe(before);
  });

  test("takes the next free name where PostgreSQL's own is taken, and leaves the other sequence alone", async () => {
    await db.knex.raw('CREATE SEQUENCE orders_seq_seq START 500');
    expect((await run('expand')).code).toBe(0);
    expect((await run('contract')).code).toBe(0);
    const [row] = await queryRows(
      db.knex,
      "SELECT pg_get_serial_sequence('orders', 'seq') AS owned, nextval('orders_seq_seq') AS other, COUNT(DISTINCT seq) AS numbers FROM orders",
    );
    expect(row).toEqual({ owned: 'public.orders_seq_seq1', other: '500', numbers: String(ROWS) });
  });

  test('serial columns whose names begin alike get sequences of their own, named as PostgreSQL would, within 63 bytes', async () => {
    // A table of 29 characters whose serial column PostgreSQL named (cutting the column to fit), then two more.
    const table = 'subscription_billing_accounts';
    await db.knex.raw(`CREATE TABLE ${table} (id integer PRIMARY KEY, invoice_sequence_number_primary serial)`);
    await db.knex.raw(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, 50) g`);
    const added = ['invoice_sequence_number_primary_v2', 'invoice_sequence_number_primary_v3'];
    const operations = added.map((column) => `op.addColumn('${table}', '${column}', { type: 'bigserial' })`);
    const expand = await zmigrate(db, 'expand', operations);
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });
    const sequences = await queryRows(
      db.knex,
      `SELECT pg_get_serial_sequence('${table}', 'invoice_sequence_number_primary') AS own,
              pg_get_serial_sequence('${table}', '${added[0]}') AS v2, pg_get_serial_sequence('${table}', '${added[1]}') AS v3,
              COUNT(DISTINCT ${added[0]}) AS v2_numbers, COUNT(DISTINCT ${added[1]}) AS v3_numbers FROM ${table}`,
    );
    expect(sequences).toEqual([
      {
        own: `public.${table}_invoice_sequence_number_prima_seq`,
        v2: `public.${table}_invoice_sequence_number_prim_seq1`,
        v3: `public.${table}_invoice_sequence_number_prim_seq2`,
        v2_numbers: '50',
        v3_numbers: '50',
      },
    ]);
  });

  test('rollback takes the sequence with the column', async () => {
    const before = await snapshot(db);
    expect((await run('expand')).code).toBe(0);
    expect((await queryRows(db.knex, "SELECT to_regclass('orders_seq_seq') AS s"))[0].s).toBe('orders_seq_seq');
    expect((await run('rollback')).code).toBe(0);
    expect(await snapshot(db)).toEqual(before);
    expect((await queryRows(db.knex, "SELECT to_regclass('orders_seq_seq') AS s"))[0].s).toBeNull();
  });
});

describe('what PostgreSQL computes per row, it says itself', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, note text)');
    await db.knex.raw('CREATE SEQUENCE order_codes');
    // Volatile by default, and named like nothing zmigrate lint knows.
    await db.knex.raw("CREATE FUNCTION next_code() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('order_codes') $$");
    await db.knex.raw("CREATE FUNCTION house_code() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'H1' $$");
  });

  afterEach(async () => {
    await db.drop();
  });

  test("a volatile function of the user's is filled in batches, row by row", async () => {
    const sql = await expandSql(db, "op.addColumn('orders', 'code', { type: 'bigint', nullable: false, default: 'next_code()' })");
    expect(sql).toMatch(/ADD COLUMN "code" bigint;/);
    expect(sql).toMatch(/SET DEFAULT next_code\(\)/);
    expect(sql).toMatch(/UPDATE .* SET "code" = \(next_code\(\)\) WHERE "code" IS NULL/);
  });

  test('a default that smuggles in a statement is refused before the server is asked about it', async () => {
    await db.knex.raw('CREATE TABLE victims (id integer)');
    const result = await zmigrate(db, 'expand', [
      "op.addColumn('orders', 'code', { type: 'integer', default: '0; COMMIT; DROP TABLE victims' })",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/default must be a single SQL expression/);
    expect((await queryRows(db.knex, "SELECT to_regclass('victims') AS t"))[0].t).toBe('victims');
  });

  test('a default computed once (now(), an immutable function) is added as written, no backfill', async () => {
    for (const [column, type, value] of [
      ['at', 'timestamptz', 'now()'],
      ['house', 'text', 'house_code()'],
    ]) {
      const sql = await expandSql(db, `op.addColumn('orders', '${column}', { type: '${type}', nullable: false, default: '${value}' })`);
      expect(sql).toContain(`ADD COLUMN "${column}" ${type} NOT NULL DEFAULT ${value};`);
      expect(sql).not.toMatch(/UPDATE/);
    }
  });

  test('a column of a domain with constraints, which PostgreSQL rewrites the table to add, is refused; a plain domain is added as written', async () => {
    await db.knex.raw('CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)');
    await db.knex.raw('CREATE DOMAIN plain_int AS integer');
    await db.knex.raw("INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 100) g");
    const before = await snapshot(db);
    for (const operation of [
      "op.addColumn('orders', 'qty', { type: 'positive_int', nullable: true })",
      "op.alterColumn('orders', 'id', { type: 'positive_int', up: 'id', down: 'id' })",
    ]) {
      const { code, errors } = outcome(await zmigrate(db, 'expand', [operation]));
      expect(code).toBe(2);
      expect(errors).toEqual([
        expect.stringMatching(
          /: (addColumn orders\.qty|alterColumn orders\.id): the server rewrites the whole table, blocking reads and writes, to add a column of type positive_int \(as for a domain with constraints, checked on every row\) \(for a domain, use its base type, with the domain's condition as a check \(op\.addCheck\)\)$/,
        ),
      ]);
      expect(await snapshot(db)).toEqual(before);
    }
    const node = await fileNode(db);
    expect(outcome(await zmigrate(db, 'expand', ["op.addColumn('orders', 'qty', { type: 'plain_int', nullable: true })"]))).toEqual({
      code: 0,
      errors: [],
    });
    expect(await fileNode(db)).toBe(node);
  });
});

describe('on MariaDB, what it will not add online is filled in batches; rand() it adds in place', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('mysql');
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, note text)');
  });

  afterEach(async () => {
    await db.drop();
  });

  test('uuid_short() is filled row by row', async () => {
    const sql = await expandSql(
      db,
      "op.addColumn('orders', 'code', { type: 'bigint unsigned', nullable: false, default: 'uuid_short()' })",
    );
    expect(sql).toMatch(/ADD COLUMN `code` bigint unsigned NULL INVISIBLE, LOCK=NONE;/);
    expect(sql).toMatch(/SET DEFAULT \(uuid_short\(\)\)/);
    expect(sql).toMatch(/`code` IS NULL/);
  });

  test('nextval() of a MariaDB sequence numbers every row there once, where AUTO_INCREMENT is refused', async () => {
    await db.knex.raw('INSERT INTO orders SELECT seq, NULL FROM seq_1_to_500');
    await db.knex.raw('CREATE SEQUENCE order_numbers');
    const counter = await zmigrate(db, 'expand', ["op.addColumn('orders', 'n', { type: 'integer AUTO_INCREMENT' })"]);
    expect([counter.code, counter.stderr]).toEqual([2, expect.stringMatching(/default: 'nextval\(a_sequence\)'/)]);
    const number = "op.addColumn('orders', 'number', { type: 'bigint', nullable: false, default: 'nextval(order_numbers)' })";
    for (const command of ['expand', 'contract']) expect((await zmigrate(db, command, [number])).code).toBe(0);
    await db.knex('orders').insert({ id: 1000 });
    const [row] = await queryRows(db.knex, 'SELECT COUNT(*) AS n, COUNT(DISTINCT number) AS numbers, MAX(number) AS top FROM orders');
    expect(row).toEqual({ n: 501, numbers: 501, top: 501 });
  });

  test('rand() is added as written: every row there gets one value, as with a native ADD COLUMN', async () => {
    await db.knex.raw('INSERT INTO orders VALUES (1, null), (2, null), (3, null)');
    const operation = "op.addColumn('orders', 'score', { type: 'double', nullable: false, default: 'rand()' })";
    const sql = await expandSql(db, operation);
    expect(sql).toContain('ADD COLUMN `score` double NOT NULL DEFAULT rand() INVISIBLE, LOCK=NONE;');
    expect(sql).not.toMatch(/UPDATE|IS NULL/);
    expect((await zmigrate(db, 'expand', [operation])).code).toBe(0);
    expect((await queryRows(db.knex, 'SELECT COUNT(DISTINCT score) AS n FROM orders'))[0].n).toBe(1);
  });
});
