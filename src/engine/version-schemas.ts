import type { Dialect } from '../dialects/dialect';
import type { Operation } from '../operations/operation';
import { SchemaModel, VersionView, type ViewTable } from './schema-model';
import type { Step } from './step';

/** Helper columns zmigrate adds (dual-write shadows) start with this; no version sees them (a column of yours such as `_zmodified` it leaves alone). */
export const HELPER_PREFIX = '_zm_';

export function isHelperColumn(name: string): boolean {
  return name.startsWith(HELPER_PREFIX);
}

export function versionSchemaName(dialect: Dialect, migration: string): string {
  return `${dialect.baseSchema}_${migration}`;
}

/** Table name → column names: what a schema held at one moment. */
export type Snapshot = Record<string, string[]>;

/** Physical objects a migration's expand added. */
export interface Introduced {
  tables: string[];
  columns: Array<{ table: string; column: string }>;
}

export function snapshot(model: SchemaModel): Snapshot {
  return Object.fromEntries(model.tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
}

/** What `model` has that `before` had not (helper columns aside). */
export function introducedSince(model: SchemaModel, before: Snapshot): Introduced {
  const introduced: Introduced = { tables: [], columns: [] };
  for (const table of model.tables) {
    const old = before[table.name];
    if (!old) {
      introduced.tables.push(table.name);
      continue;
    }
    for (const column of table.columns) {
      if (!isHelperColumn(column.name) && !old.includes(column.name)) introduced.columns.push({ table: table.name, column: column.name });
    }
  }
  return introduced;
}

export interface LiveMigration {
  name: string;
  operations: readonly Operation[];
  /** Operations whose expand has been planned (all, once expanded). */
  planned: number;
  introduced: Introduced;
}

/**
 * The view of the last contracted state: the physical tables, minus helper
 * columns and minus what live migrations introduced.
 */
export function committedView(model: SchemaModel, live: readonly LiveMigration[]): VersionView {
  const view = VersionView.identity(model, isHelperColumn);
  for (const { introduced } of live) {
    for (const table of introduced.tables) view.removeTable(table);
    for (const { table, column } of introduced.columns) {
      const t = view.tables.find((v) => v.source === table);
      if (t) t.columns = t.columns.filter((c) => c.source !== column);
    }
  }
  return view;
}

/** The view of each live migration's version, in order, each built on the one before. */
export function liveViews(model: SchemaModel, live: readonly LiveMigration[]): Map<string, VersionView> {
  const views = new Map<string, VersionView>();
  let view = committedView(model, live);
  for (const migration of live) {
    view = view.clone();
    for (const operation of migration.operations.slice(0, migration.planned)) operation.shapeView(view, model);
    // What raw SQL added is seen from this version on, like what operations add.
    for (const table of migration.introduced.tables) {
      if (!view.tables.some((t) => t.source === table)) {
        const physical = model.table(table);
        if (physical)
          view.addTable({
            name: table,
            source: table,
            columns: physical.columns.filter((c) => !isHelperColumn(c.name)).map((c) => ({ name: c.name, source: c.name })),
          });
      }
    }
    for (const { table, column } of migration.introduced.columns) {
      const t = view.tables.find((v) => v.source === table);
      if (t && !t.columns.some((c) => c.source === column)) t.columns.push({ name: column, source: column });
    }
    views.set(migration.name, view);
  }
  return views;
}

/**
 * Statements that make one version schema hold exactly the views of `view`.
 * A view that is there already keeps its columns' order, new ones after
 * them: on PostgreSQL a contract leaves a replaced column last in its table,
 * and an app's view must not change shape under it (a prepared `SELECT *`
 * fails with "cached plan must not change result type", an `INSERT` without
 * a column list fills the wrong columns).
 */
export async function syncSchemaSteps(dialect: Dialect, schema: string, view: VersionView): Promise<Step[]> {
  const existing = (await dialect.schemaExists(schema)) ? await dialect.listViews(schema) : new Map<string, string[]>();
  const steps: Step[] = [dialect.createSchema(schema)];
  for (const table of view.tables) {
    const before = existing.get(table.name);
    steps.push(...dialect.replaceView(schema, before ? inOrder(table, before) : table, before !== undefined));
  }
  for (const name of existing.keys()) {
    if (!view.tables.some((t) => t.name === name)) steps.push(dialect.dropView(schema, name));
  }
  return steps;
}

/** `table` with the columns `before` had first, in that order, then the others as they come. */
function inOrder(table: ViewTable, before: readonly string[]): ViewTable {
  const position = (name: string) => {
    const i = before.indexOf(name);
    return i < 0 ? before.length : i;
  };
  const columns = table.columns.map((c, i) => ({ c, i })).sort((a, b) => position(a.c.name) - position(b.c.name) || a.i - b.i);
  return { ...table, columns: columns.map(({ c }) => c) };
}
