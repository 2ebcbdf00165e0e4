import { ValidationError } from '../errors';
import type { SchemaModel } from '../engine/schema-model';
import type { Operation } from './operation';

/** An operation's fields, as far as this check reads them (each operation class has some of them). */
type Named = Operation & { table?: string; column?: string; from?: string; to?: string; name?: string };

/** Operations that change a column itself: add it, rename it, retype it, fill it or drop it. */
const RESHAPES_COLUMN: ReadonlySet<string> = new Set(['addColumn', 'renameColumn', 'alterColumn', 'setNotNull', 'dropColumn']);

/** The names of the column an operation reshapes (a rename has two), or none. */
function columnNames(operation: Named): string[] {
  if (!RESHAPES_COLUMN.has(operation.kind)) return [];
  return operation.kind === 'renameColumn' ? [operation.from!, operation.to!] : [operation.column!];
}

/** Operations after which the table is gone by the name it had: no other operation of the migration may name it. */
const TAKES_TABLE: ReadonlySet<string> = new Set(['renameTable', 'dropTable']);

/** The names of the table an operation works on (a rename has two). */
function tableNames(operation: Named): string[] {
  if (operation.kind === 'renameTable') return [operation.from!, operation.to!];
  return operation.table === undefined ? [] : [operation.table];
}

/**
 * Each operation of a migration is planned against the version before it,
 * and contracted in order, each on the table as the operations before it
 * leave it. Two operations that reshape the same thing in one migration
 * would each plan against a shape the other one changes at contract (a
 * table renamed before its index is dropped, a column retyped and then set
 * NOT NULL): they are refused before anything changes, and go in migrations
 * of their own, one after the other.
 *
 * Refused: a table renamed or dropped along with any other operation on it
 * (the version after the migration no longer has the table by the name the
 * other one gives); an operation that reshapes a column after another that
 * reshaped it; dropping an index on a column that alterColumn rebuilds
 * (the rebuilt index would be swapped in for it); and a partial index on a
 * table alterColumn changes in the same migration. Adding an index, a key or
 * a check on a column added, renamed or retyped earlier in the migration is
 * fine.
 */
export function checkOperationOrder(migration: string, operations: readonly Operation[], model: SchemaModel): void {
  const { rules } = model;
  const sameTable = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && rules.sameTable(a, b);
  const refuse = (operation: Operation, what: string, earlier: Operation): never => {
    throw new ValidationError(
      migration,
      `${operation.describe()}: ${what} by an earlier operation of this migration (${earlier.describe()})`,
      {
        hint: 'put this change in a migration of its own, after this one',
      },
    );
  };
  const done: Named[] = [];
  for (const operation of operations as Named[]) {
    for (const earlier of done) {
      const table = tableNames(operation).find((t) => tableNames(earlier).some((e) => sameTable(t, e)));
      if (table === undefined) continue;
      if (TAKES_TABLE.has(earlier.kind))
        refuse(operation, `table ${JSON.stringify(table)} is ${earlier.kind === 'dropTable' ? 'dropped' : 'renamed'}`, earlier);
      if (TAKES_TABLE.has(operation.kind)) refuse(operation, `table ${JSON.stringify(table)} is changed`, earlier);
      const column = columnNames(operation).find((c) => columnNames(earlier).some((e) => rules.sameColumn(c, e)));
      if (column !== undefined) refuse(operation, `column ${JSON.stringify(column)} of ${JSON.stringify(table)} is changed`, earlier);
    }
    done.push(operation);
  }
  // A partial index is planned without its predicate's columns known (it is not built yet): alterColumn could
  // neither rebuild it on the new column nor keep it from going with the old one.
  for (const partial of operations as Array<Named & { spec?: { where?: unknown } }>) {
    if (partial.kind !== 'createIndex' || partial.spec?.where === undefined) continue;
    const altered = (operations as Named[]).find((o) => o.kind === 'alterColumn' && sameTable(o.table, partial.table));
    if (altered)
      throw new ValidationError(
        migration,
        `${partial.describe()}: a partial index, in the migration where ${altered.describe()} rebuilds the table's indexes`,
        {
          hint: 'create the index in a migration of its own, after this one',
        },
      );
  }
  for (const drop of operations as Named[]) {
    if (drop.kind !== 'dropIndex') continue;
    const index = model.table(drop.table!)?.indexes.find((i) => rules.sameColumn(i.name, drop.name!));
    const altered = (operations as Named[]).find(
      (o) =>
        o.kind === 'alterColumn' &&
        sameTable(o.table, drop.table) &&
        (index?.uses ?? index?.columns ?? []).some((c) => rules.sameColumn(c, o.column!)),
    );
    if (altered)
      throw new ValidationError(
        migration,
        `${drop.describe()}: the index is on ${drop.table}.${altered.column}, which ${altered.describe()} rebuilds`,
        {
          hint: 'drop the index in a migration of its own, before this one',
        },
      );
  }
}
