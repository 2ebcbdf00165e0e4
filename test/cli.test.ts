/**
 * The CLI's own surface: config files, `new`, `plan`, `schema`, colours and
 * exit codes, on real servers.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { BIN, migrationSource, migrationsDir, spawnCli } from './support/cli';
import { inspect } from './support/inspect';

const CREATE = migrationSource([
  "op.createTable('items', { columns: { id: { type: 'bigint', primaryKey: true }, label: { type: 'varchar(50)', nullable: false } } })",
]);

test('--version prints the version in package.json; --help lists every command', async () => {
  const { version } = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  const printed = await spawnCli(['--version']);
  expect({ code: printed.code, stdout: printed.stdout.trim() }).toEqual({ code: 0, stdout: version });
  const help = await spawnCli(['--help']);
  expect(help.code).toBe(0);
  for (const command of ['expand', 'contract', 'rollback', 'status', 'plan', 'lint', 'backfill', 'schema', 'new']) {
    expect(help.stdout).toMatch(new RegExp(`^\\s+zmigrate ${command}\\b`, 'm'));
  }
});

test('the compile cache: made on the first run, used by the next, a broken one replaced; off with NODE_DISABLE_COMPILE_CACHE', async () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-cache-test-'));
  const files = () => readdirSync(cache).map((f) => path.join(cache, f));
  const help = async (env: Record<string, string>) => {
    const run = await spawnCli(['--help'], { env });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    return run.stdout;
  };
  const plain = await help({ NODE_DISABLE_COMPILE_CACHE: '1', NODE_COMPILE_CACHE: cache });
  expect(files()).toEqual([]);
  expect(await help({ NODE_COMPILE_CACHE: cache })).toBe(plain);
  expect(files()).toHaveLength(1);
  const [file] = files();
  const made = readFileSync(file);
  expect(made.length).toBeGreaterThan(100_000);
  expect(await help({ NODE_COMPILE_CACHE: cache })).toBe(plain);
  // Every module found its entry, so nothing was written again.
  expect(readFileSync(file).equals(made)).toBe(true);
  writeFileSync(file, Buffer.concat([made.subarray(0, 1000), Buffer.from('not a cache')]));
  expect(await help({ NODE_COMPILE_CACHE: cache })).toBe(plain);
  expect(readFileSync(file).length).toBeGreaterThan(100_000);
  // A module rebuilt (here only touched) misses its entry: V8 checks cached code only against its source's length.
  const rebuilt = readFileSync(file);
  const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
  const later = new Date(statSync(main).mtimeMs + 1000);
  utimesSync(main, later, later);
  expect(await help({ NODE_COMPILE_CACHE: cache })).toBe(plain);
  expect(readFileSync(file).equals(rebuilt)).toBe(false);
});

test('the caches are kept in a folder of this user alone; a folder or file another user could have planted is not used', async () => {
  const temp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `zmigrate-${name}-`));
  const help = async (env: Record<string, string | undefined>) => {
    const run = await spawnCli(['--help'], { env: { NODE_COMPILE_CACHE: undefined, ...env } });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  };
  // By default: $XDG_CACHE_HOME/zmigrate, made private; migration files transpiled by lint are cached there too.
  const xdg = temp('xdg');
  const dir = migrationsDir({ '0001_items.ts': CREATE });
  await help({ XDG_CACHE_HOME: xdg });
  const lint = await spawnCli(['lint', '--dir', dir], { env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined } });
  expect(lint.code).toBe(0);
  expect((statSync(path.join(xdg, 'zmigrate')).mode & 0o777).toString(8)).toBe('700');
  const [cacheName] = readdirSync(path.join(xdg, 'zmigrate', 'compile-cache'));
  expect(cacheName).toMatch(/\.bin$/);
  expect(readdirSync(path.join(xdg, 'zmigrate', 'jiti')).some((f) => f.includes('0001_items'))).toBe(true);

  // A zmigrate folder writable by all there (as another user could make it in a shared folder): passed over for ~/.cache.
  const planted = temp('planted');
  mkdirSync(path.join(planted, 'zmigrate', 'compile-cache'), { recursive: true });
  chmodSync(path.join(planted, 'zmigrate'), 0o777);
  const home = temp('home');
  await help({ XDG_CACHE_HOME: planted, HOME: home });
  expect(readdirSync(path.join(planted, 'zmigrate', 'compile-cache'))).toEqual([]);
  expect(readdirSync(path.join(home, '.cache', 'zmigrate', 'compile-cache'))).toEqual([cacheName]);

  // NODE_COMPILE_CACHE that is writable by all, another user's, or a symlink: no cache at all, and nothing in it is read.
  const garbage = Buffer.from('not a cache');
  const writable = temp('writable');
  chmodSync(writable, 0o777);
  // Another user's folder can only be made by root (which the test servers' containers run as).
  const othersOwn = temp('others');
  if (process.getuid?.() === 0) chownSync(othersOwn, 65534, 65534);
  else chmodSync(othersOwn, 0o770);
  const target = temp('target');
  const link = path.join(temp('link'), 'cache');
  symlinkSync(target, link);
  for (const folder of [writable, othersOwn, target]) writeFileSync(path.join(folder, cacheName), garbage);
  for (const folder of [writable, othersOwn, link]) await help({ NODE_COMPILE_CACHE: folder });
  for (const folder of [writable, othersOwn, target]) {
    expect(readdirSync(folder)).toEqual([cacheName]);
    expect(readFileSync(path.join(folder, cacheName)).equals(garbage)).toBe(true);
  }

  // The cache file a symlink in the user's own folder: not followed, its target left alone; a file of its own replaces it.
  const own = temp('own');
  const victim = path.join(temp('victim'), 'victim.txt');
  writeFileSync(victim, 'victim');
  symlinkSync(victim, path.join(own, cacheName));
  await help({ NODE_COMPILE_CACHE: own });
  expect(readFileSync(victim, 'utf8')).toBe('victim');
  expect(lstatSync(path.join(own, cacheName)).isFile()).toBe(true);
  expect(statSync(path.join(own, cacheName)).size).toBeGreaterThan(100_000);
});

describe.each(SERVER_ENGINES)('CLI on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('plan prints the SQL of expand and contract and changes nothing', async () => {
    const dir = migrationsDir({ '0001_items.ts': CREATE });
    const before = await inspect(db);
    const plan = await spawnCli(['plan', '--dir', dir, '--url', db.url]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('-- 0001_items: expand');
    expect(plan.stdout).toMatch(/CREATE TABLE [`"][^`"]+[`"]\.[`"]items[`"]/);
    expect(plan.stdout).toContain(`${db.base}_0001_items`);
    expect(plan.stdout).toContain('-- 0001_items: contract');
    const after = await inspect(db);
    expect(after.tables).toEqual(before.tables);
    expect(after.versionSchemas).toEqual(before.versionSchemas);
    const json = await spawnCli(['plan', '--json', '--dir', dir, '--url', db.url]);
    const parsed = JSON.parse(json.stdout) as { plans: Array<{ migration: string; phase: string; statements: string[] }> };
    expect(parsed.plans.map((p) => `${p.migration}:${p.phase}`)).toEqual([
      '0001_items:expand',
      '0001_items:contract',
      '0001_items:rollback',
    ]);
  });

  test('plan shows what rollback would run, before and after expand; --phase picks phases', async () => {
    const db = await createTestDatabase(engine); // of its own: this test expands
    try {
      const dir = migrationsDir({
        '0001_items.ts': CREATE,
        '0002_longer_label.ts': migrationSource(["op.alterColumn('items', 'label', { type: 'varchar(200)', up: 'label', down: 'label' })"]),
      });
      const plan = await spawnCli(['plan', '--dir', dir, '--url', db.url]);
      const rollbackSection = plan.stdout.slice(
        plan.stdout.indexOf('-- 0001_items: rollback'),
        plan.stdout.indexOf('-- 0002_longer_label: expand'),
      );
      expect(rollbackSection).toMatch(/^-- 0001_items: rollback\n-- only if the deploy goes wrong/);
      expect(rollbackSection).toMatch(new RegExp(`DROP (SCHEMA|DATABASE) IF EXISTS [\`"]${db.base}_0001_items[\`"]`));
      expect(rollbackSection).toMatch(/DROP TABLE IF EXISTS [`"][^`"]+[`"]\.[`"]items[`"]/);

      const only = await spawnCli(['plan', '--phase', 'rollback', '--json', '--dir', dir, '--url', db.url]);
      expect(only.code).toBe(0);
      const onlyPlans = (JSON.parse(only.stdout) as { plans: Array<{ migration: string; phase: string }> }).plans;
      expect(onlyPlans.map((p) => `${p.migration}:${p.phase}`)).toEqual(['0001_items:rollback', '0002_longer_label:rollback']);
      const two = await spawnCli(['plan', '--phase', 'expand', '--phase', 'contract', '--json', '--dir', dir, '--url', db.url]);
      expect((JSON.parse(two.stdout) as { plans: Array<{ phase: string }> }).plans.map((p) => p.phase)).toEqual([
        'expand',
        'contract',
        'expand',
        'contract',
      ]);
      const bad = await spawnCli(['plan', '--phase', 'deploy', '--dir', dir, '--url', db.url]);
      expect(bad.code).toBe(2);

      // Once both are expanded, plan shows the contracts and rollbacks still to come, and runs none.
      expect(await spawnCli(['expand', '--dir', dir, '--url', db.url])).toMatchObject({
        code: 0,
        stderr: expect.not.stringContaining('error'),
      });
      const expanded = await inspect(db);
      const after = await spawnCli(['plan', '--json', '--dir', dir, '--url', db.url]);
      expect(after.stderr).toBe('');
      const afterPlans = (JSON.parse(after.stdout) as { plans: Array<{ migration: string; phase: string; statements: string[] }> }).plans;
      expect(afterPlans.map((p) => `${p.migration}:${p.phase}`)).toEqual([
        '0001_items:contract',
        '0001_items:rollback',
        '0002_longer_label:contract',
        '0002_longer_label:rollback',
      ]);
      expect(afterPlans[1].statements.join('\n')).toMatch(/DROP TABLE IF EXISTS [`"][^`"]+[`"]\.[`"]items[`"]/);
      // Contract and rollback of the type change both remove its dual-write trigger; rollback drops the new column.
      expect(expanded.triggers.length).toBeGreaterThan(0);
      for (const p of afterPlans.slice(2)) expect(p.statements.join('\n')).toContain('DROP TRIGGER IF EXISTS');
      expect(afterPlans[3].statements.join('\n')).toMatch(/DROP COLUMN (IF EXISTS )?[`"]_zm_label[`"]/);
      const unchanged = await inspect(db);
      expect([unchanged.tables, unchanged.versionSchemas, unchanged.triggers]).toEqual([
        expanded.tables,
        expanded.versionSchemas,
        expanded.triggers,
      ]);
      expect(expanded.columns('items')).toContain('_zm_label');
      // And rollback does what the plan said: the trigger, the new column and the version schema go; then the table.
      expect(await spawnCli(['rollback', '--dir', dir, '--url', db.url])).toMatchObject({
        code: 0,
        stderr: expect.not.stringContaining('error'),
      });
      const once = await inspect(db);
      expect([once.triggers, once.columns('items')]).toEqual([[], ['id', 'label']]);
      expect(once.versionSchemas).not.toContain(`${db.base}_0002_longer_label`);
      expect(await spawnCli(['rollback', '--dir', dir, '--url', db.url])).toMatchObject({
        code: 0,
        stderr: expect.not.stringContaining('error'),
      });
      const twice = await inspect(db);
      expect(twice.tables).not.toContain('items');
      expect(twice.versionSchemas).not.toContain(`${db.base}_0001_items`);
    } finally {
      await db.drop();
    }
  });

  test('plan of a phase a run left half-done shows the steps a rerun of that command runs, not "nothing to do"', async () => {
    const db = await createTestDatabase(engine); // of its own: this test expands
    try {
      // Each phase's raw SQL fails until the test creates the table it writes to.
      const dir = migrationsDir({
        '0001_items.ts': migrationSource([
          "op.createTable('items', { columns: { id: { type: 'bigint', primaryKey: true } } })",
          "op.sql({ expand: 'INSERT INTO gate_expand VALUES (1)', contract: 'INSERT INTO gate_contract VALUES (1)', rollback: 'INSERT INTO gate_rollback VALUES (1)' })",
          "op.addColumn('items', 'note', { type: 'text', nullable: true })",
        ]),
      });
      const cli = (...args: string[]) => spawnCli([...args, '--dir', dir, '--url', db.url]);
      type Plans = { plans: Array<{ migration: string; phase: string; statements: string[]; note?: string; resuming?: boolean }> };
      const halfDone = async (command: string, gate: string, phase: string) => {
        expect((await cli(command)).code).toBe(1);
        const before = await inspect(db);
        const plan = await cli('plan');
        expect(plan.code).toBe(0);
        expect(plan.stdout).not.toContain('nothing to do');
        expect(plan.stdout).toMatch(
          new RegExp(`^-- 0001_items: ${command}\n-- note: 0001_items is ${phase}: zmigrate ${command} resumes it`),
        );
        expect(plan.stdout).toContain(`INSERT INTO ${gate} VALUES (1);`);
        expect(plan.stdout).not.toContain('only if the deploy goes wrong');
        const json = JSON.parse((await cli('plan', '--json')).stdout) as Plans;
        expect(json.plans).toEqual([
          {
            migration: '0001_items',
            phase: command,
            statements: expect.arrayContaining([`INSERT INTO ${gate} VALUES (1)`]),
            note: expect.stringMatching(new RegExp(`^0001_items is ${phase}: zmigrate ${command} resumes it`)),
            resuming: true,
          },
        ]);
        // Planning ran nothing; the rerun of the command finishes the phase.
        const after = await inspect(db);
        expect([after.tables, after.columns('items'), after.versionSchemas]).toEqual([
          before.tables,
          before.columns('items'),
          before.versionSchemas,
        ]);
        await db.knex.raw(`CREATE TABLE ${gate} (n integer)`);
        expect((await cli(command)).code).toBe(0);
        return json.plans[0];
      };
      // Stopped at the raw SQL: the steps after it are planned once it has run, which the note says.
      const expand = await halfDone('expand', 'gate_expand', 'expanding');
      expect(expand.statements).toHaveLength(1);
      expect(expand.note).toContain('the operations after its raw SQL');
      expect((await inspect(db)).columns('items')).toEqual(['id', 'note']);
      // Rollback plans every step when it starts: the rest of it is shown, the column's drop among them.
      const rollback = await halfDone('rollback', 'gate_rollback', 'rolling back');
      expect(rollback.statements.join('\n')).toMatch(/DROP TABLE IF EXISTS [`"][^`"]+[`"]\.[`"]items[`"]/);
      expect((await inspect(db)).tables).not.toContain('items');
      expect((await cli('expand')).code).toBe(0);
      await halfDone('contract', 'gate_contract', 'contracting');
      expect(JSON.parse((await cli('status', '--json')).stdout).migrations[0].phase).toBe('complete');
    } finally {
      await db.drop();
    }
  });

  test('a config file gives url and dir; flags win over it', async () => {
    const dir = migrationsDir({ '0001_items.ts': CREATE });
    const root = path.dirname(dir);
    writeFileSync(path.join(root, 'zmigrate.config.json'), JSON.stringify({ url: db.url, dir: './migrations' }));
    const status = await spawnCli(['status', '--json'], { cwd: root });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).migrations).toEqual([expect.objectContaining({ name: '0001_items', phase: expect.any(String) })]);

    writeFileSync(
      path.join(root, 'zmigrate.config.json'),
      JSON.stringify({ url: 'postgres://nobody@127.0.0.1:1/none', dir: './migrations' }),
    );
    const flagWins = await spawnCli(['status', '--json', '--url', db.url], { cwd: root });
    expect(flagWins.code).toBe(0);

    writeFileSync(path.join(root, 'zmigrate.config.json'), '{ "url": ');
    const broken = await spawnCli(['status'], { cwd: root });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: cannot read config file zmigrate\.config\.json/);

    writeFileSync(path.join(root, 'zmigrate.config.json'), JSON.stringify({ url: db.url, dri: 'x' }));
    const unknown = await spawnCli(['status'], { cwd: root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown setting "dri"');
  });

  test('a TypeScript config file works too', async () => {
    const dir = migrationsDir({ '0001_items.ts': CREATE });
    const root = path.dirname(dir);
    writeFileSync(
      path.join(root, 'zmigrate.config.ts'),
      `const config: { url: string } = { url: ${JSON.stringify(db.url)} };\nexport default config;\n`,
    );
    const status = await spawnCli(['status', '--json'], { cwd: root });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).migrations[0].name).toBe('0001_items');
  });

  test('new scaffolds a TypeScript file that expand accepts', async () => {
    const dir = migrationsDir({});
    const created = await spawnCli(['new', 'add_things', '--dir', dir]);
    expect(created.code).toBe(0);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{14}_add_things\.ts$/);
    expect(created.stdout.trim()).toBe(path.join(dir, files[0]));
    const expand = await spawnCli(['expand', '--dir', dir, '--url', db.url]);
    expect(expand.code).toBe(0);
    const status = JSON.parse((await spawnCli(['status', '--json', '--dir', dir, '--url', db.url])).stdout);
    expect(status.migrations.find((m: { name: string }) => m.name.endsWith('_add_things')).phase).toBe('expanded');
    await spawnCli(['rollback', '--dir', dir, '--url', db.url]);

    const bad = await spawnCli(['new', 'Bad-Name', '--dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must match [a-z0-9_]+');
  });

  test('status --check gives CI a code: 3 pending, 4 awaiting contract, 0 complete, 5 half-done', async () => {
    const fresh = await createTestDatabase(engine);
    try {
      const dir = migrationsDir({ '0001_items.ts': CREATE });
      const check = async () => (await spawnCli(['status', '--check', '--dir', dir, '--url', fresh.url])).code;
      expect(await check()).toBe(3);
      expect((await spawnCli(['status', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      expect((await spawnCli(['expand', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      expect(await check()).toBe(4);
      expect((await spawnCli(['contract', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      expect(await check()).toBe(0);
      writeFileSync(path.join(dir, '0002_bad.ts'), migrationSource(["op.sql({ expand: 'SELECT no_such_column FROM items' })"]));
      expect((await spawnCli(['expand', '--dir', dir, '--url', fresh.url])).code).toBe(1);
      expect(await check()).toBe(5);
    } finally {
      await fresh.drop();
    }
  });

  test('status --check: a rolled-back migration whose file is then removed does not hold the gate; a live one does', async () => {
    const fresh = await createTestDatabase(engine);
    try {
      const dir = migrationsDir({ '0001_items.ts': CREATE });
      const cli = (...args: string[]) => spawnCli([...args, '--dir', dir, '--url', fresh.url]);
      const check = async () => (await cli('status', '--check')).code;
      for (const command of ['expand', 'contract']) expect((await cli(command)).code).toBe(0);
      const second = path.join(dir, '0002_note.ts');
      writeFileSync(second, migrationSource(["op.addColumn('items', 'note', { type: 'text', nullable: true })"]));
      expect((await cli('expand')).code).toBe(0);
      expect((await cli('rollback')).code).toBe(0);
      rmSync(second);
      expect(await check()).toBe(0);
      const status = JSON.parse((await cli('status', '--json')).stdout) as {
        migrations: Array<{ name: string; phase: string; missingFile: boolean }>;
      };
      expect(status.migrations.map(({ name, phase, missingFile }) => ({ name, phase, missingFile }))).toEqual([
        { name: '0001_items', phase: 'complete', missingFile: false },
        { name: '0002_note', phase: 'rolled back', missingFile: true },
      ]);
      // The same file back and expanded, then gone: a live migration without its file is a problem.
      writeFileSync(second, migrationSource(["op.addColumn('items', 'note', { type: 'text', nullable: true })"]));
      expect((await cli('expand')).code).toBe(0);
      expect(await check()).toBe(4);
      rmSync(second);
      expect(await check()).toBe(5);
    } finally {
      await fresh.drop();
    }
  });

  test('a login whose password is also its user, database and schema name: results print as they are, a wrong password never', async () => {
    const fresh = await createTestDatabase(engine);
    // The test database's own name serves as user, password and (on PostgreSQL) base schema: shop:shop@db/shop.
    const name = new URL(fresh.url).pathname.slice(1);
    const admin = fresh.knex;
    try {
      if (engine === 'postgres') {
        await admin.raw(`CREATE ROLE "${name}" LOGIN PASSWORD '${name}'`);
        await admin.raw(`ALTER DATABASE "${name}" OWNER TO "${name}"`);
        await admin.raw(`CREATE SCHEMA "${name}" AUTHORIZATION "${name}"`);
      } else {
        await admin.raw(`CREATE USER '${name}'@'%' IDENTIFIED BY '${name}'`);
        await admin.raw(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO '${name}'@'%'`);
        await admin.raw(`GRANT ALL PRIVILEGES ON \`${name.replace(/_/g, '\\_')}\\_%\`.* TO '${name}'@'%'`);
      }
      const url = new URL(fresh.url);
      url.username = name;
      url.password = name;
      if (engine === 'postgres') url.searchParams.set('schema', name);
      const dir = migrationsDir({ '0001_items.ts': CREATE });
      const cli = (...args: string[]) => spawnCli([...args, '--dir', dir, '--url', url.toString()]);
      const expand = await cli('expand');
      expect({ code: expand.code, stdout: expand.stdout }).toEqual({
        code: 0,
        stdout: `expanded 0001_items; new app version schema: ${name}_0001_items\n`,
      });
      expect(expand.stderr).toContain(`create version schema ${name}_0001_items`);
      const schema = await cli('schema');
      expect({ code: schema.code, stdout: schema.stdout }).toEqual({ code: 0, stdout: `${name}_0001_items\n` });
      const status = await cli('status', '--json');
      expect(JSON.parse(status.stdout).migrations).toEqual([
        expect.objectContaining({ name: '0001_items', phase: 'expanded', versionSchema: `${name}_0001_items`, backfilledRows: null }),
      ]);
      // lint reads only the URL's scheme: "postgres" stays "postgres" with the password postgres.
      const lint = await spawnCli(['lint', '--json', '--dir', dir, '--url', `${engine}://${engine}:${engine}@127.0.0.1:1/x`]);
      expect({ code: lint.code, engine: JSON.parse(lint.stdout).engine }).toEqual({ code: 0, engine });

      // A password the server refuses (MySQL) or a database it does not have (PostgreSQL trusts local logins):
      // the error names the URL without the password.
      const wrong = new URL(url);
      wrong.password = `Wrong-${name}-Secret`;
      if (engine === 'postgres') wrong.pathname = `/${name}_missing`;
      const refused = await spawnCli(['status', '--dir', dir, '--url', wrong.toString()]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        engine === 'postgres'
          ? new RegExp(
              `^error: the database in postgres://${name}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/${name}_missing\\?schema=${name} does not exist`,
            )
          : new RegExp(`^error: authentication failed for mysql://${name}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/${name}: Access denied`),
      );
      expect(refused.stdout + refused.stderr).not.toMatch(/Wrong|Secret/);
    } finally {
      await fresh.drop();
      // The role owned the dropped database; the suite's database, as the admin, drops it.
      await db.knex.raw(engine === 'postgres' ? `DROP ROLE IF EXISTS "${name}"` : `DROP USER IF EXISTS '${name}'@'%'`);
    }
  });

  test('a knexfile gives the connection (--knexfile, --env)', async () => {
    const dir = migrationsDir({ '0001_items.ts': CREATE });
    const root = path.dirname(dir);
    const u = new URL(db.url);
    const connection =
      engine === 'postgres'
        ? { connectionString: db.url }
        : {
            host: u.hostname,
            port: Number(u.port),
            user: decodeURIComponent(u.username),
            password: decodeURIComponent(u.password),
            database: db.base,
          };
    writeFileSync(
      path.join(root, 'knexfile.js'),
      `module.exports = {
  development: { client: 'sqlite3', connection: { filename: 'dev.db' } },
  production: { client: ${JSON.stringify(engine === 'postgres' ? 'pg' : 'mysql2')}, connection: ${JSON.stringify(connection)} },
};
`,
    );
    const status = await spawnCli(['status', '--json', '--knexfile', 'knexfile.js', '--env', 'production'], { cwd: root });
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout).migrations[0].name).toBe('0001_items');
    const wrongEnv = await spawnCli(['status', '--knexfile', 'knexfile.js', '--env', 'staging'], { cwd: root });
    expect(wrongEnv.code).toBe(2);
    expect(wrongEnv.stderr).toContain('has no environment "staging" (it has development, production)');
    const unsupported = await spawnCli(['status', '--knexfile', 'knexfile.js', '--env', 'development'], { cwd: root });
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toContain('client "sqlite3" is not one zmigrate supports');
    // What a URL says already is no setting lost: no TLS (the development half of `ssl: production ? {…} : false`),
    // the search path of the base schema.
    writeFileSync(
      path.join(root, 'knexfile.js'),
      `module.exports = { client: ${JSON.stringify(engine === 'postgres' ? 'pg' : 'mysql2')}, connection: ${JSON.stringify({ ...connection, ssl: false })}, searchPath: ['public'] };\n`,
    );
    const plain = await spawnCli(['status', '--json', '--knexfile', 'knexfile.js'], { cwd: root });
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
  });

  test('an IPv6 host, in brackets in a URL or bare in a knexfile, is connected to', async () => {
    // The test servers listen on 127.0.0.1 only: a proxy on ::1 stands in front.
    const target = new URL(db.url);
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(target.port), target.hostname);
      client.pipe(server).pipe(client);
      const end = () => (client.destroy(), server.destroy());
      client.on('error', end).on('close', end);
      server.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve, reject) => proxy.once('error', reject).listen(0, '::1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const dir = migrationsDir({ '0001_items.ts': CREATE });
      const url = new URL(db.url);
      url.hostname = '[::1]';
      url.port = String(port);
      const status = await spawnCli(['status', '--json', '--dir', dir, '--url', url.toString()]);
      expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(status.stdout).migrations[0].name).toBe('0001_items');

      const root = path.dirname(dir);
      const connection = { host: '::1', port, user: decodeURIComponent(target.username), database: target.pathname.slice(1) };
      const client = engine === 'postgres' ? 'pg' : 'mysql2';
      writeFileSync(
        path.join(root, 'knexfile.js'),
        `module.exports = { client: '${client}', connection: ${JSON.stringify(connection)} };\n`,
      );
      const fromKnexfile = await spawnCli(['status', '--json', '--dir', dir, '--knexfile', 'knexfile.js'], { cwd: root });
      expect({ code: fromKnexfile.code, stderr: fromKnexfile.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(fromKnexfile.stdout).migrations[0].name).toBe('0001_items');
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  test('knexfile settings a URL cannot carry (TLS, a socket, a search path) are refused, not dropped: exit 2, one line', async () => {
    const root = path.dirname(migrationsDir({ '0001_items.ts': CREATE }));
    const client = engine === 'postgres' ? 'pg' : 'mysql2';
    const cases: Array<[string, string]> = [
      [`{ client: '${client}', connection: { host: '127.0.0.1', database: 'app', ssl: { rejectUnauthorized: true } } }`, 'connection.ssl'],
      [`{ client: '${client}', connection: { connectionString: 'postgres://127.0.0.1/app', ssl: true } }`, 'connection.ssl'],
      [`{ client: '${client}', connection: { socketPath: '/run/mysqld/mysqld.sock', database: 'app' } }`, 'connection.socketPath'],
      [`{ client: '${client}', connection: { host: '/var/run/postgresql', database: 'app' } }`, 'connection.host \\(a socket folder\\)'],
      // knex reads searchPath on PostgreSQL only.
      ...(engine === 'postgres'
        ? ([[`{ client: '${client}', connection: { host: '127.0.0.1', database: 'app' }, searchPath: ['shop'] }`, 'searchPath']] as Array<
            [string, string]
          >)
        : []),
    ];
    for (const [config, field] of cases) {
      writeFileSync(path.join(root, 'knexfile.js'), `module.exports = ${config};\n`);
      const result = await spawnCli(['status', '--dir', 'migrations', '--knexfile', 'knexfile.js'], { cwd: root });
      expect({ code: result.code, stdout: result.stdout, lines: result.stderr.trim().split('\n').length }).toEqual({
        code: 2,
        stdout: '',
        lines: 1,
      });
      expect(result.stderr).toMatch(new RegExp(`^error: knexfile knexfile\\.js: zmigrate cannot take ${field} from a knexfile`));
    }
  });

  test('new --op scaffolds from a template per operation', async () => {
    const dir = migrationsDir({});
    const created = await spawnCli(['new', 'rename_title', '--op', 'rename-column', '--dir', dir]);
    expect(created.code).toBe(0);
    expect(readFileSync(created.stdout.trim(), 'utf8')).toContain("op.renameColumn('things', 'name', 'title')");
    const unknown = await spawnCli(['new', 'x', '--op', 'nope', '--dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown --op "nope"');
  });

  test('schema prints only the name; before any expand it fails with exit 2', async () => {
    const fresh = await createTestDatabase(engine);
    try {
      const dir = migrationsDir({ '0001_items.ts': CREATE });
      const none = await spawnCli(['schema', '--dir', dir, '--url', fresh.url]);
      expect(none.code).toBe(2);
      expect(none.stdout).toBe('');
      expect((await spawnCli(['expand', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      const schema = await spawnCli(['schema', '--dir', dir, '--url', fresh.url]);
      expect(schema.code).toBe(0);
      expect(schema.stdout).toBe(`${fresh.base}_0001_items\n`);
    } finally {
      await fresh.drop();
    }
  });

  test('schema reads the state alone (no migrations folder needed) and never names a version schema still being made', async () => {
    const fresh = await createTestDatabase(engine);
    try {
      const second = migrationSource([`op.createTable('more', { columns: { id: { type: 'bigint', primaryKey: true } } })`]);
      const dir = migrationsDir({ '0001_items.ts': CREATE, '0002_more.ts': second });
      expect((await spawnCli(['expand', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      // A deploy step without the migrations (nor the modules they import).
      const elsewhere = path.join(os.tmpdir(), `zm-no-migrations-${process.pid}`);
      expect(await spawnCli(['schema', '--dir', elsewhere, '--url', fresh.url])).toMatchObject({
        code: 0,
        stdout: `${fresh.base}_0002_more\n`,
      });
      // An expand stopped after recording 0002's schema name, before its phase said expanded (the views are made
      // one by one in between): the name is not handed to a deploy.
      const state = engine === 'mysql' ? '`zmigrate_migrations`' : '"zmigrate"."migrations"';
      await fresh.knex.raw(`UPDATE ${state} SET phase = 'expanding' WHERE name = '0002_more'`);
      expect(await spawnCli(['schema', '--dir', dir, '--url', fresh.url])).toMatchObject({ code: 0, stdout: `${fresh.base}_0001_items\n` });
    } finally {
      await fresh.drop();
    }
  });

  test("schema prints the version schema of the migration last in file-name order, whatever the database's collation", async () => {
    // Migrations sort by code point (`0002_b` before `0002a` and after `00020`); a database collation may sort them the other way.
    const fresh = await createTestDatabase(engine, { localeCollation: true });
    try {
      const [first, last] = engine === 'postgres' ? ['00020', '0002_b'] : ['0002_b', '0002a'];
      const table = (name: string) =>
        migrationSource([`op.createTable('t_${name}', { columns: { id: { type: 'bigint', primaryKey: true } } })`]);
      const dir = migrationsDir({ [`${first}.ts`]: table(first), [`${last}.ts`]: table(last) });
      const expand = await spawnCli(['expand', '--dir', dir, '--url', fresh.url]);
      expect([expand.code, expand.stdout]).toEqual([0, `expanded ${first}, ${last}; new app version schema: ${fresh.base}_${last}\n`]);
      expect(await spawnCli(['schema', '--dir', dir, '--url', fresh.url])).toMatchObject({ code: 0, stdout: `${fresh.base}_${last}\n` });
      expect((await spawnCli(['contract', '--dir', dir, '--url', fresh.url])).code).toBe(0);
      expect(await spawnCli(['schema', '--dir', dir, '--url', fresh.url])).toMatchObject({ code: 0, stdout: `${fresh.base}_${last}\n` });
    } finally {
      await fresh.drop();
    }
  });
});

describe('colours', () => {
  const dir = migrationsDir({ '0001_items.ts': CREATE });
  const ESC = '\u001b[';

  test('no colour codes when output is not a terminal', async () => {
    const result = await spawnCli(['status', '--dir', dir, '--url', 'not a url'], { env: { NO_COLOR: undefined } });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain(ESC);
  });

  // `script` gives the CLI a real terminal.
  const onTty = (env: Record<string, string>) =>
    execFileSync('script', ['-qec', `${process.execPath} ${BIN} status --dir ${dir} --url 'not a url'`, '/dev/null'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    }).toString();

  test('colours on a terminal, none with NO_COLOR', () => {
    const run = (env: Record<string, string>) => {
      try {
        return onTty(env);
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? '');
      }
    };
    expect(run({ TERM: 'xterm' })).toContain(ESC);
    expect(run({ TERM: 'xterm', NO_COLOR: '1' })).not.toContain(ESC);
  });

  test('in a terminal, errors sent to a file have no colour codes, and errors on the terminal do when results go to a file', () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-colours-'));
    const log = path.join(folder, 'stderr.log');
    const results = path.join(folder, 'stdout.txt');
    const onTerminal = (redirect: string) => {
      try {
        return execFileSync(
          'script',
          ['-qec', `${process.execPath} ${BIN} status --dir ${dir} --url 'not a url' ${redirect}`, '/dev/null'],
          { env: { ...process.env, TERM: 'xterm', NO_COLOR: undefined }, encoding: 'utf8' },
        ).toString();
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? '');
      }
    };
    try {
      onTerminal(`2> ${log}`);
      expect(readFileSync(log, 'utf8')).toMatch(/^error: malformed database URL/);
      const terminal = onTerminal(`> ${results}`);
      expect(terminal).toContain(`${ESC}31merror:`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
