/**
 * Cuts a table into consecutive ranges along its walk key, for the backfill
 * and the verification: keyset ranges over key columns, or page ranges over
 * PostgreSQL's `ctid`. A position (checkpoint) is a JSON array either way.
 */
import { bound, params, param, runBound, type Bound } from '../dialects/bound-sql';
import type { Dialect, RowAddress } from '../dialects/dialect';
import type { WalkKey } from './walk-key';
import { resultRows } from './raw-result';
import { firstKey, integerColumn, isInteger, keyValue } from './integer-key';

/** A condition over the table's rows, its values bound. */
export type KeyRange = Bound;

export interface KeyBatch {
  /** The rows after the last position, up to and including `upper`. */
  range: KeyRange;
  /** The position after this batch. */
  upper: unknown[];
  /** The batch reaches the end. */
  final: boolean;
  /**
   * Rows in the range, where known without counting them; for page ranges,
   * those that match `pending` (counted once even if the walk moved them ahead).
   * Unknown for a span of key values (see runBackfill for how they are counted).
   */
  rows?: number;
}

export interface KeyRanges {
  /** Names a row in results (the key columns, or its address). */
  readonly select: string;
  /** Orders rows along the key. */
  readonly order: string;
  keyOf(row: Record<string, unknown>): unknown[];
  /** The position of the last row there is now; undefined for an empty table. */
  end(): Promise<unknown[] | undefined>;
  /** The next range after `last` (the start when null) of about `size` rows, never past `end`. */
  next(last: unknown[] | null, end: unknown[], size: number): Promise<KeyBatch>;
  /** Rows in a range (that match a condition). */
  count(range: KeyRange, condition?: string): Promise<number>;
}

/** `pending`: a condition for the rows a walk still has to do (the backfill's `where`), which page ranges count. */
export function keyRanges(dialect: Dialect, table: string, key: WalkKey, pending?: string): KeyRanges {
  if (key !== 'ctid') return new ColumnRanges(dialect, table, key);
  if (!dialect.rowAddress) throw new Error(`${dialect.displayName} has no row address to walk table ${JSON.stringify(table)} by`);
  return new PageRanges(dialect, dialect.rowAddress, table, pending);
}

abstract class Ranges {
  protected readonly qualified: string;

  constructor(
    protected readonly dialect: Dialect,
    protected readonly table: string,
  ) {
    this.qualified = dialect.qualify(dialect.baseSchema, table);
  }

  protected async rows(statement: Bound): Promise<Array<Record<string, unknown>>> {
    return resultRows(await runBound(this.dialect.knex, statement));
  }

  async count(range: KeyRange, condition?: string): Promise<number> {
    const where = condition ? bound`${range} AND (${condition})` : range;
    const [row] = await this.rows(bound`SELECT COUNT(*) AS n FROM ${this.qualified} WHERE ${where}`);
    return Number(row?.n ?? 0);
  }
}

/**
 * Only a key with at least this many rows per value, on average, is cut by
 * spans of values: a sparser one would take many nearly empty batches.
 */
const SPAN_DENSITY = 0.5;

/**
 * Keyset ranges `(last, upper]` over the key columns, in their order. The
 * upper key is the size-th key after the last one, which the server finds
 * by reading past the rows before it; a dense one-column integer key is cut
 * by spans of `size` values instead, which costs no read. Its keys being
 * unique, a span holds at most `size` rows, however the keys cluster.
 */
class ColumnRanges extends Ranges implements KeyRanges {
  readonly select: string;
  readonly order: string;
  readonly #tuple: string;
  /** Cut by spans, from the first key; null when cut by reading; undefined until decided. */
  #spans: { first: bigint } | null | undefined;

  constructor(
    dialect: Dialect,
    table: string,
    private readonly key: string[],
  ) {
    super(dialect, table);
    const columns = key.map((c) => dialect.quote(c));
    // Read so that they bind back exactly (a timestamp's microseconds, which a JavaScript date would cut), under
    // their own names; ordered by the columns themselves, named with their table (a bare name in ORDER BY would
    // be the text read).
    this.select = columns.map((c) => (dialect.keyText ? `${dialect.keyText(c)} AS ${c}` : c)).join(', ');
    this.order = columns.map((c) => `${this.qualified}.${c}`).join(', ');
    this.#tuple = columns.length === 1 ? columns[0] : `(${columns.join(', ')})`;
  }

  keyOf(row: Record<string, unknown>): unknown[] {
    return this.key.map((k) => row[k]);
  }

  async end(): Promise<unknown[] | undefined> {
    const descending = this.key.map((c) => `${this.qualified}.${this.dialect.quote(c)} DESC`).join(', ');
    const [top] = await this.rows(bound`SELECT ${this.select} FROM ${this.qualified} ORDER BY ${descending} LIMIT 1`);
    return top ? this.keyOf(top) : undefined;
  }

