/** An identifier as written: double-quoted (`""` for a quote), or plain (folded to lower case, as PostgreSQL does). */
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;

const BUILD = new RegExp(
  String.raw`^(?:\s|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/)*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?` +
    String.raw`(${IDENT})\s+ON\s+(?:ONLY\s+)?(?:(${IDENT})\s*\.\s*)?(${IDENT})`,
  'i',
);

function unquote(identifier: string): string {
  return identifier.startsWith('"') ? identifier.slice(1, -1).replace(/""/g, '"') : identifier.toLowerCase();
}

/**
 * The index a raw `CREATE [UNIQUE] INDEX CONCURRENTLY name ON table` builds,
 * where it is named and on a table of the base schema. A build that fails
 * (its wait for older transactions ran past the lock timeout, a duplicate
 * key) leaves an invalid index of that name behind, which the same
 * statement cannot build again ("already exists"), and which a unique one
 * enforces on the apps' writes: the step is guarded as op.createIndex's is,
 * so the invalid index is dropped and the build tried again.
 */
export function indexBuiltConcurrently(statement: string, baseSchema: string): { table: string; index: string } | undefined {
  const found = BUILD.exec(statement);
  if (!found) return undefined;
  const [, index, schema, table] = found;
  if (schema !== undefined && unquote(schema) !== baseSchema) return undefined;
  return { table: unquote(table), index: unquote(index) };
}
