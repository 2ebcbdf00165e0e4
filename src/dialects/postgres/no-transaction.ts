/**
 * Statements PostgreSQL refuses to run inside a transaction block. Raw SQL
 * runs each of them alone, between its transactions; `zmigrate lint` reads
 * where those transactions end from the same test.
 */
export function needsNoTransaction(statement: string): boolean {
  return (
    /\bCONCURRENTLY\b/i.test(statement) ||
    /^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|REINDEX\s+.*\bCONCURRENTLY)\b/i.test(statement)
  );
}
