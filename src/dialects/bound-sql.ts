/**
 * Statements with bound values, built so that only zmigrate's own
 * placeholders are placeholders.
 *
 * knex reads every `?` of a raw statement as a placeholder and `\?` as a
 * question mark. zmigrate's sessions read them as `positionMarks` says (its
 * PostgreSQL clients, see postgres/client.ts, and its MySQL/MariaDB sessions,
 * see formatMysqlQuery): after an odd run of backslashes a `?` is a question
 * mark and the run is halved, so a backslash before a question mark can be
 * written too. Names and expressions from a migration may hold a `?` of their
 * own: a table `"paid?"`, `coalesce(note, '?')`, PostgreSQL's jsonb `?`
 * operator, a regular expression's `'\?'`. In a statement built with `bound`,
 * every interpolated string is such text and has its marks escaped; a value
 * goes in as `param(value)`, which brings its placeholder and its binding
 * together, in order.
 */
import type { Knex } from 'knex';

/** SQL text with the values its placeholders take, in order. */
export interface Bound {
  readonly sql: string;
  readonly bindings: readonly unknown[];
}

/** Text to be read as written: every `?` escaped, the backslashes right before it doubled (asWritten undoes it). */
export function literalMarks(text: string): string {
  return text.replace(/(\\*)\?/g, (_, slashes: string) => `${slashes}${slashes}\\?`);
}

/**
 * A statement's question marks as zmigrate's sessions read them: after an
 * odd run of backslashes a question mark, the run halved (the inverse of
 * literalMarks); otherwise the next placeholder, as `placeholder` writes it.
 */
export function positionMarks(sql: string, placeholder: () => string): string {
  return sql.replace(/(\\*)\?/g, (_, slashes: string) => '\\'.repeat(slashes.length >> 1) + (slashes.length % 2 ? '?' : placeholder()));
}

/**
 * A statement or a fragment of one: strings and numbers go in as text (names,
 * expressions, keywords), Bound parts with their bindings. The template's own
 * text holds no placeholder: values go in as `param`.
 */
export function bound(parts: TemplateStringsArray, ...values: Array<string | number | Bound>): Bound {
  if (parts.some((part) => part.includes('?'))) throw new Error(`a bound statement takes its values as param(): ${parts.join('…')}`);
  let sql = parts[0];
  const bindings: unknown[] = [];
  values.forEach((value, i) => {
    if (typeof value === 'object') {
      sql += value.sql;
      bindings.push(...value.bindings);
    } else {
      sql += literalMarks(String(value));
    }
    sql += parts[i + 1];
  });
  return { sql, bindings };
}

/** Text as the server gets it, each escaped `\?` a question mark again (as a plan shows a statement, and as `ddl` takes it). */
export function asWritten(text: string): string {
  return positionMarks(text, () => '?');
}

/** Runs a bound statement on a session or in a transaction. */
export function runBound(knex: Knex, statement: Bound): Knex.Raw {
  return knex.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
}

/** One bound value. */
export function param(value: unknown): Bound {
  return { sql: '?', bindings: [value] };
}

/** A key's values: one placeholder for one column, a row `(?, ?)` for more. */
export function params(values: readonly unknown[]): Bound {
  return values.length === 1 ? param(values[0]) : { sql: `(${values.map(() => '?').join(', ')})`, bindings: [...values] };
}

/** Fragments one after another, with `separator` (text) between them. */
export function joined(fragments: readonly Bound[], separator: string): Bound {
  return {
    sql: fragments.map((f) => f.sql).join(literalMarks(separator)),
    bindings: fragments.flatMap((f) => f.bindings),
  };
}
