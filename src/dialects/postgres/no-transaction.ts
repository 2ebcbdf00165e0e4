import { codeOf, POSTGRES_LEX } from '../sql-split';

/**
 * Statements PostgreSQL refuses to run inside a transaction block. Raw SQL
 * runs each of them alone, between its transactions; `zmigrate lint` reads
 * where those transactions end from the same test. Only code counts: a
 * leading comment, or CONCURRENTLY in a comment or a string, does not.
 */
export function needsNoTransaction(statement: string): boolean {
  const code = codeOf(statement, POSTGRES_LEX);
  return (
    /\bCONCURRENTLY\b/i.test(code) ||
    /^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|REINDEX\s+.*\bCONCURRENTLY)\b/i.test(code)
  );
}
