import type { Dialect } from '../dialects/dialect';
import type { ColumnSpec } from '../migration/types';
import { ValidationError } from '../errors';

/** Any string is a valid identifier (it is always quoted); only its length and NUL are limited. */
export function checkIdentifier(dialect: Dialect, migration: string, what: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(migration, `${what} must be a non-empty string`);
  }
  if (name.includes('\0')) throw new ValidationError(migration, `${what} ${JSON.stringify(name)} contains a NUL character`);
  const max = dialect.capabilities.maxIdentifierLength;
  if (Buffer.byteLength(name, 'utf8') > max) {
    throw new ValidationError(migration, `${what} ${JSON.stringify(name)} is longer than ${max} bytes`);
  }
  return name;
}

/**
 * Types, defaults, predicates and up/down expressions are SQL by design. They
 * come from the migration's author, not from end users; this only makes sure
 * each is a single fragment, so a stray semicolon cannot smuggle in a statement.
 */
export function checkSqlFragment(dialect: Dialect, migration: string, what: string, sql: unknown): string {
  if (typeof sql !== 'string' || sql.trim() === '') {
    throw new ValidationError(migration, `${what} must be a non-empty SQL string`);
  }
  const { statements, hasComments } = dialect.lexSql(sql);
  if (statements.length !== 1 || hasComments || /;\s*$/.test(sql)) {
    throw new ValidationError(migration, `${what} must be a single SQL expression without semicolons or comments: ${JSON.stringify(sql)}`);
  }
  return sql.trim();
}

export function checkColumnSpec(dialect: Dialect, migration: string, where: string, spec: ColumnSpec): void {
  if (typeof spec !== 'object' || spec === null) {
    throw new ValidationError(migration, `${where}: column spec must be an object like { type: 'integer' }`);
  }
  checkSqlFragment(dialect, migration, `${where}: type`, spec.type);
  if (spec.default !== undefined) checkSqlFragment(dialect, migration, `${where}: default`, spec.default);
  if (spec.nullable !== undefined && typeof spec.nullable !== 'boolean') {
    throw new ValidationError(migration, `${where}: nullable must be true or false`);
  }
}