  async next(last: unknown[] | null, end: unknown[], size: number): Promise<KeyBatch> {
    this.#spans ??= await this.#spanning(end);
    if (this.#spans) return this.#span(this.#spans.first, last, end, size);
    const after = last ? bound`${this.#tuple} > ${params(last)} AND ` : '';
    // The batch's upper key: the size-th key after the last one, or the end.
    const [upperRow] = await this.rows(
      bound`SELECT ${this.select} FROM ${this.qualified} WHERE ${after}${this.#tuple} <= ${params(end)} ORDER BY ${this.order} LIMIT 1 OFFSET ${size - 1}`,
    );
    const upper = upperRow ? this.keyOf(upperRow) : end;
    return {
      range: bound`${after}${this.#tuple} <= ${params(upper)}`,
      upper,
      final: !upperRow,
      ...(upperRow ? { rows: size } : {}),
    };
  }

  /** Spans for a one-column integer key with at least SPAN_DENSITY rows per value between its first key and `end`. */
  async #spanning(end: unknown[]): Promise<{ first: bigint } | null> {
    if (this.key.length !== 1 || !isInteger(end[0]) || !(await integerColumn(this.dialect, this.table, this.key[0]))) return null;
    const first = await firstKey(this.dialect, this.table, this.key[0]);
    const rows = await this.dialect.estimateRows(this.table);
    if (!isInteger(first) || !rows) return null;
    const values = BigInt(end[0]) - BigInt(first) + 1n;
    return values > 0n && rows >= Number(values) * SPAN_DENSITY ? { first: BigInt(first) } : null;
  }

  /** The `size` key values after `last` (from the first key when null), up to `end`. */
  #span(first: bigint, last: unknown[] | null, end: unknown[], size: number): KeyBatch {
    const key = this.#tuple;
    const lower = last ? BigInt(last[0] as string | number) : first - 1n;
    const top = lower + BigInt(size);
    const final = top >= BigInt(end[0] as string | number);
    // The end is bound as it was read; a position is JSON, so one past the safe integers is kept as its digits.
    const limit = final ? end[0] : keyValue(top);
    const upper = typeof limit === 'bigint' ? String(limit) : limit;
    return {
      range: last ? bound`${key} > ${param(keyValue(lower))} AND ${key} <= ${param(limit)}` : bound`${key} <= ${param(limit)}`,
      upper: [upper],
      final,
    };
  }
}

/**
 * Page ranges `[last, upper)` over the row address; a position is a page
 * number and the end is the number of pages when the walk started. Rows that
 * move (an UPDATE writes a new row version, maybe on another page) are still
 * right: a row the apps write goes through the dual-write triggers, which
 * fill it, and a row the backfill itself rewrote is filled already; the
 * backfill's `where` condition skips filled rows wherever they land. Pages
 * past the end hold only rows written after the triggers were in place.
 * A batch counts only its pending rows: the backfill's own updates move rows
 * to free space ahead (the last page), which must not count twice.
 */
class PageRanges extends Ranges implements KeyRanges {
  readonly select: string;
  readonly order: string;
  /** Rows per page seen so far, to turn a batch size in rows into pages. */
  #rowsPerPage: number | undefined;

  constructor(
    dialect: Dialect,
    private readonly address: RowAddress,
    table: string,
    private readonly pending: string | undefined,
  ) {
    super(dialect, table);
    this.select = `${address.select} AS ${dialect.quote(ROW_ADDRESS)}`;
    this.order = address.column;
  }

  keyOf(row: Record<string, unknown>): unknown[] {
    return [row[ROW_ADDRESS]];
  }

  async end(): Promise<unknown[] | undefined> {
    const pages = await this.address.pages(this.table);
    if (pages === 0) return undefined;
    const estimate = await this.dialect.estimateRows(this.table);
    if (estimate) this.#rowsPerPage = Math.max(1, estimate / pages);
    return [pages];
  }

  async next(last: unknown[] | null, end: unknown[], size: number): Promise<KeyBatch> {
    const from = Number(last?.[0] ?? 0);
    const pages = Number(end[0]);
    if (this.#rowsPerPage === undefined) {
      // Resumed, or no statistics: learn the density from the table's first pages.
      this.#rowsPerPage = Math.max(1, (await this.count(this.address.pageRange(0, Math.min(pages, 10)))) / Math.min(pages, 10));
    }
    const upper = Math.min(pages, from + Math.max(1, Math.round(size / this.#rowsPerPage)));
    const range = this.address.pageRange(from, upper);
    // Nothing pending to count (a verification, a redo): the walk counts what it finds itself.
    if (this.pending === undefined) return { range, upper: [upper], final: upper >= pages };
    const rows = await this.count(range, this.pending);
    if (rows > 0) this.#rowsPerPage = (this.#rowsPerPage + Math.max(1, rows / (upper - from))) / 2;
    return { range, upper: [upper], final: upper >= pages, rows };
  }
}

/** The result column naming a row's address. */
const ROW_ADDRESS = '_zm_row';
