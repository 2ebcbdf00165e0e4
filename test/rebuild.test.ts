/**
 * Issue 5: on MySQL/MariaDB the expanded table is built by copying the rows
 * into a shadow table (mirror triggers keep it in step) and swapping it in
 * with one RENAME, as pt-online-schema-change does. PostgreSQL updates in
 * place and has no such path, so these tests run on MariaDB only.
 *
 * What must hold: every write the old app makes during the copy (inserts,
 * updates, key changes, deletes) ends up in the swapped-in table with its new
 * column right, filled by the catch-up that visits the keys the mirror
 * logged; AUTO_INCREMENT never hands out a key twice; a run killed between
 * the mirror triggers' statements loses no write made before its rerun; a
 * run killed in the copy resumes, or rolls back leaving nothing behind
 * (shadow, key log, triggers); tables the swap would damage (triggers,
 * foreign keys) are updated in place instead.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { rowsOf, startWriter } from './support/apps';
import { kill9, startCli } from './support/process';

const ROWS = 20_000;
const WIDEN = migrationSource(["op.alterColumn('items', 'qty', { type: 'bigint', up: 'qty * 10', down: 'qty DIV 10' })"]);
/** Keeps the copy busy for a few seconds, so the writer's work lands in the middle of it. */
const SLOW = ['--batch-size', '500', '--batch-delay', '40'];

interface Item {
  code: string;
  qty: number;
}

