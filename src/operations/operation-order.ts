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
 * (the rebuilt index would be swapped in for it); a partial index, or a
 * check, on a table alterColumn changes in the same migration; and two
 * alterColumns of columns one index (or the primary key) covers. Adding an
 * index or a unique key on a column added, renamed or retyped earlier in the
 * migration is fine.
 */
export function checkOperationOrder(migration: string, operations: readonly Operation[], model: SchemaModel): void {
  const { rules } = model;
  const sameTable = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && rules.sameTable(a, b);
  const refuse = (operation: Operation, what: string, hint = 'put this change in a migration of its own, after this one'): never => {
    throw new ValidationError(migration, `${operation.describe()}: ${what}`, { hint });
  };
  const byEarlier = (what: string, earlier: Operation) => `${what} by an earlier operation of this migration (${earlier.describe()})`;
  const done: Named[] = [];
  for (const operation of operations as Named[]) {
    for (const earlier of done) {
      const table = tableNames(operation).find((t) => tableNames(earlier).some((e) => sameTable(t, e)));
      if (table === undefined) continue;
      if (TAKES_TABLE.has(earlier.kind))
        refuse(operation, byEarlier(`table ${JSON.stringify(table)} is ${earlier.kind === 'dropTable' ? 'dropped' : 'renamed'}`, earlier));
      if (TAKES_TABLE.has(operation.kind)) refuse(operation, byEarlier(`table ${JSON.stringify(table)} is changed`, earlier));
      const column = columnNames(operation).find((c) => columnNames(earlier).some((e) => rules.sameColumn(c, e)));
      if (column !== undefined)
        refuse(operation, byEarlier(`column ${JSON.stringify(column)} of ${JSON.stringify(table)} is changed`, earlier));
    }
    done.push(operation);
  }
  const altered = (operations as Named[]).filter((o) => o.kind === 'alterColumn');
  for (const operation of operations as Array<Named & { spec?: { where?: unknown } }>) {
    const alter = altered.find((o) => o !== operation && sameTable(o.table, operation.table));
    if (!alter) continue;
    // A partial index is planned before it is built, its predicate's columns unknown: alterColumn could neither
    // rebuild it on the new column nor keep it from going with the old one. A check is added over the old column,
    // which alterColumn's contract drops with it.
    if (operation.kind === 'createIndex' && operation.spec?.where !== undefined)
      refuse(
        operation,
        `a partial index, in the migration where ${alter.describe()} rebuilds the table's indexes`,
        'create the index in a migration of its own, after this one',
      );
    if (operation.kind === 'addCheck')
      refuse(
        operation,
        `a check on a table whose column ${alter.describe()} replaces in the same migration`,
        'add the check in a migration of its own, after this one',
      );
    const table = model.table(operation.table!);
    // The index a dropIndex drops would be rebuilt on the new column and swapped in for it.
    if (operation.kind === 'dropIndex') {
      const index = table?.indexes.find((i) => rules.sameColumn(i.name, operation.name!));
      const rebuilder = altered.find(
        (o) => sameTable(o.table, operation.table) && (index?.uses ?? index?.columns ?? []).some((c) => rules.sameColumn(c, o.column!)),
      );
      if (rebuilder)
        refuse(
          operation,
          `the index is on ${operation.table}.${rebuilder.column}, which ${rebuilder.describe()} rebuilds`,
          'drop the index in a migration of its own, before this one',
        );
    }
    // Each alterColumn rebuilds the indexes over its column from the index as it is: two on one index would each
    // build it over the other's old column, which the other's contract drops.
    if (operation.kind === 'alterColumn') {
      const keys = [
        ...(table?.indexes ?? []).map((x) => ({ name: `index ${JSON.stringify(x.name)}`, columns: x.uses ?? x.columns })),
        { name: 'the primary key', columns: table?.primaryKey ?? [] },
      ];
      const covering = (o: Named) => keys.filter((k) => k.columns.some((c) => rules.sameColumn(c, o.column!)));
      const earlier = altered.slice(0, altered.indexOf(operation)).find((o) => sameTable(o.table, operation.table));
      const shared = earlier && covering(operation).find((k) => covering(earlier).includes(k));
      if (earlier && shared)
        refuse(
          operation,
          `${shared.name} covers both it and the column of ${earlier.describe()}`,
          'put this change in a migration of its own, after this one',
        );
    }
  }
}
