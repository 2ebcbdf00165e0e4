import type {
  BackfillJob,
  BackfillJobSpec,
  AddColumnSpec,
  AlterColumnSpec,
  DropColumnSpec,
  SetNotNullSpec,
  CreateIndexSpec,
  CreateTableSpec,
  AddUniqueSpec,
  AddForeignKeySpec,
  Migration,
  MigrationDefinition,
  RawSqlSpec,
} from './types';
import type { Operation } from '../operations/operation';
import { CreateTable } from '../operations/create-table';
import { DropTable } from '../operations/drop-table';
import { AddColumn } from '../operations/add-column';
import { CreateIndex } from '../operations/create-index';
import { RawSql } from '../operations/raw-sql';
import { RenameColumn } from '../operations/rename-column';
import { AlterColumn } from '../operations/alter-column';
import { DropColumn } from '../operations/drop-column';
import { SetNotNull } from '../operations/set-not-null';
import { RenameTable } from '../operations/rename-table';
import { DropIndex } from '../operations/drop-index';
import { AddUnique } from '../operations/add-unique';
import { AddForeignKey } from '../operations/add-foreign-key';
import { AddCheck } from '../operations/add-check';
import { refuseUnknownOptions } from './options';

const MIGRATION = Symbol.for('zmigrate.migration');

/** Marks a migration file's default export; the loader refuses anything else. */
export function defineMigration(definition: MigrationDefinition): Migration {
  const migration = { ...definition, operations: definition.operations ?? [] };
  Object.defineProperty(migration, MIGRATION, { value: true });
  return migration;
}

export function isMigration(value: unknown): value is Migration {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MIGRATION] === true;
}

export function isOperation(value: unknown): value is Operation {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Operation).kind === 'string' &&
    typeof (value as Operation).expand === 'function'
  );
}

const COLUMN_KEYS = ['type', 'nullable', 'default', 'primaryKey', 'unique'] as const;

/** The spec, after refusing options the builder does not know (see refuseUnknownOptions). */
function known<T>(what: string, spec: T, keys: readonly string[], meant?: Record<string, string>): T {
  refuseUnknownOptions(what, spec, keys, meant);
  return spec;
}

function knownTable(name: string, spec: CreateTableSpec): CreateTableSpec {
  known(`op.createTable(${JSON.stringify(name)})`, spec, ['columns', 'primaryKey']);
  const columns: unknown = spec?.columns;
  if (typeof columns === 'object' && columns !== null) {
    for (const [column, columnSpec] of Object.entries(columns))
      known(`op.createTable(${JSON.stringify(name)}) column ${JSON.stringify(column)}`, columnSpec, COLUMN_KEYS);
  }
  return spec;
}

/** The operation builders a migration file uses: `op.createTable(...)`, … */
export const op = {
  createTable: (name: string, spec: CreateTableSpec): Operation => new CreateTable(name, knownTable(name, spec)),
  dropTable: (name: string): Operation => new DropTable(name),
  addColumn: (table: string, column: string, spec: AddColumnSpec): Operation =>
    new AddColumn(table, column, known(`op.addColumn(${JSON.stringify(table)}, ${JSON.stringify(column)})`, spec, [...COLUMN_KEYS, 'up'])),
  dropColumn: (table: string, column: string, spec?: DropColumnSpec): Operation =>
    new DropColumn(table, column, known(`op.dropColumn(${JSON.stringify(table)}, ${JSON.stringify(column)})`, spec, ['down'])),
  renameColumn: (table: string, from: string, to: string): Operation => new RenameColumn(table, from, to),
  alterColumn: (table: string, column: string, spec: AlterColumnSpec): Operation =>
    new AlterColumn(
      table,
      column,
      known(`op.alterColumn(${JSON.stringify(table)}, ${JSON.stringify(column)})`, spec, ['type', 'nullable', 'default', 'up', 'down']),
    ),
  setNotNull: (table: string, column: string, spec: SetNotNullSpec): Operation =>
    new SetNotNull(table, column, known(`op.setNotNull(${JSON.stringify(table)}, ${JSON.stringify(column)})`, spec, ['up'])),
  createIndex: (table: string, columns: string[], spec?: CreateIndexSpec): Operation =>
    new CreateIndex(table, columns, known(`op.createIndex(${JSON.stringify(table)})`, spec, ['unique', 'name', 'where'])),
  renameTable: (from: string, to: string): Operation => new RenameTable(from, to),
  dropIndex: (table: string, name: string): Operation => new DropIndex(table, name),
  addUnique: (table: string, columns: string[], spec?: AddUniqueSpec): Operation =>
    new AddUnique(table, columns, known(`op.addUnique(${JSON.stringify(table)})`, spec, ['name'])),
  addForeignKey: (table: string, columns: string[], spec: AddForeignKeySpec): Operation =>
    new AddForeignKey(table, columns, known(`op.addForeignKey(${JSON.stringify(table)})`, spec, ['references', 'name', 'onDelete'])),
  addCheck: (table: string, name: string, expression: string): Operation => new AddCheck(table, name, expression),
  sql: (spec: RawSqlSpec): Operation =>
    new RawSql(known('op.sql', spec, ['expand', 'contract', 'rollback'], { up: 'expand', down: 'rollback' })),
  /** A TypeScript backfill job: `defineMigration({ backfill: op.backfill('users', { batch }) })`. */
  backfill: (table: string, spec: BackfillJobSpec): BackfillJob => ({
    ...known(`op.backfill(${JSON.stringify(table)})`, spec, ['batch', 'where', 'columns', 'batchSize', 'includeNewRows']),
    kind: 'backfillJob',
    table,
  }),
};
