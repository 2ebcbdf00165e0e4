/**
 * Shared by the dialects' missingPrivilege(): which statement a permission
 * error came from. knex puts the failed statement in front of the driver's
 * message (`create schema "x" - permission denied for database shop`).
 */
const VERBS = ['select', 'insert', 'update', 'delete', 'create', 'alter', 'drop', 'rename', 'truncate', 'with'] as const;
export type StatementVerb = (typeof VERBS)[number];

export function failedStatementVerb(error: unknown): StatementVerb | undefined {
  const text = error instanceof Error ? error.message : String(error);
  // A statement bounded on its own (MariaDB's `SET STATEMENT max_statement_time = … FOR <statement>`) is its statement.
  const first = /^\s*(?:SET\s+STATEMENT\s+.*?\s+FOR\s+)?(\w+)/is.exec(text)?.[1]?.toLowerCase();
  return text.includes(' - ') ? VERBS.find((v) => v === first) : undefined;
}

/** The server's own words, without the statement knex put in front. */
export function serverText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return failedStatementVerb(error) ? text.slice(text.lastIndexOf(' - ') + 3) : text;
}
