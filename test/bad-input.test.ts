/**
 * Guarantee 6: bad input gets a clear error and a clean state. Each case
 * prints exactly one line on stderr, starting with "error:", exits with the
 * documented code (2: bad usage or bad input), prints no stack trace unless
 * --verbose, and never prints a password. Hostile identifiers work and are
 * never injected. On PostgreSQL and MariaDB.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SERVER_ENGINES, createTestDatabase, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { inspect } from './support/inspect';
import { rowsOf } from './support/apps';
import { parseStatus } from './support/process';

const CREATE_T = migrationSource([
  "op.createTable('t', { columns: { id: { type: 'integer', primaryKey: true }, label: { type: 'varchar(50)' } } })",
]);
const ADD_NOTE = migrationSource(["op.addColumn('t', 'note', { type: 'text', nullable: true })"]);

/** One line on stderr, "error: …" matching `pattern`; the exit code; nothing on stdout; no stack; no secret. */
function expectCleanError(result: CliResult, code: number, pattern: RegExp, secrets: string[] = []): void {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect({ code: result.code, lines }).toEqual({ code, lines: [expect.stringMatching(/^error: \S/)] });
  expect(lines[0]).toMatch(pattern);
  expect(result.stdout).toBe('');
  expect(result.stdout + result.stderr).not.toMatch(/^\s+at /m);
  for (const secret of secrets) expect(result.stdout + result.stderr).not.toContain(secret);
}

function withPassword(url: string, password: string, changes: { port?: string; pathname?: string; username?: string } = {}): string {
  const u = new URL(url);
  u.password = password;
  if (changes.port) u.port = changes.port;
  if (changes.pathname) u.pathname = changes.pathname;
  if (changes.username) u.username = changes.username;
  return u.toString();
}

async function stateRows(db: TestDatabase): Promise<Array<{ name: string; phase: string }>> {
  const table = db.engine === 'mysql' ? 'zmigrate_migrations' : 'zmigrate.migrations';
  try {
    const result = await db.knex.raw(`SELECT name, phase FROM ${table} ORDER BY name`);
    return db.engine === 'mysql'
      ? (result as [Array<{ name: string; phase: string }>])[0]
      : (result as { rows: Array<{ name: string; phase: string }> }).rows;
  } catch (error) {
    // No state table at all is a clean state too.
    if (['42P01', '3F000', 'ER_NO_SUCH_TABLE'].includes((error as { code?: string }).code ?? '')) return [];
    throw error;
  }
}

/**
 * Credentials the URL parser does not read as such: a raw `#`, `/`, `?` or
 * space in the password, a raw `@` in the user name. Everything before the
 * last `@` is hidden, whatever it holds.
 */
const CREDENTIAL_FORMS: Array<[string, (scheme: string) => string, (kind: string, scheme: string) => RegExp, string[]]> = [
  [
    'a raw # in the password (the parser refuses the URL)',
    (scheme) => `${scheme}://admin:Xy#9kQ@db.internal:5432/shop`,
    (kind, scheme) => new RegExp(`^error: malformed ${kind} URL "${scheme}://admin:\\*\\*\\*@db\\.internal:5432/shop"`),
    ['Xy#9kQ', '9kQ'],
  ],
  [
    'a raw / in the password (the parser reads it as host admin, port 123)',
    (scheme) => `${scheme}://admin:123/zqx@127.0.0.1:1/shop`,
    (kind, scheme) =>
      new RegExp(
        `^error: ${kind} URL ${scheme}://admin:\\*\\*\\*@127\\.0\\.0\\.1:1/shop has an @ after its host, so its user and password would be misread`,
      ),
    ['123/zqx', 'zqx'],
  ],
  [
    'a raw @ in the user name',
    (scheme) => `${scheme}://sa@proj.iam:T0kenSecret@127.0.0.1:1/app`,
    (kind, scheme) =>
      kind === 'database'
        ? new RegExp(`^error: cannot reach the database server at ${scheme}://sa@proj\\.iam:\\*\\*\\*@127\\.0\\.0\\.1:1/app`)
        : new RegExp(`^error: replica ${scheme}://sa@proj\\.iam:\\*\\*\\*@127\\.0\\.0\\.1:1/app cannot be reached`),
    ['T0kenSecret', 'T0ken', 'Secret'],
  ],
  [
    'a space in the password',
    (scheme) => `${scheme}://admin:pass wqrd@127.0.0.1:1/app`,
    (kind, scheme) =>
      kind === 'database'
        ? new RegExp(`^error: cannot reach the database server at ${scheme}://admin:\\*\\*\\*@127\\.0\\.0\\.1:1/app`)
        : new RegExp(`^error: replica ${scheme}://admin:\\*\\*\\*@127\\.0\\.0\\.1:1/app cannot be reached`),
    ['wqrd', 'pass%20'],
  ],
  [
    'a raw @ in a password given as ?password=',
    (scheme) => `${scheme}://app@127.0.0.1:1/shop?password=p@ssW0rdQ`,
    (kind, scheme) =>
      kind === 'database'
        ? new RegExp(`^error: cannot reach the database server at ${scheme}://app@127\\.0\\.0\\.1:1/shop\\?password=\\*\\*\\*`)
        : new RegExp(`^error: replica ${scheme}://app@127\\.0\\.0\\.1:1/shop\\?password=\\*\\*\\* cannot be reached`),
    ['p@ssW0rdQ', 'ssW0rdQ'],
  ],
  [
    'a malformed URL without an @ (the host forgotten)',
    (scheme) => `${scheme}://admin:Xy#9kQ`,
    (kind, scheme) => new RegExp(`^error: malformed ${kind} URL "${scheme}://admin:\\*\\*\\*"`),
    ['Xy#9kQ', '9kQ'],
  ],
];

