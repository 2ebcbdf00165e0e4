import { positionMarks } from '../bound-sql';

/**
 * How zmigrate's MySQL/MariaDB sessions put bound values into a statement
 * (mysql2's `queryFormat`): each `?` takes the next value, escaped by the
 * driver as its own format escapes it, and `\?` is a question mark (see
 * positionMarks in bound-sql.ts). mysql2's own format
 * puts a value wherever it finds a `?`, in a quoted name or a string too,
 * and leaves `\?` to the server, which keeps the backslash in a quoted name.
 */
export function formatMysqlQuery(this: { escape(value: unknown): string }, sql: string, values: unknown): string {
  const list: unknown[] = Array.isArray(values) ? values : values === undefined || values === null ? [] : [values];
  let next = 0;
  return positionMarks(sql, () => (next < list.length ? this.escape(list[next++]) : '?'));
}
