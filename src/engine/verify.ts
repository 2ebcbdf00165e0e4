import { bound, param, runBound, type Bound } from '../dialects/bound-sql';
import type { Dialect, RowAddress } from '../dialects/dialect';
import type { VerifySpec } from './dual-write';
import { keyRanges } from './key-ranges';
import { resultRows } from './raw-result';
import { firstKey, integerColumn, isInteger, keyValue, type IntegerKey as Key } from './integer-key';

/** Chunks start small and grow while a chunk takes less than the target, so no read runs long. */
const FIRST_CHUNK = 10_000;
const MAX_CHUNK = 500_000;
const CHUNK_TARGET_MS = 250;
const SHOWN = 5;
/** The same, in pages, for a walk by row address. */
const FIRST_PAGES = 128;
const MAX_PAGES = 32_768;

type Rows = (statement: Bound) => Promise<Array<Record<string, unknown>>>;
/** Called before each chunk: waits while replicas lag, throws where the run was asked to stop. */
type BetweenChunks = () => Promise<void>;

/**
 * Walks the table in key-range chunks and returns the keys of the first rows
 * where the new shape does not hold what `up` gives for the old one. With
 * `jobs` > 1 (and an engine with more sessions), the table is cut into that
 * many segments, walked side by side.
 */
export async function findMismatches(
  dialect: Dialect,
  spec: VerifySpec,
  between: BetweenChunks = async () => undefined,
  jobs = 1,
): Promise<unknown[][]> {
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const ranges = keyRanges(dialect, spec.table, spec.key);
  const sessions = jobs > 1 && dialect.workerSessions ? dialect.workerSessions(jobs) : dialect.knex;
  const segments = sessions === dialect.knex ? 1 : jobs;
  const rows: Rows = async (statement) => resultRows(await runBound(sessions, statement));
  // Pages need no look at the key's end first.
  if (spec.key !== 'ctid' && dialect.rowAddress) {
    const address = dialect.rowAddress;
    const key = spec.key;
    const pages = await address.pages(spec.table);
    const cuts = Array.from({ length: segments + 1 }, (_, i) => Math.round((pages * i) / segments));
    return inOrder(cuts.slice(1).map((to, i) => pageWalk(dialect, address, spec, key, cuts[i], to, rows, between)));
  }
  const found: unknown[][] = [];
  const end = await ranges.end();
  if (end && spec.key !== 'ctid' && spec.key.length === 1) {
    const column = spec.key[0];
    const start = await firstKey(dialect, spec.table, column);
    if ((await integerColumn(dialect, spec.table, column)) && isInteger(start) && isInteger(end[0])) {
      const cuts = await cutPoints(dialect, spec.table, column, start, end[0], segments);
      return inOrder(cuts.slice(1).map((to, i) => integerWalk(dialect, spec, column, cuts[i] ?? start, i === 0, to!, rows, between)));
    }
    return singleColumnWalk(dialect, spec, column, end[0], rows, between);
  }
  let last: unknown[] | null = null;
  let size = FIRST_CHUNK;
  while (end) {
    await between();
    const started = Date.now();
    const chunk = await ranges.next(last, end, size);
    const bad = await rows(
      bound`SELECT ${ranges.select} FROM ${table} WHERE ${chunk.range} AND (${spec.mismatch}) ORDER BY ${ranges.order} LIMIT ${SHOWN - found.length}`,
    );
    found.push(...bad.map((row) => ranges.keyOf(row)));
    if (found.length >= SHOWN || chunk.final) break;
    last = chunk.upper;
    if (Date.now() - started < CHUNK_TARGET_MS / 2) size = Math.min(MAX_CHUNK, size * 2);
  }
  return found;
}

/** The keys the segments found, the first segment's first, at most SHOWN. */
async function inOrder(segments: Array<Promise<unknown[][]>>): Promise<unknown[][]> {
  return (await Promise.all(segments)).flat().slice(0, SHOWN);
}

/**
 * Where to cut an integer key into `segments` walks: keys of the table about
 * evenly spaced between its first key and `end`, then `end`. A cut is a key
 * read from the table and bound as it was read, so the segments `(cut, next]`
 * meet exactly, whatever the server converts when it compares.
 */
async function cutPoints(
  dialect: Dialect,
  table: string,
  column: string,
  start: Key,
  end: Key,
  segments: number,
): Promise<Array<Key | undefined>> {
  const low = BigInt(start);
  const span = BigInt(end) - low;
  const cuts: Array<Key | undefined> = [undefined];
  for (let i = 1; i < segments; i++) {
    const at = (await firstKey(dialect, table, column, keyValue(low + (span * BigInt(i)) / BigInt(segments)))) as Key | undefined;
    if (at !== undefined && String(at) !== String(cuts[cuts.length - 1]) && String(at) !== String(end)) cuts.push(at);
  }
  cuts.push(end);
  return cuts;
}

