/**
 * Issue 8: migrations with their own TypeScript phases and backfill jobs.
 * A custom expand/contract/rollback cycle with both app versions writing; a
 * job over 100k rows killed half-way that resumes without redoing a batch;
 * `plan` showing what custom steps would run, without running them.
 */
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { rowsOf } from './support/apps';
import { inspect } from './support/inspect';
import { kill9, startCli } from './support/process';

const EXAMPLES = path.resolve(__dirname, '..', 'migrations-examples');
const JOB_ROWS = 100_000;

describe.each(SERVER_ENGINES)('custom phases on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const pg = engine === 'postgres';

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({});
  });
  afterEach(async () => {
    await db.drop();
  });

  /** 0001_first_names.ts: `operation`, and a job that sets each person's first_name from full_name where it is NULL, after `before`. */
  function firstNamesJob(operation: string, before = ''): void {
    writeFileSync(
      path.join(dir, '0001_first_names.ts'),
      `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [${operation}],
  backfill: op.backfill('people', {
    where: 'first_name IS NULL',
    batch: async (rows, { knex, ddl, quote }) => {
      ${before}
      for (const row of rows) await knex('people').where({ id: row.id }).update({ first_name: String(row.full_name).split(' ')[0] });
    },
  }),
});
`,
    );
  }

  function useExample(name: string, files: string[]): void {
    for (const file of files) cpSync(path.join(EXAMPLES, name, file), path.join(dir, file));
  }

  test('custom expand, a backfill job, both apps writing, then contract catches up the old app', async () => {
    useExample('custom-email', ['0001_create_users.ts']);
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    await db.knex('users').insert(Array.from({ length: 500 }, (_, i) => ({ id: i + 1, email: `  User${i}@Example.COM ` })));
    useExample('custom-email', ['0002_normalize_email.ts']);

    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/ALTER TABLE [`"]users[`"] ADD COLUMN IF NOT EXISTS [`"]email_normalized[`"] varchar\(200\)/);
    expect(plan.stdout).toContain('TypeScript backfill job over users');
    expect((await inspect(db)).columns('users')).toEqual(['id', 'email']);

    expect((await cli('expand')).code).toBe(0);
    const schema = `${db.base}_0002_normalize_email`;
    const v2 = db.versionKnex(schema);
    // Both versions write: the old app knows nothing of the new column, the new app fills it.
    await db.knex('users').insert({ id: 1001, email: 'Old.App@Example.com' });
    await v2('users').insert({ id: 1002, email: 'New@example.com', email_normalized: 'new@example.com' });
    expect(await v2('users').where({ id: 7 }).first('email_normalized')).toEqual({ email_normalized: 'user6@example.com' });
    expect(await v2('users').where({ id: 1001 }).first('email_normalized')).toEqual({ email_normalized: null });

    expect((await cli('contract')).code).toBe(0);
    const missing = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM users WHERE email_normalized IS NULL'));
    expect(Number(missing[0].n)).toBe(0);
    expect(await v2('users').where({ id: 1001 }).first('email_normalized')).toEqual({ email_normalized: 'old.app@example.com' });
  });

  test('zmigrate backfill runs the backfill job again over the rows the old app wrote since expand', async () => {
    useExample('custom-email', ['0001_create_users.ts']);
    expect((await cli('expand')).code).toBe(0);
    await db.knex('users').insert({ id: 1, email: ' A@B.C ' });
    useExample('custom-email', ['0002_normalize_email.ts']);
    expect((await cli('expand')).code).toBe(0);
    await db.knex('users').insert({ id: 2, email: 'Old.App@Example.com' });

    const again = await cli('backfill');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0002_normalize_email: backfilled\n');
    const rows = await db.knex('users').select('id', 'email_normalized').orderBy('id');
    expect(rows.map((r) => [Number(r.id), r.email_normalized])).toEqual([
      [1, 'a@b.c'],
      [2, 'old.app@example.com'],
    ]);
  });

  test('zmigrate backfill that finishes a failed expand whose only backfill is a job says backfilled, not verified', async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, full_name varchar(200) NOT NULL, first_name varchar(100) NULL)');
    await db.knex.raw('CREATE TABLE stop_job (id integer PRIMARY KEY)');
    await db.knex('people').insert([
      { id: 1, full_name: 'Ann Lee' },
      { id: 2, full_name: 'Cy Young' },
    ]);
    await db.knex('stop_job').insert({ id: 1 });
    firstNamesJob('', "if ((await knex('stop_job').select('id')).length > 0) throw new Error('the job stops here');");
    const failed = await cli('expand');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the job stops here');
    await db.knex('stop_job').delete();

    const resumed = await cli('backfill');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('0001_first_names: backfilled\n');
    const people = rowsOf<{ id: number | string; first_name: string }>(await db.knex.raw('SELECT id, first_name FROM people ORDER BY id'));
    expect(people.map((p) => [Number(p.id), p.first_name])).toEqual([
      [1, 'Ann'],
      [2, 'Cy'],
    ]);
  });

  test('plan notes a custom phase that fails on the recording knex, and plans the rest', async () => {
    writeFileSync(
      path.join(dir, '0001_orders.ts'),
      `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [op.createTable('orders', { columns: { id: { type: 'bigint', primaryKey: true } } })],
  contract: async ({ knex, ddl, quote }) => {
    const [row] = await knex('orders').count({ n: '*' });
    if (Number(row.n) > 0) await ddl(\`CREATE INDEX orders_id_idx ON \${quote('orders')} (id)\`);
  },
});
`,
    );
    writeFileSync(
      path.join(dir, '0002_priority.ts'),
      migrationSource(["op.addColumn('orders', 'priority', { type: 'integer', nullable: true })"]),
    );
    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(
      "-- 0001_orders: contract\n-- note: the TypeScript contract phase of 0001_orders is not shown: it failed on plan's recording knex, which runs nothing and returns no rows (Cannot read properties of undefined (reading 'n'))\n",
    );
    expect(plan.stdout).toMatch(/-- 0002_priority: expand\n[^]*ADD COLUMN [`"]priority[`"] integer/);
    const json = await cli('plan', '--json');
    expect(json.code).toBe(0);
    const plans = (JSON.parse(json.stdout) as { plans: Array<{ migration: string; phase: string; note?: string }> }).plans;
    expect(plans.map((p) => [p.migration, p.phase, Boolean(p.note)])).toEqual([
      ['0001_orders', 'expand', false],
      ['0001_orders', 'contract', true],
      ['0001_orders', 'rollback', false],
      ['0002_priority', 'expand', false],
      ['0002_priority', 'contract', false],
      ['0002_priority', 'rollback', false],
    ]);
  });

  test('custom rollback undoes the custom expand', async () => {
    useExample('custom-email', ['0001_create_users.ts']);
    expect((await cli('expand')).code).toBe(0);
    await db.knex('users').insert({ id: 1, email: 'A@B.C' });
    const before = await inspect(db);
    useExample('custom-email', ['0002_normalize_email.ts']);
    expect((await cli('expand')).code).toBe(0);
    expect((await inspect(db)).columns('users')).toContain('email_normalized');
    const rollback = await cli('rollback');
    expect(rollback.code).toBe(0);
    const after = await inspect(db);
    expect(after.columns('users')).toEqual(before.columns('users'));
    expect(after.versionSchemas).toEqual(before.versionSchemas);
    expect((await db.knex('users').select('id', 'email')).map((r) => [Number(r.id), r.email])).toEqual([[1, 'A@B.C']]);
  });

  test('a job batch that meets a row an app holds rolls back after the lock timeout and runs again once the app lets go', async () => {
    await db.knex.raw('CREATE TABLE tasks (id integer PRIMARY KEY, title varchar(40) NOT NULL, slug varchar(40))');
    await db.knex.raw(
      pg
        ? "INSERT INTO tasks (id, title) SELECT g, 'Task ' || g FROM generate_series(1, 20000) g"
        : "INSERT INTO tasks (id, title) SELECT seq, CONCAT('Task ', seq) FROM seq_1_to_20000",
    );
    writeFileSync(
      path.join(dir, '0001_slugs.ts'),
      `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  backfill: op.backfill('tasks', {
    columns: ['title'],
    batchSize: 500,
    batch: async (rows, { knex }) => {
      await knex('tasks').whereIn('id', rows.map((r) => r.id)).update({ slug: knex.raw('LOWER(REPLACE(title, ?, ?))', [' ', '-']) });
    },
  }),
  expand: async () => {},
});
`,
    );
    // Paced batches: the job is far from the held row when the app takes it.
    const running = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--batch-delay', '30'], { ZMIGRATE_DATABASE_URL: db.url });
    await running.waitForStderr(/backfill job on tasks/);
    const trx = await db.knex.transaction();
    try {
      await trx('tasks').where({ id: 19_900 }).update({ title: 'Held Task' });
      // MariaDB's lock wait is stopped at the lock timeout (where innodb_lock_wait_timeout has whole seconds only).
      await running.waitForStderr(
        pg
          ? /lock not granted in time for a batch of tasks; retry 1\/10 in \d+ ms/
          : /lock not granted in time for a batch of tasks \(stopped after \d+ ms, waiting for a row lock\); retry 1\/10 in \d+ ms/,
      );
    } finally {
      await trx.commit();
    }
    const result = await running.done;
    expect(result.code).toBe(0);
    const slugs = rowsOf<{ id: number; slug: string | null }>(
      await db.knex.raw('SELECT id, slug FROM tasks WHERE id IN (1, 19900, 20000) ORDER BY id'),
    );
    expect(slugs).toEqual([
      { id: 1, slug: 'task-1' },
      { id: 19900, slug: 'held-task' },
      { id: 20000, slug: 'task-20000' },
    ]);
    const missing = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM tasks WHERE slug IS NULL'));
    expect(Number(missing[0].n)).toBe(0);
  });

  test("a row the new app writes after contract's job pass read it keeps the app's value", async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, full_name varchar(200) NOT NULL)');
    await db.knex('people').insert([
      { id: 1, full_name: 'Ann Lee' },
      { id: 2, full_name: 'Cy Young' },
    ]);
    // The job's batch, once it has read person 1001, says so and waits for a gate the test holds: a lock it
    // only tries for, so that neither the lock timeout nor the MariaDB watch on row-lock waits ends the wait.
    const gateLock = `${db.base}_gate`;
    const tryGate = pg ? `SELECT pg_try_advisory_xact_lock(hashtext('${gateLock}')) AS open` : `SELECT GET_LOCK('${gateLock}', 0) AS open`;
    writeFileSync(
      path.join(dir, '0001_split_name.ts'),
      `import { defineMigration, op } from 'zmigrate';
const first = (r: unknown) => (Array.isArray(r) ? r[0][0] : (r as { rows: Array<Record<string, unknown>> }).rows[0]);
export default defineMigration({
  operations: [op.addColumn('people', 'first_name', { type: 'varchar(100)', nullable: true })],
  backfill: op.backfill('people', {
    columns: ['full_name'],
    where: 'first_name IS NULL',
    batch: async (rows, { knex, log }) => {
      if (rows.some((r) => Number(r.id) === 1001)) {
        log('the job has read person 1001');
        while (!first(await knex.raw(${JSON.stringify(tryGate)})).open) await new Promise((r) => setTimeout(r, 20));
        ${pg ? '' : `await knex.raw("SELECT RELEASE_LOCK('${gateLock}')");`}
      }
      for (const row of rows) {
        await knex('people').where({ id: row.id }).update({ first_name: String(row.full_name).split(' ')[0] });
      }
    },
  }),
});
`,
    );
    expect((await cli('expand')).code).toBe(0);
    // The old app adds a person after expand: contract's last pass of the job is to fill it.
    await db.knex('people').insert({ id: 1001, full_name: 'Bob Smith' });

    const gate = await db.knex.transaction();
    const app = await db.versionKnex(`${db.base}_0001_split_name`).transaction();
    try {
      await gate.raw(pg ? 'SELECT pg_advisory_xact_lock(hashtext(?))' : 'SELECT GET_LOCK(?, 10)', [gateLock]);
      const running = startCli(['contract', '--dir', dir], { ZMIGRATE_DATABASE_URL: db.url });
      await running.waitForStderr(/the job has read person 1001/);

      // The new app names Bob while the job's batch holds what it read of him.
      const [session] = rowsOf<{ id: number | string }>(
        await app.raw(pg ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id'),
      );
      let written = false;
      // A promise, run once (awaiting the query builder itself would run it again).
      const naming = Promise.resolve(app('people').where({ id: 1001 }).update({ first_name: 'Robert' }));
      naming.then(
        () => (written = true),
        () => undefined,
      );
      const waitsForLock = async () =>
        Number(
          rowsOf<{ n: number | string }>(
            await db.knex.raw(
              pg
                ? "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid = ? AND wait_event_type = 'Lock'"
                : "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
              [Number(session.id)],
            ),
          )[0].n,
        ) > 0;
      // Either the app's write waits for the batch's row lock, or it went through at once and commits before the job goes on.
      while (!written && !(await waitsForLock())) await new Promise((r) => setTimeout(r, 20));
      if (written) await app.commit();
      await (pg ? gate.commit() : gate.raw('SELECT RELEASE_LOCK(?)', [gateLock]).then(() => gate.commit()));
      await naming;
      if (!app.isCompleted()) await app.commit();
      expect((await running.done).code).toBe(0);
    } finally {
      if (!gate.isCompleted()) await gate.rollback();
      if (!app.isCompleted()) await app.rollback();
    }
    const people = rowsOf<{ id: number | string; first_name: string }>(await db.knex.raw('SELECT id, first_name FROM people ORDER BY id'));
    expect(people.map((p) => [Number(p.id), p.first_name])).toEqual([
      [1, 'Ann'],
      [2, 'Cy'],
      [1001, 'Robert'],
    ]);
  });

  test("an app's open transaction on a row the job has nothing to do for does not hold the job up", async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, full_name varchar(200) NOT NULL, first_name varchar(100) NULL)');
    await db.knex('people').insert([
      { id: 1, full_name: 'Ann Lee' },
      { id: 2, full_name: 'Cy Young', first_name: 'Cyrus' },
      { id: 3, full_name: 'Di Fox' },
    ]);
    firstNamesJob("op.addColumn('people', 'note', { type: 'text', nullable: true })");
    expect((await cli('expand')).code).toBe(0);
    // The old app adds a person; `zmigrate backfill` runs the job again for it while another app holds person 2,
    // filled already, in a transaction that outlasts every lock timeout of the run.
    await db.knex('people').insert({ id: 4, full_name: 'Ed Hall' });
    const app = await db.knex.transaction();
    try {
      await app('people').where({ id: 2 }).update({ full_name: 'Cy Young Jr' });
      const backfill = await cli('backfill', '--lock-timeout', '300', '--lock-retries', '1');
      expect(outcome(backfill)).toEqual({
        code: 0,
        errors: [],
      });
    } finally {
      await app.rollback();
    }
    const people = rowsOf<{ id: number | string; first_name: string }>(await db.knex.raw('SELECT id, first_name FROM people ORDER BY id'));
    expect(people.map((p) => [Number(p.id), p.first_name])).toEqual([
      [1, 'Ann'],
      [2, 'Cyrus'],
      [3, 'Di'],
      [4, 'Ed'],
    ]);
  });

  test("ddl() in a job's batch: on PostgreSQL a lock wait that runs out retries the whole batch; on MariaDB, which would commit the batch, it is refused", async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, full_name varchar(200) NOT NULL)');
    await db.knex.raw('CREATE TABLE side (id integer PRIMARY KEY, note varchar(20))');
    await db.knex('people').insert([
      { id: 1, full_name: 'Ann Lee' },
      { id: 2, full_name: 'Cy Young' },
    ]);
    await db.knex('side').insert({ id: 1, note: 'a' });
    firstNamesJob(
      "op.addColumn('people', 'first_name', { type: 'varchar(100)', nullable: true })",
      "await ddl(`CREATE INDEX ${quote('side_note')} ON ${quote('side')} (${quote('note')})`);",
    );
    if (!pg) {
      const refused = await cli('expand');
      expect(outcome(refused)).toEqual({
        code: 2,
        errors: [expect.stringMatching(/^error: 0001_first_names: ddl\(\) cannot run inside a backfill job's batch on MySQL\/MariaDB/)],
      });
      expect(rowsOf(await db.knex.raw('SELECT COUNT(*) AS n FROM people WHERE first_name IS NOT NULL'))).toEqual([{ n: 0 }]);
      return;
    }
    // An app's open transaction that wrote `side` keeps the index build waiting past the lock timeout once.
    const app = await db.knex.transaction();
    let run: ReturnType<typeof startCli>;
    try {
      await app('side').where({ id: 1 }).update({ note: 'b' });
      run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
      await run.waitForStderr(/lock not granted in time for a batch of people; retry 1\//);
    } finally {
      await app.commit();
    }
    expect(outcome(await run.done)).toEqual({ code: 0, errors: [] });
    const people = rowsOf<{ id: number | string; first_name: string }>(await db.knex.raw('SELECT id, first_name FROM people ORDER BY id'));
    expect(people.map((p) => [Number(p.id), p.first_name])).toEqual([
      [1, 'Ann'],
      [2, 'Cy'],
    ]);
    expect(rowsOf(await db.knex.raw("SELECT COUNT(*)::int AS n FROM pg_indexes WHERE indexname = 'side_note'"))).toEqual([{ n: 1 }]);
  });

  test('a job over 100k rows, killed half-way, resumes without redoing a finished batch', async () => {
    await db.knex.raw('CREATE TABLE items (id integer PRIMARY KEY, label varchar(40) NOT NULL, label_hash varchar(64))');
    await db.knex.raw('CREATE TABLE job_batches (first_id integer PRIMARY KEY, rows_done integer NOT NULL)');
    await db.knex.raw(
      pg
        ? "INSERT INTO items (id, label) SELECT g, 'item ' || g FROM generate_series(1, ?) g"
        : `INSERT INTO items (id, label) SELECT seq, CONCAT('item ', seq) FROM seq_1_to_${JOB_ROWS}`,
      pg ? [JOB_ROWS] : [],
    );
    writeFileSync(
      path.join(dir, '0001_hash_labels.ts'),
      `import { createHash } from 'node:crypto';
import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  backfill: op.backfill('items', {
    columns: ['label'],
    batchSize: 1000,
    batch: async (rows, { knex }) => {
      // One row per batch call, written in the batch's own transaction: a redone batch would collide.
      await knex('job_batches').insert({ first_id: rows[0].id, rows_done: rows.length });
      const cases = rows.map((r) => ({ id: r.id, hash: createHash('sha256').update(String(r.label)).digest('hex') }));
      for (let i = 0; i < cases.length; i += 250) {
        const part = cases.slice(i, i + 250);
        await knex('items')
          .whereIn('id', part.map((c) => c.id))
          .update({ label_hash: knex.raw('CASE id ' + part.map(() => 'WHEN ? THEN ?').join(' ') + ' END', part.flatMap((c) => [c.id, c.hash])) });
      }
    },
  }),
  expand: async () => {},
});
`,
    );
    const running = startCli(['expand', '--dir', dir, '--batch-delay', '15'], { ZMIGRATE_DATABASE_URL: db.url });
    await running.waitForStderr(/backfill job on items/);
    // Killed once the job has committed a batch, so it lands part-way however slow the machine.
    const batchesDone = async () => Number(rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM job_batches'))[0].n);
    for (const deadline = Date.now() + 30_000; (await batchesDone()) === 0 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 50));
    const killed = await kill9(running);
    expect(killed.signal).toBe('SIGKILL');
    const partial = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM job_batches'));
    expect(Number(partial[0].n)).toBeGreaterThan(0);
    expect(Number(partial[0].n)).toBeLessThan(JOB_ROWS / 1000);

    const rerun = await cli('expand');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    const batches = rowsOf<{ n: number | string; total: number | string }>(
      await db.knex.raw('SELECT COUNT(*) AS n, SUM(rows_done) AS total FROM job_batches'),
    );
    expect(Number(batches[0].n)).toBe(JOB_ROWS / 1000);
    expect(Number(batches[0].total)).toBe(JOB_ROWS);
    const missing = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM items WHERE label_hash IS NULL'));
    expect(Number(missing[0].n)).toBe(0);
  });
});

describe('lint on custom phases', () => {
  const file = (phase: 'expand' | 'contract') => `import { defineMigration } from 'zmigrate';
export default defineMigration({
  ${phase}: async ({ knex }) => {
    await knex.schema.alterTable('users', (t) => t.dropColumn('legacy'));
  },
});
`;

  test.each(['postgres', 'mysql'])('a DROP in a custom expand is refused on %s; the same DROP in contract is fine', async (engine) => {
    const expand = await runCli(['lint', '--engine', engine, '--dir', migrationsDir({ '0001_drop.ts': file('expand') })]);
    expect(expand.code).toBe(1);
    expect(expand.stdout).toContain('drop-column-in-expand');
    expect(expand.stdout).toMatch(/alter table [`"]users[`"] drop/i);
    const contract = await runCli(['lint', '--engine', engine, '--dir', migrationsDir({ '0001_drop.ts': file('contract') })]);
    expect(contract.stdout + contract.stderr).not.toContain('drop-column-in-expand');
    // On MySQL/MariaDB knex's DROP has no LOCK=NONE, which lint rightly flags in any phase.
    if (engine === 'postgres') expect(contract.code).toBe(0);
    else expect(contract.stdout).toContain('mysql-alter-without-lock-none');
  });
});
