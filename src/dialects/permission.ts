/**
 * Shared by the dialects' missingPrivilege(): which statement a permission
 * error came from. knex puts the failed statement in front of the driver's
 * message (`create schema "x" - permission denied for database shop`).
 */
const VERBS = ['select', 'insert', 'update', 'delete', 'create', 'alter', 'drop', 'rename', 'truncate', 'with'] as const;
export type StatementVerb = (typeof VERBS)[number];
/** The first words of the statements zmigrate runs: the privilege verbs, and SET. */
const LEADING: ReadonlySet<string> = new Set([...VERBS, 'set']);

export function failedStatementVerb(error: unknown): StatementVerb | undefined {
  const text = error instanceof Error ? error.message : String(error);
  const first = leadingWord(text);
  return text.includes(' - ') ? VERBS.find((v) => v === first) : undefined;
}

/** A statement's first word, lower case; a statement bounded on its own (MariaDB's `SET STATEMENT max_statement_time = … FOR <statement>`) is its statement. */
function leadingWord(text: string): string | undefined {
  return /^\s*(?:SET\s+STATEMENT\s+.*?\s+FOR\s+)?(\w+)/is.exec(text)?.[1]?.toLowerCase();
}

/** The server's own words, without the statement knex put in front. */
export function serverText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = leadingWord(text);
  return text.includes(' - ') && first !== undefined && LEADING.has(first) ? text.slice(text.lastIndexOf(' - ') + 3) : text;
}
