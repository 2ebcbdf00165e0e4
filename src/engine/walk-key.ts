/**
 * What the backfill, backfill jobs and verification walk a table by: the one
 * place that chooses it, so they all agree.
 */
import type { IndexModel, TableModel } from './schema-model';

/**
 * Columns that tell every row apart, walked in order (the primary key, else a
 * unique key over NOT NULL columns), or `'ctid'`: PostgreSQL's physical row
 * address, walked in ranges of pages, for a table with no such key.
 */
export type WalkKey = string[] | 'ctid';

/**
 * The primary key; else the unique key whose columns are all NOT NULL (not
 * partial, no expressions), the one with the fewest columns, ties broken by
 * name; else `'ctid'` where the engine has a row address; else undefined.
 */
export function chooseWalkKey(table: TableModel, rowAddress: boolean): WalkKey | undefined {
  if (table.primaryKey.length > 0) return table.primaryKey;
  const [best] = uniqueKeys(table)
    .filter((i) => nullableColumns(table, i).length === 0)
    .sort((a, b) => a.columns.length - b.columns.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (best) return best.columns;
  return rowAddress ? 'ctid' : undefined;
}

/** Why a table has no walk key, and what to add: for the refusal. */
export function missingWalkKey(table: TableModel): { reason: string; hint: string } {
  const nullable = uniqueKeys(table).map((i) => `${JSON.stringify(i.name)} (${nullableColumns(table, i).join(', ')})`);
  return {
    reason:
      nullable.length > 0
        ? `has no primary key, and its unique keys have NULLable columns: ${nullable.join('; ')}`
        : 'has no primary key and no unique key over NOT NULL columns',
    hint: 'add a primary key, or a unique key over NOT NULL columns, in an earlier migration (op.sql)',
  };
}

/** Unique keys zmigrate could walk if their columns were NOT NULL (not its own shadow indexes). */
function uniqueKeys(table: TableModel): IndexModel[] {
  return table.indexes.filter((i) => i.unique && !i.special && i.columns.length > 0 && !i.name.startsWith('_zm_'));
}

function nullableColumns(table: TableModel, index: IndexModel): string[] {
  return index.columns.filter((c) => table.columns.find((column) => column.name === c)?.nullable !== false);
}

/** The key's columns as SQL, for the plan's description of a step. */
export function walkKeySql(key: WalkKey, quote: (name: string) => string): string {
  return key === 'ctid' ? 'ctid' : key.map(quote).join(', ');
}
