import type { Knex } from 'knex';
import type { Dialect } from '../dialects/dialect';
import type { VerifySpec } from './dual-write';
import type { Throttle } from './throttle';

const CHUNK = 10_000;
const SHOWN = 5;

/**
 * Walks the table in key-range chunks and returns the keys of the first rows
 * where the new shape does not hold what `up` gives for the old one.
 */
export async function findMismatches(dialect: Dialect, spec: VerifySpec, throttle?: Throttle): Promise<unknown[][]> {
  const q = (name: string) => dialect.quote(name);
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const key = spec.key.map(q);
  const keyTuple = key.length === 1 ? key[0] : `(${key.join(', ')})`;
  const params = (values: unknown[]) => (values.length === 1 ? '?' : `(${values.map(() => '?').join(', ')})`);
  const keyOf = (row: Record<string, unknown>) => spec.key.map((k) => row[k]);
  const rows = async (sql: string, bindings: unknown[]) => {
    const result = await dialect.knex.raw(sql, bindings as Knex.RawBinding[]);
    return (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
  };
  const found: unknown[][] = [];
  let last: unknown[] | null = null;
  for (;;) {
    await throttle?.wait();
    const after = last ? `WHERE ${keyTuple} > ${params(last)} ` : '';
    const [upper] = await rows(
      `SELECT ${key.join(', ')} FROM ${table} ${after}ORDER BY ${key.join(', ')} LIMIT 1 OFFSET ${CHUNK - 1}`,
      last ?? [],
    );
    const range = [last ? `${keyTuple} > ${params(last)}` : '', upper ? `${keyTuple} <= ${params(keyOf(upper))}` : ''].filter(Boolean);
    const bad = await rows(
      `SELECT ${key.join(', ')} FROM ${table} WHERE ${[...range, `(${spec.mismatch})`].join(' AND ')} ORDER BY ${key.join(', ')} LIMIT ${SHOWN - found.length}`,
      [...(last ?? []), ...(upper ? keyOf(upper) : [])],
    );
    found.push(...bad.map(keyOf));
    if (found.length >= SHOWN || !upper) return found;
    last = keyOf(upper);
  }
}
