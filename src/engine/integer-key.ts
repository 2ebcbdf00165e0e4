/**
 * A one-column integer key, which walks may cut by arithmetic on key values
 * (a span of values) instead of counting rows to find where a range ends.
 */
import { bound, param, runBound } from '../dialects/bound-sql';
import type { Dialect } from '../dialects/dialect';
import { resultRows } from './raw-result';

export type IntegerKey = number | string;

const INTEGER_TYPES = ['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'];

/** A key value as the drivers return it (a number, or a string for PostgreSQL's bigint) that is an exact integer. */
export function isInteger(value: unknown): value is IntegerKey {
  return (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value));
}

/** An integer for binding: a number while exact, else a BigInt (which both drivers write out in full, never as a float). */
export function keyValue(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
}

/** Only an integer column's keys may be cut by arithmetic: a text key's order is not its digits'. */
export async function integerColumn(dialect: Dialect, table: string, column: string): Promise<boolean> {
  const [row] = resultRows(
    await dialect.knex.raw(
      'SELECT data_type AS type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?',
      [dialect.baseSchema, table, column],
    ),
  );
  return INTEGER_TYPES.includes(String(row?.type ?? '').toLowerCase());
}

/** The table's first key, or its first key at or after `atLeast`. */
export async function firstKey(dialect: Dialect, table: string, column: string, atLeast?: number | bigint): Promise<unknown> {
  const key = dialect.quote(column);
  const from = atLeast === undefined ? '' : bound` WHERE ${key} >= ${param(atLeast)}`;
  const select = bound`SELECT ${key} FROM ${dialect.qualify(dialect.baseSchema, table)}${from} ORDER BY ${key} LIMIT 1`;
  const [row] = resultRows(await runBound(dialect.knex, select));
  return row?.[column];
}