/**
 * An integer key walked by spans of key values rather than counts of rows:
 * each chunk is one range scan that returns only wrong rows, with no look
 * for the chunk's end. The span grows while chunks are quick and shrinks
 * when one is slow, so sparse and dense stretches both stay near the target.
 * Walks `[from, end]` when `inclusive`, else `(from, end]`; every bound is
 * bound as an exact integer, so neighbouring segments meet exactly.
 */
async function integerWalk(
  dialect: Dialect,
  spec: VerifySpec,
  column: string,
  from: Key,
  inclusive: boolean,
  end: Key,
  rows: Rows,
  between: BetweenChunks,
): Promise<unknown[][]> {
  const key = dialect.quote(column);
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const last = BigInt(end);
  const found: unknown[][] = [];
  let lower = BigInt(from);
  let after = inclusive ? '>=' : '>';
  let span = BigInt(FIRST_CHUNK);
  while ((after === '>=' ? lower <= last : lower < last) && found.length < SHOWN) {
    await between();
    const started = Date.now();
    const upper = last - lower > span ? lower + span : last;
    const bad = await rows(
      bound`SELECT ${key} FROM ${table} WHERE ${key} ${after} ${param(keyValue(lower))} AND ${key} <= ${param(keyValue(upper))} AND (${spec.mismatch}) ORDER BY ${key} LIMIT ${SHOWN - found.length}`,
    );
    found.push(...bad.map((row) => [row[column]]));
    lower = upper;
    after = '>';
    const took = Date.now() - started;
    if (took < CHUNK_TARGET_MS / 2) span *= 2n;
    else if (took > CHUNK_TARGET_MS * 2 && span > 1n) span /= 2n;
  }
  return found;
}

/**
 * One pass per chunk for a one-column key that is not an integer: the
 * chunk's last key and how many of its rows are wrong come from one scan (no
 * separate look-ahead for the chunk's end); the wrong keys are listed only
 * for a chunk that has some.
 */
async function singleColumnWalk(
  dialect: Dialect,
  spec: VerifySpec,
  column: string,
  end: unknown,
  rows: Rows,
  between: BetweenChunks,
): Promise<unknown[][]> {
  const q = (name: string) => dialect.quote(name);
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const key = q(column);
  const found: unknown[][] = [];
  let last: unknown = undefined;
  let size = FIRST_CHUNK;
  for (;;) {
    await between();
    const started = Date.now();
    const range = last === undefined ? bound`${key} <= ${param(end)}` : bound`${key} > ${param(last)} AND ${key} <= ${param(end)}`;
    const [tally] = await rows(
      bound`SELECT MAX(${key}) AS ${q('_zm_upper')}, COUNT(*) AS ${q('_zm_rows')}, SUM(${q('_zm_bad')}) AS ${q('_zm_bad')}
         FROM (SELECT ${key}, CASE WHEN (${spec.mismatch}) THEN 1 ELSE 0 END AS ${q('_zm_bad')}
                 FROM ${table} WHERE ${range} ORDER BY ${key} LIMIT ${size}) AS ${q('_zm_chunk')}`,
    );
    const count = Number(tally?._zm_rows ?? 0);
    if (count === 0) return found;
    const upper = tally._zm_upper;
    if (Number(tally._zm_bad ?? 0) > 0) {
      const bad = await rows(
        bound`SELECT ${key} FROM ${table} WHERE ${range} AND ${key} <= ${param(upper)} AND (${spec.mismatch}) ORDER BY ${key} LIMIT ${SHOWN - found.length}`,
      );
      found.push(...bad.map((row) => [row[column]]));
      if (found.length >= SHOWN) return found;
    }
    if (count < size) return found;
    last = upper;
    if (Date.now() - started < CHUNK_TARGET_MS / 2) size = Math.min(MAX_CHUNK, size * 2);
  }
}

/**
 * PostgreSQL: chunks of pages `[from, to)` read in order (a TID range scan),
 * the cheapest way through a heap that the backfill just filled with dead
 * row versions. The wrong rows are named by their key. A row an app updates
 * while this runs may be seen in its old version or, moved to a page already
 * read, not at all: either way it was written through the triggers.
 */
async function pageWalk(
  dialect: Dialect,
  address: RowAddress,
  spec: VerifySpec,
  key: string[],
  start: number,
  pages: number,
  rows: Rows,
  between: BetweenChunks,
): Promise<unknown[][]> {
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const columns = key.map((k) => dialect.quote(k)).join(', ');
  const found: unknown[][] = [];
  let size = FIRST_PAGES;
  for (let from = start; from < pages && found.length < SHOWN;) {
    await between();
    const started = Date.now();
    const to = Math.min(pages, from + size);
    const range = address.pageRange(from, to);
    const bad = await rows(bound`SELECT ${columns} FROM ${table} WHERE ${range} AND (${spec.mismatch}) LIMIT ${SHOWN - found.length}`);
    found.push(...bad.map((row) => key.map((k) => row[k])));
    from = to;
    if (Date.now() - started < CHUNK_TARGET_MS / 2) size = Math.min(MAX_PAGES, size * 2);
  }
  return found;
}
