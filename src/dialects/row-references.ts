/**
 * Whether a trigger's body names `column` of the row it fires for, as
 * `NEW.column` or `OLD.column`, bare or in the engine's identifier quotes:
 * such a trigger fails on every write once the column is gone or renamed.
 * A read of the text, not of its meaning: a mention in a comment counts too.
 */
export function namesRowColumn(body: string, column: string, quote: (name: string) => string): boolean {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const bare = /^[A-Za-z_][\w$]*$/.test(column) ? `|${escape(column)}\\b` : '';
  return new RegExp(`\\b(NEW|OLD)\\s*\\.\\s*(${escape(quote(column))}${bare})`, 'i').test(body);
}