describe('rebuild by copy on mysql', () => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const start = (...args: string[]) => startCli([...args, '--dir', dir], { ZMIGRATE_DATABASE_URL: db.url });

  beforeEach(async () => {
    db = await createTestDatabase('mysql');
    dir = migrationsDir({});
    await db.knex.raw(
      'CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, code varchar(20) NOT NULL, qty int NOT NULL, note varchar(50), KEY items_code (code))',
    );
    const rows = Array.from({ length: ROWS }, (_, i) => ({ code: `c${i + 1}`, qty: i % 97 }));
    for (let i = 0; i < rows.length; i += 2000) await db.knex('items').insert(rows.slice(i, i + 2000));
    writeFileSync(path.join(dir, '0001_widen.ts'), WIDEN);
  });
  afterEach(async () => {
    await db.drop();
  });

  /** How much of the table the copy had put in its shadow (`_zm_…_new` among `tables`): none, part, or all of it. */
  async function shadowFill(tables: string[]): Promise<'none' | 'part' | 'all'> {
    const shadow = tables.find((t) => t.endsWith('_new'));
    if (!shadow) return 'none';
    const [{ n }] = rowsOf<{ n: number | string }>(await db.knex.raw('SELECT COUNT(*) AS n FROM ??', [shadow]));
    return Number(n) === 0 ? 'none' : Number(n) < ROWS ? 'part' : 'all';
  }

  async function leftovers(): Promise<{ tables: string[]; triggers: string[] }> {
    const tables = rowsOf<{ name: string }>(
      await db.knex.raw("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '\\_zm\\_%'", [
        db.base,
      ]),
    ).map((r) => r.name);
    const triggers = rowsOf<{ name: string; tbl: string }>(
      await db.knex.raw(
        'SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tbl FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?',
        [db.base],
      ),
    ).map((r) => `${r.tbl}.${r.name}`);
    return { tables, triggers };
  }

  /** Rows the catch-up filled, from its progress line (the rows the mirror wrote before the shadow's trigger). */
  function caughtUp(stderr: string): number {
    const line = /backfill _zm_\w+_new: ([\d,]+)/.exec(stderr);
    return line ? Number(line[1].replace(/,/g, '')) : 0;
  }

  async function readItems(withHelper: boolean): Promise<Map<number, Item & { helper?: number }>> {
    const rows = rowsOf<{ id: number; code: string; qty: number | string; helper?: number | string }>(
      await db.knex.raw(`SELECT id, code, qty${withHelper ? ', _zm_qty AS helper' : ''} FROM items`),
    );
    return new Map(
      rows.map((r) => [Number(r.id), { code: r.code, qty: Number(r.qty), ...(withHelper ? { helper: Number(r.helper) } : {}) }]),
    );
  }

  /**
   * With AUTO_INCREMENT, each chunk's rows are locked by a statement of their own before the copy (whose
   * AUTO-INC lock the mirror waits for); without, the copy locks them as it reads them. A copy runs two
   * chunks at a time by default, their locks taken side by side; with --jobs 1, one.
   */
  test.each([
    ['with AUTO_INCREMENT, two chunks at a time', true, '2'],
    ['without AUTO_INCREMENT, two chunks at a time', false, '2'],
    ['without AUTO_INCREMENT, one chunk at a time', false, '1'],
  ])(
    'writes during the copy (inserts, updates, key changes, deletes) all reach the swapped-in table, with the new column right (%s)',
    async (_, counter, jobs) => {
      if (!counter) await db.knex.raw('ALTER TABLE items MODIFY id int NOT NULL');
      const plan = await cli('plan');
      expect(plan.stdout.includes('LOCK IN SHARE MODE\nON DUPLICATE KEY UPDATE')).toBe(!counter);
      expect(/SELECT COUNT\(\*\) FROM \S+ WHERE .* LOCK IN SHARE MODE;\nINSERT INTO/.test(plan.stdout)).toBe(counter);
      const expected = new Map<number, Item>(Array.from({ length: ROWS }, (_, i) => [i + 1, { code: `c${i + 1}`, qty: i % 97 }]));
      let highestId = ROWS;
      const running = start('expand', ...SLOW, '--jobs', jobs);
      await running.waitForStderr(/copy items into/);
      const pick = (i: number) => 1 + ((i * 7919) % ROWS);
      const writer = startWriter(
        async (i) => {
          const kind = i % 4;
          if (kind === 0) {
            const fields = { code: `n${i}`, qty: i % 50 };
            const id = counter ? Number((await db.knex('items').insert(fields))[0]) : 2_000_000 + i;
            if (!counter) await db.knex('items').insert({ id, ...fields });
            expected.set(Number(id), { code: `n${i}`, qty: i % 50 });
            highestId = Math.max(highestId, Number(id));
          } else if (kind === 1) {
            const id = pick(i);
            const changed = await db
              .knex('items')
              .where({ id })
              .update({ qty: 1000 + i });
            if (changed > 0) expected.get(id)!.qty = 1000 + i;
          } else if (kind === 2) {
            // The key itself changes: the mirror must drop the old key in the shadow.
            const id = pick(i);
            const to = 1_000_000 + i;
            const changed = await db.knex('items').where({ id }).update({ id: to });
            if (changed > 0) {
              expected.set(to, expected.get(id)!);
              expected.delete(id);
              highestId = Math.max(highestId, to);
            }
          } else {
            const id = pick(i);
            await db.knex('items').where({ id }).delete();
            expected.delete(id);
          }
        },
        { pauseMs: 2 },
      );
      const result = await running.done;
      const stats = await writer.stop();
      if (result.code !== 0) {
        const keys = (/with key (.*)$/m.exec(result.stderr)?.[1] ?? '').split(', ').map(Number);
        const rows = rowsOf(
          await db.knex.raw(`SELECT id, code, qty, _zm_qty FROM items WHERE id IN (${keys.map(() => '?').join(',')})`, keys),
        );
        const wanted = [...expected].filter(([id]) => keys.includes(id));
        throw new Error(`expand failed: ${result.stderr}\nrows: ${JSON.stringify(rows)}\nexpected: ${JSON.stringify(wanted)}`);
      }
      expect(result.stderr).toMatch(/swap .* in for items/);
      expect(stats.failures).toEqual([]);
      expect(stats.writes).toBeGreaterThan(50);
      // Writes landed before the shadow had its trigger: only the catch-up (over the logged keys) filled those rows.
      expect(caughtUp(result.stderr)).toBeGreaterThan(0);

      const after = await readItems(true);
      expect(after.size).toBe(expected.size);
      for (const [id, item] of expected) expect({ id, ...after.get(id) }).toEqual({ id, ...item, helper: item.qty * 10 });
      expect(await leftovers()).toEqual({
        tables: [],
        triggers: expect.arrayContaining([expect.stringMatching(/^items\._zm_\w+_b[iu]$/)]),
      });
      expect((await leftovers()).triggers).toHaveLength(2);

      // No key handed out before the swap is handed out again after it.
      const fresh = counter ? Number((await db.knex('items').insert({ code: 'after-swap', qty: 1 }))[0]) : 3_000_000;
      if (!counter) await db.knex('items').insert({ id: fresh, code: 'after-swap', qty: 1 });
      expect(fresh).toBeGreaterThan(highestId);

      expect((await cli('contract')).code).toBe(0);
      const final = await readItems(false);
      expect(final.get(fresh)).toEqual({ code: 'after-swap', qty: 10 });
      final.delete(fresh);
      expect(final).toEqual(new Map([...expected].map(([id, item]) => [id, { ...item, qty: item.qty * 10 }])));
      expect(await leftovers()).toEqual({ tables: [], triggers: [] });
    },
  );

  test('addCheck: the rows are checked, the copy and the mirror fill a shadow with the check; writes meanwhile that meet it all land, those that break it fail', async () => {
    writeFileSync(
      path.join(dir, '0001_widen.ts'),
      migrationSource(["op.addCheck('items', 'items_qty_sane', 'qty >= 0 AND qty < 100000')"]),
    );
    const expected = new Map<number, Item>(Array.from({ length: ROWS }, (_, i) => [i + 1, { code: `c${i + 1}`, qty: i % 97 }]));
    const running = start('expand', ...SLOW);
    await running.waitForStderr(/copy items into/);
    const pick = (i: number) => 1 + ((i * 7919) % ROWS);
    const refused: string[] = [];
    const writer = startWriter(
      async (i) => {
        const kind = i % 5;
        if (kind === 0) {
          const id = Number((await db.knex('items').insert({ code: `n${i}`, qty: i % 50 }))[0]);
          expected.set(id, { code: `n${i}`, qty: i % 50 });
        } else if (kind === 1) {
          const id = pick(i);
          if (
            (await db
              .knex('items')
              .where({ id })
              .update({ qty: 1000 + i })) > 0
          )
            expected.get(id)!.qty = 1000 + i;
        } else if (kind === 2) {
          const id = pick(i);
          const to = 1_000_000 + i;
          if ((await db.knex('items').where({ id }).update({ id: to })) > 0) {
            expected.set(to, expected.get(id)!);
            expected.delete(id);
          }
        } else if (kind === 3) {
          const id = pick(i);
          await db.knex('items').where({ id }).delete();
          expected.delete(id);
        } else {
          // Breaks the check: fails from the mirror on (through the shadow's check), as after the swap.
          try {
            await db.knex('items').insert({ code: `bad${i}`, qty: -1 });
          } catch (error) {
            refused.push(String((error as Error).message));
            return;
          }
          throw new Error(`a write that breaks the check went through during expand (${i})`);
        }
      },
      { pauseMs: 2 },
    );
    const result = await running.done;
    const stats = await writer.stop();
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stderr).toMatch(/verify check items_qty_sane[^\n]*\n(.*\n)*.*create _zm_\w+_new like items/);
    expect(result.stderr).toMatch(/swap .* in for items/);
    expect(stats.failures).toEqual([]);
    expect(stats.writes).toBeGreaterThan(50);
    expect(refused.length).toBeGreaterThan(5);
    expect(refused.every((m) => /CONSTRAINT `items_qty_sane` failed/.test(m))).toBe(true);

    const after = await readItems(false);
    expect(after).toEqual(expected);
    expect(await leftovers()).toEqual({ tables: [], triggers: [] });
    await expect(db.knex('items').insert({ code: 'after', qty: -5 })).rejects.toThrow(/CONSTRAINT `items_qty_sane` failed/);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ phase: string; error: unknown }> };
    expect(status.migrations).toEqual([expect.objectContaining({ phase: 'expanded', error: null })]);
    // Nothing left to validate: contract only ends the migration, and the check stays.
    expect((await cli('contract')).code).toBe(0);
    await expect(db.knex('items').insert({ code: 'after', qty: -5 })).rejects.toThrow(/CONSTRAINT `items_qty_sane` failed/);
  });

  test('addCheck: a row broken after the scan but before the mirror stops the copy, named by its key; fixed, expand resumes; or rollback leaves nothing', async () => {
    writeFileSync(path.join(dir, '0001_widen.ts'), migrationSource(["op.addCheck('items', 'items_qty_sane', 'qty >= 0')"]));
    // Uncommitted, the row is not seen by the scan; the transaction holds the table until the mirror's CREATE TRIGGER is waiting.
    const trx = await db.knex.transaction();
    await trx('items').where({ id: 5 }).update({ qty: -1 });
    const running = start('expand', '--lock-timeout', '2000');
    await running.waitForStderr(/mirror writes on items into/);
    await trx.commit();
    const result = await running.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('check items_qty_sane (qty >= 0) does not hold for rows with key 5');
    expect(result.stderr).not.toMatch(/swap .* in for items/);
    // Writes that break the check fail while it is stopped, as after the swap; those that meet it go through.
    await expect(db.knex('items').insert({ code: 'bad', qty: -2 })).rejects.toThrow(/CONSTRAINT `items_qty_sane` failed/);
    await db.knex('items').insert({ code: 'meanwhile', qty: 3 });

    const rerun = await cli('expand');
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain('does not hold for rows with key 5');
    const rollback = await cli('rollback');
    expect({ code: rollback.code, stderr: rollback.code === 0 ? '' : rollback.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await leftovers()).toEqual({ tables: [], triggers: [] });
    await db.knex('items').insert({ code: 'unchecked', qty: -3 });
    await db.knex('items').whereIn('qty', [-1, -3]).update({ qty: 0 });

    const again = await cli('expand');
    expect({ code: again.code, stderr: again.code === 0 ? '' : again.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await readItems(false)).get(ROWS + 2)).toEqual({ code: 'meanwhile', qty: 3 });
    await expect(db.knex('items').where({ id: 5 }).update({ qty: -1 })).rejects.toThrow(/CONSTRAINT `items_qty_sane` failed/);
  });

  test('the catch-up keeps ON UPDATE CURRENT_TIMESTAMP columns as the apps left them', async () => {
    const stamp = '2001-02-03 04:05:06';
    await db.knex.raw('ALTER TABLE items ADD COLUMN updated_at timestamp NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP');
    const running = start('expand', ...SLOW);
    await running.waitForStderr(/copy items into/);
    const writer = startWriter(
      async (i) => {
        if (i % 2 === 0) await db.knex('items').insert({ code: `n${i}`, qty: i % 50, updated_at: stamp });
        else
          await db
            .knex('items')
            .where({ id: 1 + ((i * 7919) % ROWS) })
            .update({ qty: 1000 + i, updated_at: stamp });
      },
      { pauseMs: 2 },
    );
    const result = await running.done;
    const stats = await writer.stop();
    expect(result.stderr).toMatch(/swap .* in for items/);
    expect(result.code).toBe(0);
    expect(stats.failures).toEqual([]);
    expect(caughtUp(result.stderr)).toBeGreaterThan(0);
    const stamps = rowsOf<{ stamped: string; n: number }>(
      await db.knex.raw(
        "SELECT DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') AS stamped, COUNT(*) AS n FROM items WHERE updated_at IS NOT NULL GROUP BY stamped",
      ),
    );
    expect(stamps).toEqual([{ stamped: stamp, n: expect.any(Number) }]);
    expect([...(await readItems(true)).values()].filter((r) => r.helper !== r.qty * 10)).toEqual([]);
  });

  test("an app transaction that wrote the table holds the shadow's lock: the AUTO_INCREMENT change waits for it no longer than the lock timeout, then tries again", async () => {
    // The counter past the highest key (those rows deleted): the copy leaves the shadow's lower, and after the
    // copy an ALTER TABLE moves it up, which needs the shadow's metadata lock.
    await db.knex.raw('DELETE FROM items WHERE id > ?', [ROWS - 100]);
    const [{ next }] = rowsOf<{ next: number }>(
      await db.knex.raw('SELECT AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
        db.base,
        'items',
      ]),
    );
    const run = start('expand', ...SLOW, '--lock-timeout', '300');
    const trx = await db.knex.transaction();
    let waiting: string | undefined;
    try {
      await run.waitForStderr(/backfill items: [\d,]+ \//);
      // A row the copy is past: mirrored into the shadow, so this transaction holds the shadow's lock until it ends.
      await trx('items').where({ id: 1 }).update({ note: 'held' });
      for (const deadline = Date.now() + 60_000; !waiting && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
        [waiting] = rowsOf<{ query: string }>(
          await db.knex.raw(
            "SELECT INFO AS query FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AUTO\\_INCREMENT =%' AND STATE = 'Waiting for table metadata lock'",
          ),
        ).map((r) => r.query);
      }
      // Given up after the lock timeout, and tried again after a pause, saying so.
      await run.waitForStderr(/lock not granted in time for the last change to _zm_\w+_new after its copy; retry 1\/10 in \d+ ms/);
    } finally {
      await trx.commit();
    }
    expect((await run.done).code).toBe(0);
    // Bounded as a whole by the lock timeout, where lock_wait_timeout would have let it wait a second, every
    // write mirrored into the shadow meanwhile queued behind it.
    expect(waiting).toMatch(/^SET STATEMENT max_statement_time = 0\.3 FOR ALTER TABLE \S+ AUTO_INCREMENT = \d+$/);
    const [id] = await db.knex('items').insert({ code: 'after', qty: 1 });
    expect(Number(id)).toBeGreaterThanOrEqual(Number(next));
    expect(rowsOf(await db.knex.raw('SELECT note FROM items WHERE id = 1'))).toEqual([{ note: 'held' }]);
  });

  test('killed in the middle of the copy: a rerun finishes it; killed again and rolled back, nothing is left behind', async () => {
    let running = start('expand', ...SLOW);
    await running.waitForStderr(/backfill items: [\d,]+ \//);
    expect((await kill9(running)).signal).toBe('SIGKILL');
    const half = await leftovers();
    expect(half.tables.sort()).toEqual([expect.stringMatching(/^_zm_\w+_log$/), expect.stringMatching(/^_zm_\w+_new$/)]);
    expect(half.triggers).toHaveLength(3);
    expect(await shadowFill(half.tables)).toBe('part');

    // The apps write while no zmigrate runs: the mirror repeats each write in the shadow and logs the key it leaves there.
    const [inserted] = await db.knex('items').insert({ code: 'while-stopped', qty: 7 });
    await db.knex('items').where({ id: 1 }).update({ qty: 41 });
    await db.knex('items').where({ id: ROWS }).update({ qty: 42 });
    await db
      .knex('items')
      .where({ id: 2 })
      .update({ id: ROWS + 100 });
    await db.knex('items').where({ id: 3 }).delete();
    const log = half.tables.find((t) => t.endsWith('_log'))!;
    const logged = rowsOf<{ id: number }>(await db.knex.raw('SELECT id FROM ?? ORDER BY id', [log])).map((r) => Number(r.id));
    expect(logged).toEqual([1, ROWS, Number(inserted), ROWS + 100]);

    const rerun = await cli('expand');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    const widened = await readItems(true);
    expect(widened.size).toBe(ROWS);
    expect([...widened.values()].filter((r) => r.helper !== r.qty * 10)).toEqual([]);
    expect([1, ROWS, Number(inserted), ROWS + 100].map((id) => widened.get(id)?.helper)).toEqual([410, 420, 70, 10]);
    expect(widened.has(2) || widened.has(3)).toBe(false);
    expect((await leftovers()).tables).toEqual([]);

    // Back to before the migration, then start again and kill once more.
    expect((await cli('rollback')).code).toBe(0);
    expect((await leftovers()).tables).toEqual([]);
    running = start('expand', ...SLOW);
    await running.waitForStderr(/backfill items: [\d,]+ \//);
    expect((await kill9(running)).signal).toBe('SIGKILL');
    expect(await shadowFill((await leftovers()).tables)).toBe('part');
    const rollback = await cli('rollback');
    expect(rollback.code).toBe(0);
    expect(await leftovers()).toEqual({ tables: [], triggers: [] });
    const columns = rowsOf<{ name: string }>(
      await db.knex.raw(
        "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION",
        [db.base],
      ),
    ).map((r) => r.name);
    expect(columns).toEqual(['id', 'code', 'qty', 'note']);
    expect((await readItems(false)).size).toBe(ROWS);
  });

  /**
   * The mirror step creates its three triggers one statement after another, so a run killed in it leaves the
   * first ones in place while the apps go on writing, until a rerun creates the rest and starts the copy. Each
   * first part of the step's order must keep every row the shadow holds current: a row that an insert brings
   * there before the update trigger exists would miss its later updates (and one an update brings there before
   * the delete trigger, its delete), and the copy keeps the rows it finds in the shadow. The writes below break
   * either wrong order.
   */
  test.each([1, 2])('killed after the first %i of the mirror triggers, the writes made meanwhile all end up right', async (kept) => {
    const plan = await cli('plan');
    const order = [...plan.stdout.matchAll(/CREATE TRIGGER IF NOT EXISTS `[^`]+`\.`(\w+)` AFTER \w+ ON `[^`]+`\.`items`/g)].map(
      (m) => m[1],
    );
    expect(order).toHaveLength(3);

    // A run killed in its copy, set back to a kill in its mirror step: the later triggers gone, the shadow and the
    // key log empty, the step marked running and the copy not begun.
    const running = start('expand', ...SLOW);
    await running.waitForStderr(/backfill items: [\d,]+ \//);
    expect((await kill9(running)).signal).toBe('SIGKILL');
    for (const table of (await leftovers()).tables) await db.knex.raw('TRUNCATE TABLE ??', [table]);
    for (const trigger of order.slice(kept)) await db.knex.raw('DROP TRIGGER ??', [trigger]);
    const steps = rowsOf<{ seq: number | string; status: string }>(
      await db.knex.raw("SELECT seq, status FROM zmigrate_steps WHERE phase = 'expand' ORDER BY seq"),
    );
    const copy = Number(steps.at(-1)!.seq);
    expect(steps.map((s) => [Number(s.seq), s.status]).slice(-2)).toEqual([
      [copy - 1, 'done'],
      [copy, 'running'],
    ]);
    await db.knex('zmigrate_steps').where({ phase: 'expand', seq: copy }).delete();
    await db
      .knex('zmigrate_steps')
      .where({ phase: 'expand', seq: copy - 1 })
      .update({ status: 'running' });

    const expected = new Map<number, Item>(Array.from({ length: ROWS }, (_, i) => [i + 1, { code: `c${i + 1}`, qty: i % 97 }]));
    const [inserted] = await db.knex('items').insert({ code: 'meanwhile', qty: 5 });
    const fresh = Number(inserted);
    await db.knex('items').where({ id: fresh }).update({ qty: 6 });
    expected.set(fresh, { code: 'meanwhile', qty: 6 });
    await db.knex('items').where({ id: 10 }).update({ qty: 50 });
    await db.knex('items').where({ id: 10 }).update({ qty: 51 });
    expected.set(10, { code: 'c10', qty: 51 });
    await db.knex('items').where({ id: 11 }).update({ qty: 52 });
    await db.knex('items').where({ id: 11 }).delete();
    expected.delete(11);
    await db
      .knex('items')
      .where({ id: 12 })
      .update({ id: ROWS + 500 });
    await db
      .knex('items')
      .where({ id: ROWS + 500 })
      .update({ qty: 53 });
    expected.delete(12);
    expected.set(ROWS + 500, { code: 'c12', qty: 53 });

    const rerun = await cli('expand');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    expect((await leftovers()).tables).toEqual([]);
    const widened = await readItems(true);
    expect(widened).toEqual(new Map([...expected].map(([id, item]) => [id, { ...item, helper: item.qty * 10 }])));
  });

  test.each([
    [
      'a trigger of its own',
      'CREATE TRIGGER items_audit BEFORE UPDATE ON items FOR EACH ROW SET NEW.note = NEW.note',
      /it has triggers \(items_audit\)/,
    ],
    [
      'a foreign key pointing at it',
      'CREATE TABLE item_tags (id int PRIMARY KEY, item_id int NOT NULL, CONSTRAINT item_tags_item FOREIGN KEY (item_id) REFERENCES items (id))',
      /foreign keys use it \(item_tags_item\)/,
    ],
  ])('a table with %s is updated in place instead, and says why', async (_what, sql, reason) => {
    await db.knex.raw(sql);
    const result = await cli('expand');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`backfill of items in place, not by copy: .*${reason.source}`));
    expect(result.stderr).not.toMatch(/copy items into/);
    const widened = await readItems(true);
    expect([...widened.values()].filter((r) => r.helper !== r.qty * 10)).toEqual([]);
    expect((await leftovers()).tables).toEqual([]);
  });

  test('a unique index over the filled column: updated in place, where new values that collide stop expand and cost no row', async () => {
    await db.knex.raw('CREATE UNIQUE INDEX items_code_key ON items (code)');
    // The copy keeps a row found in the shadow (ON DUPLICATE KEY) and the mirror replaces: a colliding new
    // value would have cost a row there ('c1', 'c10' … 'c19' all become 'c1').
    writeFileSync(
      path.join(dir, '0001_widen.ts'),
      migrationSource(["op.alterColumn('items', 'code', { type: 'varchar(40)', up: 'LEFT(code, 2)', down: 'code' })"]),
    );
    const collides = await cli('expand');
    expect(collides.code).toBe(1);
    expect(collides.stderr).toMatch(
      /backfill of items in place, not by copy: a unique index covers a column it fills \(_zm_items_code_key\)/,
    );
    expect(collides.stderr).toMatch(/backfill items\._zm_code failed: Duplicate entry 'c1'/);
    expect(Number(rowsOf<{ n: number }>(await db.knex.raw('SELECT COUNT(*) AS n FROM items'))[0].n)).toBe(ROWS);
    expect((await cli('rollback')).code).toBe(0);

    writeFileSync(
      path.join(dir, '0001_widen.ts'),
      migrationSource(["op.alterColumn('items', 'code', { type: 'varchar(40)', up: 'code', down: 'code' })"]),
    );
    const widens = await cli('expand');
    expect(widens.code).toBe(0);
    expect(widens.stderr).not.toMatch(/copy items into/);
    expect(
      rowsOf<{ n: number; bad: number }>(await db.knex.raw('SELECT COUNT(*) AS n, SUM(NOT (_zm_code <=> code)) AS bad FROM items')),
    ).toEqual([{ n: ROWS, bad: '0' }]);
  });

  test('a foreign key from a table of another database pointing at it: updated in place, and the key still checks the table', async () => {
    const other = `${db.base}_billing`;
    await db.knex.raw(`CREATE DATABASE \`${other}\``);
    try {
      await db.knex.raw(
        `CREATE TABLE \`${other}\`.invoices (id int PRIMARY KEY, item_id int NOT NULL, CONSTRAINT invoices_item FOREIGN KEY (item_id) REFERENCES \`${db.base}\`.items (id))`,
      );
      const result = await cli('expand');
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`backfill of items in place, not by copy: foreign keys use it (${other}.invoices_item)`);
      // Copied and swapped, the key would point at the retired table, and this insert (a new item) would fail.
      await db.knex.raw("INSERT INTO items (code, qty) VALUES ('new', 1)");
      await db.knex.raw(`INSERT INTO \`${other}\`.invoices SELECT 1, id FROM items WHERE code = 'new'`);
      expect((await cli('contract')).code).toBe(0);
      expect((await leftovers()).tables).toEqual([]);
    } finally {
      await db.knex.raw(`DROP DATABASE \`${other}\``);
    }
  });

  test('a foreign key from a database the migration user has no privilege in is seen too (with PROCESS): updated in place', async () => {
    const suffix = randomBytes(4).toString('hex');
    const other = `zmt_billing_${suffix}`;
    const user = `zmt_fk_${suffix}`;
    const password = `Pw${suffix}`;
    const versions = `\`${db.base.replace(/[_%]/g, '\\$&')}\\_%\``;
    await db.knex.raw(`CREATE DATABASE \`${other}\``);
    await db.knex.raw(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    try {
      await db.knex.raw(
        `CREATE TABLE \`${other}\`.invoices (id int PRIMARY KEY, item_id int NOT NULL, CONSTRAINT invoices_item FOREIGN KEY (item_id) REFERENCES \`${db.base}\`.items (id))`,
      );
      // Everything on its own database and the version databases, PROCESS, and nothing on the other database:
      // information_schema shows it no key of the other database's tables.
      await db.knex.raw(`GRANT ALL PRIVILEGES ON \`${db.base}\`.* TO '${user}'@'%'`);
      await db.knex.raw(`GRANT ALL PRIVILEGES ON ${versions}.* TO '${user}'@'%'`);
      await db.knex.raw(`GRANT PROCESS ON *.* TO '${user}'@'%'`);
      const url = new URL(db.url);
      url.username = user;
      url.password = password;
      const result = await runCli(['expand', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: url.toString() } });
      expect(outcome(result)).toEqual({
        code: 0,
        errors: [],
      });
      expect(result.stderr).toContain(`backfill of items in place, not by copy: foreign keys use it (${other}.invoices_item)`);
      await db.knex.raw("INSERT INTO items (code, qty) VALUES ('new', 1)");
      await db.knex.raw(`INSERT INTO \`${other}\`.invoices SELECT 1, id FROM items WHERE code = 'new'`);
    } finally {
      await db.knex.raw(`DROP DATABASE \`${other}\``);
      await db.knex.raw(`DROP USER '${user}'@'%'`);
    }
  });

  test('setNotNull fills only the NULLs: in place, not by copy, keeping the values the table and the apps hold', async () => {
    await db.knex.raw("UPDATE items SET note = CONCAT('n', id) WHERE id % 3 <> 0");
    // By copy, every row's note would be computed as up (and the mirror would leave out what the old app writes).
    writeFileSync(path.join(dir, '0001_widen.ts'), migrationSource(["op.setNotNull('items', 'note', { up: \"'none'\" })"]));
    const running = start('expand', ...SLOW);
    await running.waitForStderr(/backfill items\.note/);
    await db.knex.raw("UPDATE items SET note = 'app' WHERE id = 4");
    await db.knex.raw("INSERT INTO items (code, qty, note) VALUES ('late', 1, 'written')");
    const expanded = await running.done;
    expect(outcome(expanded)).toEqual({
      code: 0,
      errors: [],
    });
    expect(expanded.stderr).not.toMatch(/copy items into/);
    const notes = rowsOf<{ id: number; note: string | null }>(await db.knex.raw('SELECT id, note FROM items'));
    const wrong = notes.filter((r) => {
      const expected = r.id === 4 ? 'app' : r.id === ROWS + 1 ? 'written' : r.id % 3 === 0 ? 'none' : `n${r.id}`;
      return r.note !== expected;
    });
    expect({ rows: notes.length, wrong: wrong.slice(0, 5) }).toEqual({ rows: ROWS + 1, wrong: [] });
    expect((await cli('contract')).code).toBe(0);
  });

  test('plan shows the copy, the mirror triggers and the swap, and changes nothing', async () => {
    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/CREATE TABLE `[^`]+`\.`_zm_\w+_new` LIKE `[^`]+`\.`items`/);
    expect(plan.stdout).toMatch(/AFTER (INSERT|UPDATE|DELETE) ON `[^`]+`\.`items`/);
    // The mirror logs each key it writes; the catch-up visits only those rows of the shadow.
    expect(plan.stdout).toMatch(
      /CREATE TABLE `[^`]+`\.`_zm_\w+_log` \(PRIMARY KEY \(`id`\)\) ENGINE = InnoDB SELECT `id` FROM `[^`]+`\.`_zm_\w+_new` WHERE FALSE/,
    );
    expect(plan.stdout).toMatch(/INSERT IGNORE INTO `[^`]+`\.`_zm_\w+_log` \(`id`\) VALUES \(NEW\.`id`\)/);
    expect(plan.stdout).toMatch(
      /UPDATE `[^`]+`\.`_zm_\w+_new` JOIN \(SELECT `id` AS `(\w+)` FROM `[^`]+`\.`_zm_\w+_log` WHERE \(`id`\) BETWEEN \? AND \?\) AS `\w+`\s+ON `[^`]+`\.`_zm_\w+_new`\.`id` = `\w+`\.`\1`\s+SET `_zm_qty` = \(qty \* 10\) WHERE \(`_zm_qty` IS NULL\)/,
    );
    expect(plan.stdout).toMatch(/DROP TABLE IF EXISTS `[^`]+`\.`_zm_\w+_old`, `[^`]+`\.`_zm_\w+_log`/);
    expect(plan.stdout).toMatch(/RENAME TABLE `[^`]+`\.`items` TO `[^`]+`\.`_zm_\w+_old`, `[^`]+`\.`_zm_\w+_new` TO `[^`]+`\.`items`/);
    expect(await leftovers()).toEqual({ tables: [], triggers: [] });
  });
});

describe('the in-place backfill on mysql, where no copy is made', () => {
  test('keeps ON UPDATE CURRENT_TIMESTAMP columns as the apps left them', async () => {
    const db = await createTestDatabase('mysql');
    try {
      const stamp = '2001-02-03 04:05:06';
      // A foreign key keeps the table from being copied: its rows are filled by UPDATEs in place.
      await db.knex.raw('CREATE TABLE owners (id integer PRIMARY KEY)');
      await db.knex.raw('INSERT INTO owners (id) VALUES (1)');
      await db.knex.raw(
        'CREATE TABLE items (id integer PRIMARY KEY, owner_id integer NOT NULL, qty integer NOT NULL, ' +
          'updated_at timestamp NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP, CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id))',
      );
      await db.knex.raw('INSERT INTO items (id, owner_id, qty, updated_at) SELECT seq, 1, seq, ? FROM seq_1_to_2000', [stamp]);
      const dir = migrationsDir({ '0001_widen.ts': WIDEN });
      const expand = await runCli(['expand', '--dir', dir, '--batch-size', '300'], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      expect(expand.code).toBe(0);
      expect(expand.stderr).toMatch(/backfill items\._zm_qty/);
      expect(expand.stderr).not.toMatch(/copy items into/);
      const rows = rowsOf<{ stamped: string; filled: number; n: number }>(
        await db.knex.raw(
          "SELECT DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') AS stamped, SUM(`_zm_qty` = qty * 10) AS filled, COUNT(*) AS n FROM items GROUP BY stamped",
        ),
      );
      expect(rows.map((r) => ({ stamped: r.stamped, filled: Number(r.filled), n: Number(r.n) }))).toEqual([
        { stamped: stamp, filled: 2000, n: 2000 },
      ]);
    } finally {
      await db.drop();
    }
  });
});