describe('bad usage that needs no database', () => {
  const url = 'postgres://postgres@127.0.0.1:1/none';
  const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });

  test('a garbage URL: exit 2, "malformed database URL"', async () => {
    expectCleanError(await runCli(['status', '--dir', dir, '--url', 'not a url']), 2, /^error: malformed database URL "not a url"/);
  });

  test('an unsupported scheme: exit 2', async () => {
    expectCleanError(await runCli(['status', '--dir', dir, '--url', 'redis://x']), 2, /^error: unsupported database URL scheme "redis:"/);
  });

  test('no URL at all: exit 2', async () => {
    expectCleanError(await runCli(['status', '--dir', dir]), 2, /^error: no database URL: pass --url or set ZMIGRATE_DATABASE_URL/);
  });

  test('an unknown command: exit 2', async () => {
    expectCleanError(await runCli(['frobnicate', '--url', url]), 2, /^error: Unknown argument: frobnicate/);
  });

  test('a missing migrations folder: exit 2', async () => {
    expectCleanError(
      await runCli(['status', '--dir', path.join(dir, 'nowhere'), '--url', url]),
      2,
      /^error: migrations folder .*nowhere does not exist/,
    );
  });

  test.each([
    ['--jobs', '0', /^error: --jobs must be a whole number ≥ 1/],
    ['--jobs', '1.5', /^error: --jobs must be a whole number ≥ 1/],
    ['--batch-size', '0', /^error: --batch-size must be a whole number ≥ 1/],
    ['--batch-time', '-5', /^error: --batch-time must be a number ≥ 0/],
    ['--batch-time', '0', /^error: --batch-time must be a number > 0/],
    ['--url', url, /^error: --url given more than once/],
    ['--dir', dir, /^error: --dir given more than once/],
  ])('%s %s: exit 2, one line', async (option, value, message) => {
    expectCleanError(await runCli(['expand', '--dir', dir, '--url', url, option, value]), 2, message);
  });

  test('a URL given where no argument goes: exit 2, the URL shown without its password', async () => {
    const result = await runCli(['status', '--dir', dir, 'postgres://app:Hunter2-Secret@127.0.0.1:1/none']);
    expectCleanError(result, 2, /^error: Unknown argument: postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/none/, ['Hunter2-Secret', 'Hunter2']);
  });

  test.each([
    ['a raw @ in the password', 'postgres://app:Hunter2@Secret@127.0.0.1:1/none', ['Hunter2', 'Secret']],
    ['a password as a query parameter', 'postgres://app@127.0.0.1:1/none?password=Hunter2-Secret', ['Hunter2']],
    ['a %-encoded password', 'postgres://app:Hunter2%40Secret@127.0.0.1:1/none', ['Hunter2', 'Secret']],
  ])('%s never shows, not even in part', async (_case, badUrl, secrets) => {
    expectCleanError(
      await runCli(['status', '--dir', dir, '--url', badUrl]),
      2,
      /^error: cannot reach the database server at postgres:\/\/app/,
      secrets,
    );
  });

  describe.each(['postgres', 'mysql'])('as the database URL (%s)', (scheme) => {
    test.each(CREDENTIAL_FORMS)('%s: one line, the secret never shown', async (_case, form, pattern, secrets) => {
      expectCleanError(await runCli(['status', '--dir', dir, '--url', form(scheme)]), 2, pattern('database', scheme), secrets);
    });
  });

  test.each([
    [
      'password',
      'mysql://app:Hunter2%zz@127.0.0.1:1/none',
      /^error: database URL mysql:\/\/app:\*\*\*@127\.0\.0\.1:1\/none has a malformed %-escape in its password/,
    ],
    ['database name', 'postgres://app@127.0.0.1:1/my%zzdb', /^error: database URL .* has a malformed %-escape in its database name/],
  ])('a malformed %%-escape in the %s: exit 2, one line', async (_part, badUrl, message) => {
    expectCleanError(await runCli(['status', '--dir', dir, '--url', badUrl]), 2, message, ['Hunter2']);
  });

  test('a schema name with a "?": exit 2, one line', async () => {
    expectCleanError(
      await runCli(['status', '--dir', dir, '--url', 'postgres://postgres@127.0.0.1:1/none?schema=why%3F']),
      2,
      /^error: schema name "why\?" in the database URL has a "\?", which zmigrate does not support/,
    );
  });

  test('--verbose adds the stack trace (so the checks above would see one)', async () => {
    const bad = migrationsDir({
      '0001_broken.ts':
        "import { defineMigration, op } from 'zmigrate';\nexport default defineMigration({ operations: [ op.sql({ expand: 'SELECT 1' ) ] });\n",
    });
    const result = await runCli(['expand', '--dir', bad, '--url', url, '--verbose']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: .*0001_broken\.ts: cannot load/m);
    expect(result.stderr).toMatch(/^\s+at /m);
  });
});

