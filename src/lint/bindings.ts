import type { RecordedStatement } from '../engine/custom';
import { positionMarks } from '../dialects/bound-sql';
import { mapCode, POSTGRES_LEX } from '../dialects/sql-split';
import type { LintEngine } from './statement';

/**
 * A statement a custom phase sent, with its bound values written in as
 * literals, so that the rules see them: `knex.raw("SELECT set_config('lock_timeout', ?, false)", ['0'])`
 * reads as `set_config('lock_timeout', '0', false)`. For lint only: nothing
 * built here is ever run.
 */
export function withLiterals(engine: LintEngine, statement: RecordedStatement): string {
  const { bindings, marked } = statement;
  if (bindings.length === 0) return statement.sql;
  if (engine === 'mysql') {
    let next = 0;
    return positionMarks(marked, () => (next < bindings.length ? literal(engine, bindings[next++]) : '?'));
  }
  return mapCode(marked, POSTGRES_LEX, (code) =>
    code.replace(/(?<![A-Za-z0-9_$])\$(\d+)/g, (placeholder, n: string) =>
      Number(n) >= 1 && Number(n) <= bindings.length ? literal(engine, bindings[Number(n) - 1]) : placeholder,
    ),
  );
}

/** A value as a SQL literal of the engine (a string quoted, MySQL's backslashes escaped). */
function literal(engine: LintEngine, value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const escaped = engine === 'mysql' ? text.replace(/\\/g, '\\\\') : text;
  return `'${escaped.replace(/'/g, "''")}'`;
}
