/**
 * The embedded database: one process at a time may open a PGlite folder, so
 * a second zmigrate waits for the first instead of corrupting the data.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FolderLock } from '../src/dialects/pglite/folder-lock';
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';

describe('PGlite folder', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await db.drop();
  });

  test('two runners at once: the second waits for the folder, nothing is applied twice', async () => {
    const dir = migrationsDir({
      '0001_counter.ts': migrationSource([
        "op.createTable('counter', { columns: { id: { type: 'integer', primaryKey: true } } })",
        "op.sql({ expand: 'INSERT INTO counter (id) VALUES (1)', rollback: 'DELETE FROM counter' })",
      ]),
    });
    const env = { ZMIGRATE_DATABASE_URL: db.url };
    const [a, b] = await Promise.all([runCli(['expand', '--dir', dir], { env }), runCli(['expand', '--dir', dir], { env })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const outputs = [a.stdout, b.stdout].sort();
    expect(outputs[0]).toMatch(/^expanded 0001_counter/);
    expect(outputs[1]).toMatch(/^nothing to expand/);
    const { rows } = (await db.knex.raw('select count(*)::int as n from counter')) as unknown as { rows: Array<{ n: number }> };
    expect(rows[0].n).toBe(1);
    expect(existsSync(path.join(db.url.slice('pglite:'.length), 'zmigrate.lock'))).toBe(false);
  });

  test('a lock left with the PID this process now has (node as PID 1 in a container, restarted after Ctrl-C) is taken over', async () => {
    const folder = db.url.slice('pglite:'.length);
    writeFileSync(path.join(folder, 'zmigrate.lock'), String(process.pid));
    const dir = migrationsDir({
      '0001_t.ts': migrationSource(["op.createTable('t', { columns: { id: { type: 'integer', primaryKey: true } } })"]),
    });
    const status = await runCli(['status', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
    expect(existsSync(path.join(folder, 'zmigrate.lock'))).toBe(false);
  });
});

describe('PGlite folder lock', () => {
  /** A process holding the lock of `folder` until killed; resolves once it holds it. */
  async function holder(folder: string) {
    const module = path.resolve(__dirname, '..', 'dist', 'dialects', 'pglite', 'folder-lock.js');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `new (require(${JSON.stringify(module)}).FolderLock)(${JSON.stringify(folder)}).acquire(0).then((held) => { console.log(held); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const said = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
    expect(said).toBe('true');
    return child;
  }

  test('a live holder keeps it; once its PID belongs to a process started later (reused), or to nobody, it is taken over', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-lock-'));
    const file = path.join(folder, 'zmigrate.lock');
    const child = await holder(folder);
    try {
      expect(await new FolderLock(folder).acquire(0)).toBe(false);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(child.pid));
      // The same PID, recorded with another start: the process that wrote it is gone, this one only has its number.
      writeFileSync(file, `${child.pid}\n${os.hostname()}:1`);
      const lock = new FolderLock(folder);
      expect(await lock.acquire(0)).toBe(true);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(process.pid));
      lock.release();
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // A PID with no process: taken over.
    writeFileSync(file, `${child.pid}`);
    const lock = new FolderLock(folder);
    expect(await lock.acquire(0)).toBe(true);
    lock.release();
  });

  test('a lock written on another host or in another PID namespace (two containers on one folder, each with node as PID 1) is not taken over', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-lock-'));
    const file = path.join(folder, 'zmigrate.lock');
    // This very PID, written elsewhere: there it may well be a live process.
    writeFileSync(file, `${process.pid}\n\nanother-host pid:[4026531836]`);
    expect(await new FolderLock(folder).acquire(0)).toBe(false);
    expect(readFileSync(file, 'utf8')).toContain('another-host');
  });
});
