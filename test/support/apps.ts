/**
 * Simulated applications: a writer that keeps inserting and updating rows
 * through its own connection (base tables for the old app, the version
 * schema for the new one) and records every acknowledged write, so the test
 * can compare the final table with what the writes imply.
 */
import type { Knex } from 'knex';
import type { CliResult } from './cli';

export interface WriterStats {
  writes: number;
  failures: string[];
}

export interface Writer {
  stats: WriterStats;
  /** Stops after the write in flight and resolves when it has. */
  stop(): Promise<WriterStats>;
}

/**
 * Calls `write(i)` over and over (i = 0, 1, 2, …) until stopped. A write that
 * throws is a failure: the guarantee is that none does.
 */
export function startWriter(write: (i: number) => Promise<void>, options: { pauseMs?: number; first?: number } = {}): Writer {
  const { pauseMs = 5, first = 0 } = options;
  const stats: WriterStats = { writes: 0, failures: [] };
  let running = true;
  const loop = (async () => {
    for (let i = first; running; i++) {
      try {
        await write(i);
        stats.writes += 1;
      } catch (error) {
        stats.failures.push(error instanceof Error ? error.message : String(error));
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    stats,
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

/** How often, and how far apart, a new-app statement is retried when it meets a view being recreated (README, Known limitations). */
export const VIEW_SWAP_RETRIES = { attempts: 25, pauseMs: 40 };

/**
 * MySQL/MariaDB store a view's columns and table by name, so a new-app
 * statement that races contract's rename of a column or table, or a
 * column's replacement, can find its view invalid (errno 1356,
 * ER_VIEW_INVALID) for a moment. The README tells apps to retry such a
 * statement for up to a second;
 * this does. Each error met is pushed to `seen`, for tests that require
 * none. Any other error is thrown at once.
 */
export async function retryViewSwap<T>(write: () => Promise<T>, seen: string[] = []): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if ((error as { errno?: number }).errno !== 1356 || attempt >= VIEW_SWAP_RETRIES.attempts) throw error;
      seen.push((error as Error).message);
      await new Promise((r) => setTimeout(r, VIEW_SWAP_RETRIES.pauseMs));
    }
  }
}

/** Rows of a raw result, on either engine. */
export function rowsOf<T = Record<string, unknown>>(result: unknown): T[] {
  if (Array.isArray(result)) return result[0] as T[];
  return (result as { rows: T[] }).rows;
}

/** A raw query's rows, on either engine. */
export async function queryRows(knex: Knex, sql: string, bindings: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  return rowsOf(await knex.raw(sql, bindings as never));
}

export async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for a condition that takes a query to know; fails, naming `what`, if it does not hold within timeoutMs. */
export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A deploy under load. The old app writes (`oldWrite`) from the start;
 * expand runs; once it has, the new app writes through its version schema
 * (`newApp`, `newWrite`) and `during` runs while both write; then the old
 * app stops (the deploy is done) and contract runs while the new app writes
 * on, 20 writes past contract's end at least. Expand and contract must exit
 * 0, and no write of either app may fail.
 */
export async function deployUnderLoad(options: {
  run(command: 'expand' | 'contract'): Promise<CliResult>;
  newApp(): Knex;
  oldWrite(i: number): Promise<void>;
  newWrite(app: Knex, i: number): Promise<void>;
  during?(app: Knex, expand: CliResult): Promise<void>;
}): Promise<{ expand: CliResult; contract: CliResult }> {
  const old = startWriter((i) => options.oldWrite(i));
  // The new app starts once there is a version schema to write through: only its real writes count.
  let fresh: Writer | undefined;
  try {
    await waitFor(() => old.stats.writes >= 10 || old.stats.failures.length > 0);
    const expand = await options.run('expand');
    expect(expand.code).toBe(0);
    const app = options.newApp();
    const writer = (fresh = startWriter((i) => options.newWrite(app, i)));
    await waitFor(() => writer.stats.writes >= 20 || writer.stats.failures.length > 0);
    expect(writer.stats.failures).toEqual([]);
    await options.during?.(app, expand);
    expect((await old.stop()).failures).toEqual([]);
    const contract = await options.run('contract');
    expect(contract.code).toBe(0);
    // The new app goes on writing after contract has ended, through the version schema contract left it.
    const atContractEnd = writer.stats.writes;
    await waitFor(() => writer.stats.writes >= atContractEnd + 20 || writer.stats.failures.length > 0);
    return { expand, contract };
  } finally {
    await old.stop();
    if (fresh) expect((await fresh.stop()).failures).toEqual([]);
  }
}

export type { Knex };
