/** A read of a test database's catalog: what exists, to compare before and after. */
import type { TestDatabase } from './databases';
import { pgliteSession } from '../helpers/pglite-session';

export interface Inspection {
  tables: string[];
  versionSchemas: string[];
  triggers: string[];
  columns(table: string): string[];
  visibleColumns(table: string): string[];
  indexes(table: string): string[];
  views(schema: string): string[];
}

/** On PGlite, all its queries go through one open of the folder (opening it is the slow part). */
export async function inspect(db: TestDatabase): Promise<Inspection> {
  return pgliteSession(db, read);
}

async function read(db: TestDatabase): Promise<Inspection> {
  const rows = async (sql: string, bindings: unknown[] = []): Promise<Array<Record<string, unknown>>> => {
    const result = await db.knex.raw(sql, bindings as never);
    return db.engine === 'mysql'
      ? (result as [Array<Record<string, unknown>>])[0]
      : (result as { rows: Array<Record<string, unknown>> }).rows;
  };
  const pg = db.engine !== 'mysql';
  const tables = (
    await rows(
      pg
        ? "select table_name as t from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1"
        : "select table_name as t from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' and table_name not like 'zmigrate\\_%' order by 1",
      pg ? [] : [db.base],
    )
  ).map((r) => String(r.t));
  const versionSchemas = (
    await rows(
      pg
        ? "select nspname as s from pg_namespace where nspname like 'public\\_%' order by 1"
        : 'select schema_name as s from information_schema.schemata where schema_name like ? order by 1',
      pg ? [] : [`${db.base.replace(/_/g, '\\_')}\\_%`],
    )
  ).map((r) => String(r.s));
  const triggers = (
    await rows(
      pg
        ? 'select tgname as t from pg_trigger where not tgisinternal order by 1'
        : 'select trigger_name as t from information_schema.triggers where trigger_schema = ? order by 1',
      pg ? [] : [db.base],
    )
  ).map((r) => String(r.t));
  const columns = await rows(
    pg
      ? "select table_name as t, column_name as c, '' as extra from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position"
      : 'select table_name as t, column_name as c, extra from information_schema.columns where table_schema = ? order by table_name, ordinal_position',
    pg ? [] : [db.base],
  );
  const indexes = await rows(
    pg
      ? "select tablename as t, indexname as i from pg_indexes where schemaname = 'public' order by 2"
      : 'select distinct table_name as t, index_name as i from information_schema.statistics where table_schema = ? order by 2',
    pg ? [] : [db.base],
  );
  const views = await rows(
    pg
      ? "select table_schema as s, table_name as v from information_schema.views where table_schema like 'public\\_%' order by 2"
      : 'select table_schema as s, table_name as v from information_schema.views where table_schema like ? order by 2',
    pg ? [] : [`${db.base.replace(/_/g, '\\_')}\\_%`],
  );
  await db.closeApp();
  return {
    tables,
    versionSchemas,
    triggers,
    columns: (t) => columns.filter((r) => r.t === t).map((r) => String(r.c)),
    visibleColumns: (t) => columns.filter((r) => r.t === t && !/INVISIBLE/i.test(String(r.extra ?? ''))).map((r) => String(r.c)),
    indexes: (t) => indexes.filter((r) => r.t === t).map((r) => String(r.i)),
    views: (s) => views.filter((r) => r.s === s).map((r) => String(r.v)),
  };
}

/**
 * What a migration could leave behind, as plain data to compare before and
 * after: tables, version schemas, triggers, and each table's columns
 * (visible ones too) and indexes.
 */
export async function snapshot(db: TestDatabase): Promise<Record<string, unknown>> {
  const state = await inspect(db);
  return {
    tables: state.tables,
    versionSchemas: state.versionSchemas,
    triggers: state.triggers,
    columns: state.tables.map((t) => [t, state.columns(t), state.visibleColumns(t)]),
    indexes: state.tables.map((t) => [t, [...state.indexes(t)].sort()]),
  };
}
