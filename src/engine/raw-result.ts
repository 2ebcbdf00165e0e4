/**
 * What `knex.raw` resolves to differs by driver: mysql2 gives `[rows, fields]`
 * (or `[header]` for a write), pg gives `{ rows, rowCount }`.
 */

/** The rows of a raw query's result, on either driver. */
export function resultRows(result: unknown): Array<Record<string, unknown>> {
  return (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
}

/** The rows a raw UPDATE changed, on either driver. */
export function changedRows(result: unknown): number {
  const header = (Array.isArray(result) ? result[0] : result) as { affectedRows?: number; rowCount?: number };
  return Number(header.affectedRows ?? header.rowCount ?? 0);
}

/** A positive figure from a server's statistics (drivers give bigint and DECIMAL as strings), or undefined. */
export function positiveFigure(value: unknown): number | undefined {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
