/**
 * Many catalog queries on a PGlite test database at the price of one open:
 * support/databases.ts opens the folder afresh for every query (a second or
 * more each), which makes inspect() slow. A session keeps one child process
 * with the folder open while `work` runs, then closes it, so that a zmigrate
 * process can open the folder again. Elsewhere, `work` gets the database as is.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import type { Knex } from 'knex';
import type { TestDatabase } from '../support/databases';

type Reply = { id?: number; rows?: unknown[]; error?: string; ready?: boolean };

export async function pgliteSession<T>(db: TestDatabase, work: (db: TestDatabase) => Promise<T>): Promise<T> {
  if (db.engine !== 'pglite') return work(db);
  const dir = db.url.replace(/^pglite:/, '');
  const child = fork(path.join(__dirname, 'pglite-session-child.js'), [dir], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (reply: Reply) => {
      if (reply.ready) return resolve();
      const waiter = pending.get(reply.id!);
      pending.delete(reply.id!);
      if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.rows ?? []);
    });
    child.on('exit', (code) => reject(new Error(`PGlite session ended (${code}): ${stderr}`)));
  });
  let next = 0;
  const raw = (sql: string, bindings: unknown[] = []) => {
    let i = 0;
    const text = sql.replace(/\?/g, () => `$${++i}`);
    const id = ++next;
    return new Promise<{ rows: unknown[] }>((resolve, reject) => {
      pending.set(id, { resolve: (rows) => resolve({ rows }), reject });
      child.send({ id, sql: text, bindings });
    });
  };
  try {
    return await work({ ...db, knex: { raw } as unknown as Knex });
  } finally {
    child.send({ close: true });
    await exited;
  }
}