describe.each(SERVER_ENGINES)('bad input on %s', (engine: Engine) => {
  const dbs: TestDatabase[] = [];
  /** A database of its own for a case: zmigrate's state is per database. */
  const fresh = async () => {
    const db = await createTestDatabase(engine);
    dbs.push(db);
    return db;
  };
  let shared: TestDatabase;
  beforeAll(async () => {
    shared = await fresh();
  });
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });
  const cli = (db: TestDatabase, dir: string, ...args: string[]) =>
    runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  describe('--replica-url with credentials the URL parser does not read as such', () => {
    const scheme = engine === 'postgres' ? 'postgres' : 'mysql';
    test.each(CREDENTIAL_FORMS)('%s: one line, the secret never shown, nothing changed', async (_case, form, pattern, secrets) => {
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      expectCleanError(await cli(shared, dir, 'expand', '--replica-url', form(scheme)), 2, pattern('replica', scheme), secrets);
      expect(await stateRows(shared)).toEqual([]);
    });
  });

  describe('migration files', () => {
    test('an option a builder does not take: expand and plan refuse it, exit 2, naming it, and nothing changes', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      writeFileSync(path.join(dir, '0002_index.ts'), migrationSource(["op.createIndex('t', ['label'], { unqiue: true })"]));
      for (const command of ['expand', 'plan']) {
        const result = await cli(db, dir, command);
        if (command === 'expand') {
          expectCleanError(result, 2, /^error: 0002_index: op\.createIndex\("t"\): unknown option "unqiue" \(did you mean "unique"\?\)/);
        } else {
          expect(result.code).toBe(2);
          expect(result.stderr).toMatch(/^error: 0002_index: op\.createIndex\("t"\): unknown option "unqiue"/m);
        }
      }
      // It did not expand, and no index was built.
      expect(await stateRows(db)).toEqual([{ name: '0001_create_t', phase: 'expanded' }]);
      expect((await inspect(db)).indexes('t')).toEqual([engine === 'mysql' ? 'PRIMARY' : 't_pkey']);
    });

    test('a syntax error: exit 2, the message names the file', async () => {
      const dir = migrationsDir({
        '0001_broken.ts':
          "import { defineMigration, op } from 'zmigrate';\nexport default defineMigration({ operations: [ op.sql({ expand: 'SELECT 1' ) ] });\n",
      });
      expectCleanError(
        await cli(shared, dir, 'expand'),
        2,
        new RegExp(`^error: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/0001_broken\\.ts: cannot load`),
      );
    });

    test('no default export: exit 2', async () => {
      const dir = migrationsDir({
        '0001_nothing.ts':
          "import { defineMigration, op } from 'zmigrate';\nconst m = defineMigration({ operations: [op.sql({ expand: 'SELECT 1' })] });\n",
      });
      expectCleanError(await cli(shared, dir, 'expand'), 2, /0001_nothing\.ts: has no default export/);
    });

    test('only a named export: exit 2, "has no default export"', async () => {
      const dir = migrationsDir({
        '0001_named.ts':
          "import { defineMigration, op } from 'zmigrate';\nexport const migration = defineMigration({ operations: [op.sql({ expand: 'SELECT 1' })] });\n",
      });
      expectCleanError(await cli(shared, dir, 'expand'), 2, /0001_named\.ts: has no default export/);
    });

    test.each([
      ['batchSize: 0', /0001_job\.ts: op\.backfill\("t"\): batchSize must be a whole number ≥ 1/],
      ["batchSize: '100'", /0001_job\.ts: op\.backfill\("t"\): batchSize must be a whole number ≥ 1/],
      ['columns: [1]', /0001_job\.ts: op\.backfill\("t"\): columns must be a list of column names/],
    ])('op.backfill with %s: exit 2, nothing changed', async (option, message) => {
      const db = await fresh();
      const dir = migrationsDir({
        '0001_job.ts': `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [op.createTable('t', { columns: { id: { type: 'integer', primaryKey: true } } })],
  backfill: op.backfill('t', { ${option}, batch: async () => undefined } as never),
});
`,
      });
      expectCleanError(await cli(db, dir, 'expand'), 2, message);
      expect((await inspect(db)).tables).toEqual([]);
    });

    test('op.backfill reading an unknown column: exit 2 before anything changes', async () => {
      const db = await fresh();
      const dir = migrationsDir({
        '0001_job.ts': `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [op.createTable('t', { columns: { id: { type: 'integer', primaryKey: true } } })],
  backfill: op.backfill('t', { columns: ['nope'], batch: async () => undefined }),
});
`,
      });
      expectCleanError(await cli(db, dir, 'expand'), 2, /^error: 0001_job: backfill job: unknown column "nope" in table "t"/);
      expect((await inspect(db)).tables).toEqual([]);
      expect(await stateRows(db)).toEqual([]);
    });

    test('a file name with capitals: exit 2', async () => {
      const dir = migrationsDir({ '0001_Bad.ts': CREATE_T });
      expectCleanError(await cli(shared, dir, 'expand'), 2, /0001_Bad\.ts: migration name "0001_Bad" must match \[a-z0-9_\]\+/);
    });

    test('a migration name too long for a version schema: exit 2, "longer than"', async () => {
      const name = `0001_${'x'.repeat(60)}`;
      const dir = migrationsDir({ [`${name}.ts`]: CREATE_T });
      const limit = engine === 'mysql' ? 64 : 63;
      expectCleanError(
        await cli(shared, dir, 'expand'),
        2,
        new RegExp(`^error: ${name}: version schema name ".*" would be longer than ${limit} bytes`),
      );
      expect((await inspect(shared)).tables).toEqual([]);
    });
  });

  describe('migrations that do not fit the database', () => {
    test('an unknown table in addColumn: exit 2, nothing changed, status shows pending', async () => {
      const db = await fresh();
      const dir = migrationsDir({
        '0001_add_to_nope.ts': migrationSource(["op.addColumn('nope', 'x', { type: 'integer', nullable: true })"]),
      });
      const before = await inspect(db);
      expectCleanError(await cli(db, dir, 'expand'), 2, /^error: 0001_add_to_nope: unknown table "nope"/);
      // No state row left half-way (in phase expanding, or at all), and nothing else changed.
      expect(await stateRows(db)).toEqual([]);
      const after = await inspect(db);
      expect([after.tables, after.versionSchemas, after.triggers]).toEqual([before.tables, before.versionSchemas, before.triggers]);
      expect(parseStatus(await cli(db, dir, 'status', '--json')).get('0001_add_to_nope')?.phase).toBe('pending');
    });

    test('an unknown column in createIndex: exit 2, the migration stays pending', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      writeFileSync(path.join(dir, '0002_index_nope.ts'), migrationSource(["op.createIndex('t', ['nope'])"]));
      expectCleanError(await cli(db, dir, 'expand'), 2, /^error: 0002_index_nope: unknown column "nope" in table "t"/);
      expect(await stateRows(db)).toEqual([{ name: '0001_create_t', phase: 'expanded' }]);
      expect((await inspect(db)).indexes('t')).toEqual([engine === 'mysql' ? 'PRIMARY' : 't_pkey']);
      const status = parseStatus(await cli(db, dir, 'status', '--json'));
      expect(status.get('0002_index_nope')?.phase).toBe('pending');
    });

    test('addCheck and addForeignKey under a constraint name that is taken: exit 2 naming its holder, before anything changes', async () => {
      const db = await fresh();
      await db.knex.raw('CREATE TABLE parents (id integer PRIMARY KEY)');
      // PostgreSQL names constraints per table (a step run again took the one there for its own, and rollback dropped
      // it); MySQL/MariaDB name foreign keys per database.
      await db.knex.raw(
        engine === 'mysql'
          ? 'CREATE TABLE other (id integer PRIMARY KEY, p integer, CONSTRAINT fk_parent FOREIGN KEY (p) REFERENCES parents (id))'
          : 'CREATE TABLE other (id integer PRIMARY KEY)',
      );
      await db.knex.raw(
        engine === 'mysql'
          ? 'CREATE TABLE t (id integer PRIMARY KEY, x integer, p integer, CONSTRAINT x_pos CHECK (x > 0))'
          : 'CREATE TABLE t (id integer PRIMARY KEY, x integer CONSTRAINT x_pos CHECK (x > 0), p integer, CONSTRAINT fk_parent CHECK (p > 0))',
      );
      const cases: Array<[string, RegExp]> = [
        [
          "op.addForeignKey('t', ['p'], { references: { table: 'parents', columns: ['id'] }, name: 'fk_parent' })",
          engine === 'mysql'
            ? /^error: 0001_named: addForeignKey on "t": a foreign key named "fk_parent" already exists on other \(give the foreign key another name: MySQL\/MariaDB names foreign keys per database\)$/
            : /^error: 0001_named: addForeignKey on "t": a check named "fk_parent" already exists on t \(give the foreign key another name\)$/,
        ],
      ];
      cases.push(["op.addCheck('t', 'x_pos', 'x < 100')", /^error: 0001_named: addCheck x_pos: a check named "x_pos" already exists on t/]);
      if (engine === 'postgres') {
        cases.push([
          "op.addCheck('t', 't_pkey', 'x < 100')",
          /^error: 0001_named: addCheck t_pkey: a primary key named "t_pkey" already exists on t/,
        ]);
      }
      const before = await inspect(db);
      for (const [operation, refusal] of cases) {
        const dir = migrationsDir({ '0001_named.ts': migrationSource([operation]) });
        expectCleanError(await cli(db, dir, 'expand'), 2, refusal);
        expect(await stateRows(db)).toEqual([]);
      }
      const after = await inspect(db);
      expect([after.tables, after.indexes('t'), after.triggers]).toEqual([before.tables, before.indexes('t'), before.triggers]);
    });

    test('up reading a generated column: refused on PostgreSQL, whose BEFORE triggers do not see its value; derived right on MariaDB', async () => {
      const db = await fresh();
      await db.knex.raw(
        engine === 'mysql'
          ? 'CREATE TABLE orders (id integer PRIMARY KEY, price integer, qty integer, total integer AS (price * qty) STORED, half integer AS (price * qty / 2) VIRTUAL)'
          : 'CREATE TABLE orders (id integer PRIMARY KEY, price integer, qty integer, total integer GENERATED ALWAYS AS (price * qty) STORED)',
      );
      await db.knex.raw('INSERT INTO orders (id, price, qty) VALUES (1, 2, 3)');
      const up = engine === 'mysql' ? 'total * 100 + half' : 'total * 100';
      const dir = migrationsDir({
        '0001_cents.ts': migrationSource([`op.addColumn('orders', 'total_cents', { type: 'bigint', up: '${up}' })`]),
      });
      if (engine === 'postgres') {
        const before = await inspect(db);
        expectCleanError(
          await cli(db, dir, 'expand'),
          2,
          /^error: 0001_cents: addColumn orders\.total_cents: up reads total, a generated column, which PostgreSQL computes after the row's BEFORE triggers: they see it NULL/,
        );
        expect(await stateRows(db)).toEqual([]);
        const after = await inspect(db);
        expect([after.tables, after.columns('orders'), after.triggers]).toEqual([before.tables, before.columns('orders'), before.triggers]);
        return;
      }
      // MariaDB computes generated columns, STORED and VIRTUAL, before its BEFORE triggers run.
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      await db.knex.raw('INSERT INTO orders (id, price, qty) VALUES (2, 3, 4)');
      await db.knex.raw('UPDATE orders SET qty = 5 WHERE id = 1');
      const cents = async () =>
        rowsOf<{ id: number; c: number | string }>(await db.knex.raw('SELECT id, total_cents AS c FROM orders ORDER BY id')).map((r) =>
          Number(r.c),
        );
      expect(await cents()).toEqual([1005, 1206]);
      expect((await cli(db, dir, 'contract')).code).toBe(0);
    });

    test('alterColumn to a type the default it keeps does not suit: exit 2 naming the default, before anything changes', async () => {
      const db = await fresh();
      // PostgreSQL: text '{}' on jsonb; MySQL/MariaDB: 'abc' on an integer. Contract would set it once the trigger is gone.
      await db.knex.raw(
        engine === 'mysql'
          ? "CREATE TABLE events (id integer PRIMARY KEY, payload varchar(10) NOT NULL DEFAULT 'abc')"
          : "CREATE TABLE events (id integer PRIMARY KEY, payload text NOT NULL DEFAULT '{}')",
      );
      await db.knex.raw(engine === 'mysql' ? "INSERT INTO events VALUES (1, '7')" : "INSERT INTO events VALUES (1, '[7]')");
      const [type, up, down] =
        engine === 'mysql' ? ['integer', 'CAST(payload AS SIGNED)', 'CAST(payload AS CHAR)'] : ['jsonb', 'payload::jsonb', 'payload::text'];
      const alter = (extra = '') =>
        migrationSource([`op.alterColumn('events', 'payload', { type: '${type}', up: '${up}', down: '${down}'${extra} })`]);
      const dir = migrationsDir({ '0001_payload.ts': alter() });
      const before = await inspect(db);
      const refusal =
        engine === 'mysql'
          ? /^error: 0001_payload: alterColumn events\.payload: the column's default 'abc' does not suit type integer: Invalid default value for 'payload' \(give alterColumn a `default` of the new type\)$/
          : /^error: 0001_payload: alterColumn events\.payload: the column's default '\{\}'::text does not suit type jsonb: column "payload" is of type jsonb but default expression is of type text \(give alterColumn a `default` of the new type\)$/;
      expectCleanError(await cli(db, dir, 'expand'), 2, refusal);
      expect(await stateRows(db)).toEqual([]);
      const after = await inspect(db);
      expect([after.tables, after.columns('events'), after.triggers]).toEqual([before.tables, before.columns('events'), before.triggers]);
      // With a default of the new type, it goes through to the end.
      writeFileSync(path.join(dir, '0001_payload.ts'), alter(engine === 'mysql' ? ", default: '0'" : `, default: "'{}'::jsonb"`));
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      expect((await cli(db, dir, 'contract')).code).toBe(0);
      await db.knex.raw('INSERT INTO events (id) VALUES (2)');
      const rows = rowsOf<{ v: unknown }>(await db.knex.raw('SELECT payload AS v FROM events WHERE id = 2'));
      expect(rows[0].v).toEqual(engine === 'mysql' ? 0 : {});
    });
  });

  test('a table may not take the name of a view: renameTable and createTable refuse it, exit 2, and the view is kept', async () => {
    const db = await fresh();
    const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
    expect((await cli(db, dir, 'expand')).code).toBe(0);
    expect((await cli(db, dir, 'contract')).code).toBe(0);
    await db.knex.raw('CREATE VIEW recent_t AS SELECT id FROM t');
    writeFileSync(path.join(dir, '0002_rename_t.ts'), migrationSource(["op.renameTable('t', 'recent_t')"]));
    expectCleanError(await cli(db, dir, 'expand'), 2, /^error: 0002_rename_t: "recent_t" already exists \(a view or sequence\)/);
    writeFileSync(
      path.join(dir, '0002_rename_t.ts'),
      migrationSource(["op.createTable('recent_t', { columns: { id: { type: 'integer', primaryKey: true } } })"]),
    );
    expectCleanError(await cli(db, dir, 'expand'), 2, /^error: 0002_rename_t: "recent_t" already exists \(a view or sequence\)/);
    expect(await stateRows(db)).toEqual([{ name: '0001_create_t', phase: 'complete' }]);
    const views = await db.knex.raw('SELECT table_name AS v FROM information_schema.views WHERE table_schema = ?', [db.base]);
    expect(rowsOf<{ v: string }>(views).map((r) => r.v)).toEqual(['recent_t']);
    expect((await inspect(db)).tables).toEqual(['t']);
  });

  test('dropIndex of an index a foreign key needs: exit 2 naming the key, before anything changes', async () => {
    const db = await fresh();
    const dir = migrationsDir({
      '0001_base.ts': migrationSource([
        "op.createTable('parent', { columns: { id: { type: 'bigint', primaryKey: true }, code: { type: 'integer' } } })",
        "op.createTable('child', { columns: { id: { type: 'bigint', primaryKey: true }, parent_id: { type: 'bigint' }, code: { type: 'integer' } } })",
        "op.createIndex('parent', ['code'], { name: 'parent_code_uq', unique: true })",
        "op.createIndex('child', ['parent_id'], { name: 'child_parent_idx' })",
      ]),
      '0002_keys.ts': migrationSource([
        "op.addForeignKey('child', ['parent_id'], { references: { table: 'parent', columns: ['id'] }, name: 'child_parent_fk' })",
        "op.addForeignKey('child', ['code'], { references: { table: 'parent', columns: ['code'] }, name: 'child_code_fk' })",
      ]),
    });
    for (const command of ['expand', 'contract']) expect((await cli(db, dir, command)).code).toBe(0);
    const drop = (table: string, index: string) =>
      writeFileSync(path.join(dir, '0003_drop.ts'), migrationSource([`op.dropIndex('${table}', '${index}')`]));

    // The unique index the other table's key references: PostgreSQL bound the key to it, InnoDB needs it.
    drop('parent', 'parent_code_uq');
    expectCleanError(
      await cli(db, dir, 'expand'),
      2,
      /^error: 0003_drop: index "parent_code_uq" on "parent" is needed by foreign key "child_code_fk" of table "child"/,
    );
    expect(await stateRows(db)).toEqual([
      { name: '0001_base', phase: 'complete' },
      { name: '0002_keys', phase: 'complete' },
    ]);

    // The index of the key's own columns: InnoDB needs one, PostgreSQL does not.
    drop('child', 'child_parent_idx');
    if (engine === 'mysql') {
      expectCleanError(
        await cli(db, dir, 'expand'),
        2,
        /^error: 0003_drop: index "child_parent_idx" on "child" is needed by foreign key "child_parent_fk"(?! of)/,
      );
      // Another index that starts with the key's columns lets it go.
      writeFileSync(
        path.join(dir, '0003_drop.ts'),
        migrationSource(["op.createIndex('child', ['parent_id', 'code'], { name: 'child_parent_code' })"]),
      );
      writeFileSync(path.join(dir, '0004_drop.ts'), migrationSource(["op.dropIndex('child', 'child_parent_idx')"]));
    }
    for (const command of ['expand', 'contract']) {
      const result = await cli(db, dir, command);
      expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    }
    expect((await inspect(db)).indexes('child')).not.toContain('child_parent_idx');
    expect((await inspect(db)).indexes('parent')).toContain('parent_code_uq');
  });

  test('alterColumn of a column a foreign key (either end) or a check uses: exit 2 naming it, nothing changed; other columns alter', async () => {
    const db = await fresh();
    // sizes.code is referenced by items.qty; items.weight has a check; items.note has nothing. A column's own
    // foreign keys, and on PostgreSQL its checks, are carried over (test/column-constraints.test.ts), but not a key
    // with ON UPDATE CASCADE nor a check with NO INHERIT.
    await db.knex.raw('CREATE TABLE sizes (n integer PRIMARY KEY, code integer NOT NULL UNIQUE)');
    await db.knex.raw(
      'CREATE TABLE items (id integer PRIMARY KEY, qty integer NOT NULL, weight integer NOT NULL, note varchar(20), ' +
        `CONSTRAINT items_qty_fk FOREIGN KEY (qty) REFERENCES sizes (code) ON UPDATE CASCADE, CONSTRAINT weight_positive CHECK (weight > 0)${engine === 'postgres' ? ' NO INHERIT' : ''})`,
    );
    const widen = (table: string, column: string) =>
      migrationSource([`op.alterColumn('${table}', '${column}', { type: 'bigint', up: '${column}', down: '${column}' })`]);
    const refused = async (files: Record<string, string>, pattern: RegExp) => {
      const dir = migrationsDir(files);
      const before = await inspect(db);
      expectCleanError(await cli(db, dir, 'expand'), 2, pattern);
      expect(await stateRows(db)).toEqual([]);
      const after = await inspect(db);
      expect([after.columns('items'), after.columns('sizes'), after.triggers]).toEqual([
        before.columns('items'),
        before.columns('sizes'),
        before.triggers,
      ]);
    };
    const cannot = 'uses the column, and zmigrate cannot carry it over to the new column yet';
    await refused(
      { '0001_qty.ts': widen('items', 'qty') },
      new RegExp(`^error: 0001_qty: alterColumn items\\.qty: foreign key "items_qty_fk" ${cannot}`),
    );
    await refused(
      { '0001_code.ts': widen('sizes', 'code') },
      new RegExp(`^error: 0001_code: alterColumn sizes\\.code: foreign key "items_qty_fk" of table "items" ${cannot}`),
    );
    await refused(
      { '0001_weight.ts': widen('items', 'weight') },
      new RegExp(`^error: 0001_weight: alterColumn items\\.weight: check "weight_positive" ${cannot}`),
    );
    // A column nothing else uses alters as before.
    const dir = migrationsDir({
      '0001_note.ts': migrationSource(["op.alterColumn('items', 'note', { type: 'varchar(40)', up: 'note', down: 'note' })"]),
    });
    expect((await cli(db, dir, 'expand')).code).toBe(0);
    expect((await cli(db, dir, 'contract')).code).toBe(0);
  });

  test('alterColumn of a column a foreign key of an earlier pending migration uses: carried over on PostgreSQL; on MySQL/MariaDB, where the new type cannot reference the old one, plan refuses it and expand stops there', async () => {
    const db = await fresh();
    await db.knex.raw('CREATE TABLE sizes (n integer PRIMARY KEY)');
    await db.knex.raw('CREATE TABLE items (id integer PRIMARY KEY, spare integer)');
    const fkDir = migrationsDir({
      '0001_spare_fk.ts': migrationSource([
        "op.addForeignKey('items', ['spare'], { references: { table: 'sizes', columns: ['n'] }, name: 'items_spare_fk', onDelete: 'set null' })",
      ]),
      '0002_spare.ts': migrationSource(["op.alterColumn('items', 'spare', { type: 'bigint', up: 'spare', down: 'spare' })"]),
    });
    if (engine === 'postgres') {
      // The key the earlier migration adds is planned with what it references, so the later one builds it again.
      expect((await cli(db, fkDir, 'plan')).stdout).toMatch(
        /ADD CONSTRAINT "_zm_items_spare_fk" FOREIGN KEY \("_zm_spare"\) REFERENCES "public"."sizes" \("n"\) ON DELETE SET NULL NOT VALID/,
      );
      for (const command of ['expand', 'contract']) expect((await cli(db, fkDir, command)).code).toBe(0);
      const [key] = rowsOf<{ k: string }>(
        await db.knex.raw("select pg_get_constraintdef(oid) as k from pg_constraint where conname = 'items_spare_fk' and convalidated"),
      );
      expect(key).toEqual({ k: 'FOREIGN KEY (spare) REFERENCES sizes(n) ON DELETE SET NULL' });
      return;
    }
    // A foreign key an earlier migration adds counts too: plan refuses before anything runs; expand
    // expands the earlier migration, then refuses this one, which stays pending.
    const spare =
      /^error: 0002_spare: alterColumn items\.spare: foreign key "items_spare_fk" references sizes\.n \(int\(11\)\), which MySQL\/MariaDB does not let a column of type bigint reference/;
    expectCleanError(await cli(db, fkDir, 'plan'), 2, spare);
    expect(await stateRows(db)).toEqual([]);
    const expand = await cli(db, fkDir, 'expand');
    expect(expand.code).toBe(2);
    expect(expand.stderr.trim().split('\n').at(-1)).toMatch(spare);
    expect(await stateRows(db)).toEqual([{ name: '0001_spare_fk', phase: 'expanded' }]);
    expect((await cli(db, fkDir, 'rollback')).code).toBe(0);
  });

  describe('requests that do not fit the state', () => {
    test('contract before expand: exit 2, "nothing to contract"', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      expectCleanError(await cli(db, dir, 'contract'), 2, /^error: nothing to contract: run zmigrate expand first/);
      expect((await inspect(db)).tables).toEqual([]);
    });

    test('contract with every expanded migration complete and others never expanded: exit 2, naming them', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      for (const command of ['expand', 'contract']) expect((await cli(db, dir, command)).code).toBe(0);
      writeFileSync(path.join(dir, '0002_add_note.ts'), ADD_NOTE);
      expectCleanError(
        await cli(db, dir, 'contract'),
        2,
        /^error: nothing to contract: 0002_add_note \(pending\) is not expanded; run zmigrate expand first$/,
      );
      for (const command of ['expand', 'rollback']) expect((await cli(db, dir, command)).code).toBe(0);
      writeFileSync(path.join(dir, '0003_add_more.ts'), migrationSource(["op.addColumn('t', 'more', { type: 'text', nullable: true })"]));
      expectCleanError(
        await cli(db, dir, 'contract'),
        2,
        /^error: nothing to contract: 0002_add_note \(rolled back\), 0003_add_more \(pending\) are not expanded; run zmigrate expand first$/,
      );
      expect(await stateRows(db)).toEqual([
        { name: '0001_create_t', phase: 'complete' },
        { name: '0002_add_note', phase: 'rolled back' },
      ]);
      // Once they are expanded and contracted, a contract run again has nothing to do, and says so truly.
      for (const command of ['expand', 'contract']) expect((await cli(db, dir, command)).code).toBe(0);
      expect(await cli(db, dir, 'contract')).toMatchObject({
        code: 0,
        stdout: 'nothing to contract: every migration is already complete\n',
      });
    });

    test('rollback of a contracted migration: exit 2, "is complete"', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      expect((await cli(db, dir, 'contract')).code).toBe(0);
      expectCleanError(await cli(db, dir, 'rollback'), 2, /^error: nothing to roll back: 0001_create_t is complete/);
      expect((await inspect(db)).tables).toEqual(['t']);
    });

    test('an applied file edited afterwards: exit 2, "was changed after it was applied"', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T, '0002_add_note.ts': ADD_NOTE });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      writeFileSync(
        path.join(dir, '0002_add_note.ts'),
        migrationSource(["op.addColumn('t', 'note', { type: 'varchar(10)', nullable: true })"]),
      );
      for (const command of ['expand', 'contract', 'rollback']) {
        expectCleanError(await cli(db, dir, command), 2, /^error: .*0002_add_note\.ts was changed after it was applied \(expanded\)/);
      }
      // status still works, and flags the file.
      const status = await cli(db, dir, 'status', '--json');
      expect(
        (JSON.parse(status.stdout) as { migrations: Array<{ name: string; modified: boolean }> }).migrations.find(
          (m) => m.name === '0002_add_note',
        )?.modified,
      ).toBe(true);
      expect((await inspect(db)).columns('t')).toEqual(['id', 'label', 'note']);
    });

    test('an applied file checked out with CRLF line ends elsewhere (git autocrlf) is the same file: contract goes on', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0001_create_t.ts': CREATE_T, '0002_add_note.ts': ADD_NOTE });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      writeFileSync(path.join(dir, '0002_add_note.ts'), ADD_NOTE.replace(/\n/g, '\r\n'));
      expect(outcome(await cli(db, dir, 'contract'))).toEqual({ code: 0, errors: [] });
      expect((await inspect(db)).columns('t')).toEqual(['id', 'label', 'note']);
    });

    test('a new file that sorts before an applied one: exit 2, "sorts before"', async () => {
      const db = await fresh();
      const dir = migrationsDir({ '0002_create_t.ts': CREATE_T });
      expect((await cli(db, dir, 'expand')).code).toBe(0);
      writeFileSync(path.join(dir, '0001_add_note.ts'), ADD_NOTE);
      expectCleanError(await cli(db, dir, 'expand'), 2, /^error: .*0001_add_note\.ts sorts before 0002_create_t, which is already applied/);
      expect((await inspect(db)).columns('t')).toEqual(['id', 'label']);
    });
  });

  describe('connections', () => {
    const adminUrl = () => (engine === 'mysql' ? process.env.ZMIGRATE_TEST_MYSQL_URL! : process.env.ZMIGRATE_TEST_PG_URL!);
    const dir = migrationsDir({ '0001_create_t.ts': CREATE_T });

    test('an unreachable server: exit 2, "cannot reach", and the password in the URL is never printed', async () => {
      const url = withPassword(adminUrl(), 'Hunter2-Secret', { port: '1' });
      for (const command of ['status', 'expand']) {
        expectCleanError(
          await runCli([command, '--dir', dir, '--url', url]),
          2,
          /^error: cannot reach the database server at \w+:\/\/[^:]+:\*\*\*@[^/]+:1\//,
          ['Hunter2-Secret'],
        );
      }
    });

    test('a database that does not exist: exit 2', async () => {
      const url = new URL(adminUrl());
      url.pathname = '/zm_no_such_database';
      expectCleanError(await runCli(['status', '--dir', dir, '--url', url.toString()]), 2, /^error: the database in .* does not exist/);
    });

    if (engine === 'mysql') {
      test('a wrong password: exit 2, "authentication failed", the password appears nowhere', async () => {
        // Users are server-wide: a name of this run's own (a PID repeats across containers), made, not reused.
        const user = `zm_pw_${process.pid}_${crypto.randomUUID().slice(0, 8)}`;
        try {
          await shared.knex.raw(`CREATE USER '${user}'@'%' IDENTIFIED BY 'right-pass-123'`);
          await shared.knex.raw(`GRANT ALL ON \`${shared.base}\`.* TO '${user}'@'%'`);
          const database = `/${shared.base}`;
          const wrong = withPassword(adminUrl(), 'Secr3t-Wrong-99', { username: user, pathname: database });
          for (const command of ['status', 'expand']) {
            expectCleanError(
              await runCli([command, '--dir', dir, '--url', wrong]),
              2,
              new RegExp(`^error: authentication failed for mysql://${user}:\\*\\*\\*@`),
              ['Secr3t-Wrong-99'],
            );
          }
          // Through the environment variable too.
          expectCleanError(
            await runCli(['status', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: wrong } }),
            2,
            /^error: authentication failed/,
            ['Secr3t-Wrong-99'],
          );
          // The right password works, and is not printed either.
          const right = await runCli([
            'status',
            '--dir',
            dir,
            '--url',
            withPassword(adminUrl(), 'right-pass-123', { username: user, pathname: database }),
          ]);
          expect(right.code).toBe(0);
          expect(right.stdout).toMatch(/0001_create_t\s+pending/);
          expect(right.stdout + right.stderr).not.toContain('right-pass-123');
        } finally {
          await shared.knex.raw(`DROP USER IF EXISTS '${user}'@'%'`);
        }
      });
    } else {
      // The PostgreSQL server of this test setup trusts local connections, so a wrong
      // password is accepted and "authentication failed" cannot be shown on it; the
      // unreachable case above shows a URL's password is never printed.
      test('a password in a URL that works is not printed by any command', async () => {
        const db = await fresh();
        const url = withPassword(db.url, 'Hunter2-Secret');
        const bad = migrationsDir({
          '0001_add_to_nope.ts': migrationSource(["op.addColumn('nope', 'x', { type: 'integer', nullable: true })"]),
        });
        const result = await runCli(['expand', '--dir', bad, '--url', url]);
        if (result.code === 2 && /authentication failed/.test(result.stderr)) {
          // A server that checks passwords: the wrong one is refused, and not printed.
          expectCleanError(result, 2, /^error: authentication failed/, ['Hunter2-Secret']);
        } else {
          expectCleanError(result, 2, /^error: 0001_add_to_nope: unknown table "nope"/, ['Hunter2-Secret']);
        }
      });
    }
  });

  test('hostile identifiers work through expand, the version schema and contract, and are never injected', async () => {
    const db = await fresh();
    const table = 'we"ird; drop table x --';
    const column = 'naïve`col';
    const column2 = "it's`); DROP TABLE x; --";
    const dir = migrationsDir({
      '0001_sentinel.ts': migrationSource([
        "op.createTable('x', { columns: { id: { type: 'integer', primaryKey: true } } })",
        "op.sql({ expand: 'INSERT INTO x (id) VALUES (42)' })",
      ]),
      '0002_hostile.ts': migrationSource([
        `op.createTable(${JSON.stringify(table)}, { columns: { id: { type: 'integer', primaryKey: true }, ${JSON.stringify(column)}: { type: 'varchar(50)' } } })`,
        `op.addColumn(${JSON.stringify(table)}, ${JSON.stringify(column2)}, { type: 'integer', nullable: true })`,
        `op.createIndex(${JSON.stringify(table)}, [${JSON.stringify(column)}])`,
      ]),
    });
    const expand = await cli(db, dir, 'expand');
    expect(expand.stderr).not.toMatch(/error/i);
    expect(expand.code).toBe(0);

    const schema = `${db.base}_0002_hostile`;
    const app = db.versionKnex(schema);
    await app(table).insert({ id: 1, [column]: 'héllo; --', [column2]: 7 });
    expect(await app(table).select('*')).toEqual([{ id: 1, [column]: 'héllo; --', [column2]: 7 }]);

    const contract = await cli(db, dir, 'contract');
    expect(contract.stderr).not.toMatch(/error/i);
    expect(contract.code).toBe(0);

    const state = await inspect(db);
    expect(state.tables.sort()).toEqual([table, 'x'].sort());
    expect(state.columns(table)).toEqual(['id', column, column2]);
    expect(state.visibleColumns(table)).toEqual(['id', column, column2]);
    expect(state.indexes(table)).toContain(`${table}_${column}_idx`);
    expect(state.views(schema)).toEqual(expect.arrayContaining([table, 'x']));
    // The rows are where they belong; table x was never dropped.
    expect(await db.knex(table).select('*')).toEqual([{ id: 1, [column]: 'héllo; --', [column2]: 7 }]);
    expect(await db.knex('x').select('id')).toEqual([{ id: 42 }]);
    // The new app keeps working after contract.
    await app(table).insert({ id: 2, [column]: 'ünïcode', [column2]: null });
    expect((await app(table).count({ n: '*' }))[0].n).toEqual(engine === 'mysql' ? 2 : '2');
    const status = parseStatus(await cli(db, dir, 'status', '--json'));
    expect([...status.values()].map((m) => m.phase)).toEqual(['complete', 'complete']);
  });

  test("names holding zmigrate's own dollar-quote tag, and a column of yours that starts like its helpers, work through expand and contract", async () => {
    const db = await fresh();
    const table = 'ledger$zmigrate$';
    const column = 'amount$zmigrate$';
    await db.knex.schema.createTable(table, (t) => {
      t.integer('id').primary();
      t.integer(column).notNullable();
      t.integer('_zmodified');
    });
    await db.knex(table).insert([
      { id: 1, [column]: 5, _zmodified: 1 },
      { id: 2, [column]: 6, _zmodified: 2 },
    ]);
    const q = (name: string) => (engine === 'mysql' ? `\`${name}\`` : `"${name}"`);
    const dir = migrationsDir({
      '0001_widen.ts': migrationSource([
        `op.alterColumn(${JSON.stringify(table)}, ${JSON.stringify(column)}, { type: 'bigint', up: ${JSON.stringify(q(column))}, down: ${JSON.stringify(q(column))} })`,
      ]),
    });
    expect(outcome(await cli(db, dir, 'expand'))).toEqual({ code: 0, errors: [] });
    const app = db.versionKnex(`${db.base}_0001_widen`);
    // The new app sees the column of yours that starts with _zm (only `_zm_` columns are zmigrate's).
    const seen = (await app(table).select('*').orderBy('id')) as Array<Record<string, unknown>>;
    // bigint comes back as a string from node-postgres.
    expect(seen.map((r) => ({ ...r, [column]: Number(r[column]) }))).toEqual([
      { id: 1, [column]: 5, _zmodified: 1 },
      { id: 2, [column]: 6, _zmodified: 2 },
    ]);
    await db
      .knex(table)
      .where({ id: 1 })
      .update({ [column]: 50 });
    expect(outcome(await cli(db, dir, 'contract'))).toEqual({ code: 0, errors: [] });
    expect(rowsOf(await db.knex.raw(`SELECT ${q(column)} AS v FROM ${q(table)} ORDER BY id`)).map((r) => Number(r.v))).toEqual([50, 6]);
  });

  test('a `?` in names and expressions is a question mark, never a placeholder: backfill, job, verification and contract', async () => {
    const db = await fresh();
    const q = (name: string) => (engine === 'mysql' ? `\`${name}\`` : `"${name}"`);
    // The test's own knex reads `\?` as `?` on PostgreSQL only; zmigrate's MySQL sessions do too, the test's do not.
    const text = (sql: string) => (engine === 'mysql' ? sql : sql.replace(/\?/g, '\\?'));
    const seed =
      engine === 'mysql'
        ? "INSERT INTO `ask?` (id, `note?`, qty) SELECT seq, IF(seq % 3 = 0, NULL, CONCAT('n', seq)), seq FROM seq_1_to_600"
        : `INSERT INTO "ask?" (id, "note?", qty, doc) SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, g,
             CASE WHEN g % 2 = 0 THEN '{"k": 1}'::jsonb ELSE '{}'::jsonb END FROM generate_series(1, 600) AS g`;
    await db.knex.raw(
      text(
        `CREATE TABLE ${q('ask?')} (id integer PRIMARY KEY, ${q('note?')} varchar(20), qty integer${engine === 'mysql' ? '' : ', doc jsonb'})`,
      ),
    );
    await db.knex.raw(text(seed));
    const up = `concat(coalesce(${q('note?')}, '?'), '?')`;
    const dir = migrationsDir({
      '0001_marks.ts': `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [
    op.alterColumn('ask?', 'note?', { type: 'varchar(40)', up: ${JSON.stringify(up)}, down: ${JSON.stringify(q('note?'))} }),
    ${engine === 'postgres' ? `op.addColumn('ask?', 'keyed?', { type: 'boolean', nullable: true, up: "doc ? 'k'" }),` : ''}
  ],
  backfill: op.backfill('ask?', {
    where: ${JSON.stringify(`${q('note?')} IS NULL OR ${q('note?')} <> '?'`)},
    batch: async (rows, { knex, quote }) => {
      for (const row of rows) await knex.raw(\`UPDATE \${quote('ask?')} SET qty = ? WHERE id = ?\`, [Number(row.qty) * 2, row.id]);
    },
  }),
});
`,
    });
    const expand = await cli(db, dir, 'expand', '--batch-size', '50');
    expect(outcome(expand)).toEqual({ code: 0, errors: [] });

    const stored = async (columns: string[]) =>
      rowsOf<Record<string, unknown>>(await db.knex.raw(text(`SELECT ${columns.map(q).join(', ')} FROM ${q('ask?')} ORDER BY id`)));
    // The helper column is invisible on MariaDB: named, not `*`.
    const before = await stored(['id', 'note?', '_zm_note?', 'qty', ...(engine === 'postgres' ? ['keyed?'] : [])]);
    expect(before).toHaveLength(600);
    for (const row of before) {
      const id = Number(row.id);
      const note = id % 3 === 0 ? null : `n${id}`;
      expect({ id, old: row['note?'], new: row['_zm_note?'], qty: Number(row.qty) }).toEqual({
        id,
        old: note,
        new: `${note ?? '?'}?`,
        qty: id * 2,
      });
      if (engine === 'postgres') expect({ id, keyed: row['keyed?'] }).toEqual({ id, keyed: id % 2 === 0 });
    }

    // The old app's writes are carried over by the triggers, whose rules hold the same `?`.
    await db.knex.raw(text(`INSERT INTO ${q('ask?')} (id, ${q('note?')}, qty) VALUES (601, NULL, 1), (602, 'why?', 2)`));
    const app = db.versionKnex(`${db.base}_0001_marks`);
    expect(rowsOf(await app.raw(text(`SELECT id, ${q('note?')} FROM ${q('ask?')} WHERE id > 600 ORDER BY id`)))).toEqual([
      { id: 601, 'note?': '??' },
      { id: 602, 'note?': 'why??' },
    ]);

    const contract = await cli(db, dir, 'contract');
    expect(outcome(contract)).toEqual({ code: 0, errors: [] });
    expect((await inspect(db)).columns('ask?').sort()).toEqual(
      ['id', 'note?', 'qty', ...(engine === 'postgres' ? ['doc', 'keyed?'] : [])].sort(),
    );
    const after = await stored(['id', 'note?']);
    expect(after.filter((row) => Number(row.id) % 3 === 0).every((row) => row['note?'] === '??')).toBe(true);
    expect(after.find((row) => Number(row.id) === 602)?.['note?']).toBe('why??');
  });

  test("a backslash before a `?` (a regular expression's `\\?`) reaches the server as written: in raw SQL and in up", async () => {
    const db = await fresh();
    await db.knex.schema.createTable('links', (t) => {
      t.integer('id').primary();
      t.string('url', 200);
    });
    await db.knex('links').insert([
      { id: 1, url: 'https://a.example/p?x=1' },
      { id: 2, url: 'https://b.example/q' },
    ]);
    // A string of the server's that holds `\?`, and a pattern matching from a question mark on (MySQL/MariaDB strings
    // take a backslash as an escape of their own, so there it is written twice).
    const [literal, pattern] = engine === 'mysql' ? [String.raw`'a\\?b'`, String.raw`'\\?.*$'`] : [String.raw`'a\?b'`, String.raw`'\?.*$'`];
    const dir = migrationsDir({
      '0001_patterns.ts': migrationSource([
        `op.sql({ expand: ${JSON.stringify(`CREATE TABLE patterns (p varchar(20)); INSERT INTO patterns VALUES (${literal})`)}, rollback: 'DROP TABLE patterns' })`,
      ]),
      '0002_base_url.ts': migrationSource([
        `op.addColumn('links', 'base_url', { type: 'varchar(200)', nullable: true, up: ${JSON.stringify(`regexp_replace(url, ${pattern}, '')`)} })`,
      ]),
    });
    expect(outcome(await cli(db, dir, 'expand'))).toEqual({ code: 0, errors: [] });
    expect((await db.knex('patterns').pluck('p')).map(String)).toEqual(['a\\?b']);
    // The old app's insert is filled by the trigger, whose body holds the same pattern.
    await db.knex('links').insert({ id: 3, url: 'https://c.example/r?z=2' });
    expect(rowsOf(await db.knex.raw('SELECT id, base_url FROM links ORDER BY id'))).toEqual([
      { id: 1, base_url: 'https://a.example/p' },
      { id: 2, base_url: 'https://b.example/q' },
      { id: 3, base_url: 'https://c.example/r' },
    ]);
    expect(outcome(await cli(db, dir, 'contract'))).toEqual({ code: 0, errors: [] });
  });
});

