import type { Knex } from 'knex';
import type { Dialect } from '../dialects/dialect';
import type { VerifySpec } from './dual-write';
import { keyRanges } from './key-ranges';

/** Chunks start small and grow while a chunk takes less than the target, so no read runs long. */
const FIRST_CHUNK = 10_000;
const MAX_CHUNK = 500_000;
const CHUNK_TARGET_MS = 250;
const SHOWN = 5;

/**
 * Walks the table in key-range chunks and returns the keys of the first rows
 * where the new shape does not hold what `up` gives for the old one.
 */
export async function findMismatches(dialect: Dialect, spec: VerifySpec): Promise<unknown[][]> {
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const ranges = keyRanges(dialect, spec.table, spec.key);
  const rows = async (sql: string, bindings: unknown[]) => {
    const result = await dialect.knex.raw(sql, bindings as Knex.RawBinding[]);
    return (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
  };
  const found: unknown[][] = [];
  const end = await ranges.end();
  let last: unknown[] | null = null;
  let size = FIRST_CHUNK;
  while (end) {
    const started = Date.now();
    const chunk = await ranges.next(last, end, size);
    const bad = await rows(
      `SELECT ${ranges.select} FROM ${table} WHERE ${chunk.range.sql} AND (${spec.mismatch}) ORDER BY ${ranges.order} LIMIT ${SHOWN - found.length}`,
      chunk.range.bindings,
    );
    found.push(...bad.map((row) => ranges.keyOf(row)));
    if (found.length >= SHOWN || chunk.final) break;
    last = chunk.upper;
    if (Date.now() - started < CHUNK_TARGET_MS / 2) size = Math.min(MAX_CHUNK, size * 2);
  }
  return found;
}