describe('PostgreSQL: SQL of its own on columns a live migration replaces', () => {
  test('a check or partial index on a table whose column a live alterColumn replaces: exit 2, pending; after that contract it expands', async () => {
    const db = await createTestDatabase('postgres');
    const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    try {
      await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)');
      const dir = migrationsDir({
        '0001_widen.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]),
      });
      expect((await cli(dir, 'expand')).code).toBe(0);
      for (const operation of [
        "op.addCheck('orders', 'amount_positive', 'amount > 0')",
        "op.createIndex('orders', ['id'], { where: 'amount > 100' })",
      ]) {
        writeFileSync(path.join(dir, '0002_rule.ts'), migrationSource([operation]));
        expectCleanError(
          await cli(dir, 'expand'),
          2,
          /^error: 0002_rule: a check or partial index reads column "amount" of table "orders", which 0001_widen \(expanded, not contracted\) replaces or drops/,
        );
        expect(parseStatus(await cli(dir, 'status', '--json')).get('0002_rule')?.phase).toBe('pending');
      }
      expect((await cli(dir, 'contract')).code).toBe(0);
      expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
      expect((await inspect(db)).indexes('orders')).toContain('orders_id_idx');
    } finally {
      await db.drop();
    }
  });

  test('a check or partial index that reads other columns of that table is not held up: it expands, and both contracts keep it', async () => {
    const db = await createTestDatabase('postgres');
    const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    try {
      await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL, note text)');
      await db.knex('orders').insert({ id: 1, amount: 5, note: 'a' });
      const dir = migrationsDir({
        '0001_widen.ts': migrationSource([
          "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
          "op.dropColumn('orders', 'note')",
        ]),
        '0002_rule.ts': migrationSource([
          "op.addCheck('orders', 'id_positive', 'id > 0')",
          "op.createIndex('orders', ['amount'], { name: 'orders_big_idx', where: 'id > 100' })",
        ]),
      });
      expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
      // One that reads the column dropColumn drops is still refused.
      writeFileSync(path.join(dir, '0003_note.ts'), migrationSource(["op.addCheck('orders', 'note_short', 'length(note) < 10')"]));
      expectCleanError(
        await cli(dir, 'expand'),
        2,
        /^error: 0003_note: a check or partial index reads column "note" of table "orders", which 0001_widen \(expanded, not contracted\) replaces or drops/,
      );
      unlinkSync(path.join(dir, '0003_note.ts'));
      expect(outcome(await cli(dir, 'contract'))).toEqual({ code: 0, errors: [] });
      const constraints = await db.knex.raw(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'c'",
      );
      expect(rowsOf(constraints)).toEqual([{ conname: 'id_positive', def: 'CHECK ((id > 0))' }]);
      const index = await db.knex.raw("SELECT indexdef FROM pg_indexes WHERE indexname = 'orders_big_idx'");
      expect(rowsOf(index)).toEqual([{ indexdef: 'CREATE INDEX orders_big_idx ON public.orders USING btree (amount) WHERE (id > 100)' }]);
      // The check still holds for new rows.
      await expect(db.knex('orders').insert({ id: -1, amount: 1 })).rejects.toThrow(/id_positive/);
    } finally {
      await db.drop();
    }
  });
});
