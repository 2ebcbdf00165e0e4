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

/** The operation builders a migration file uses: `op.createTable(...)`, … */
export const op = {
  createTable: (name: string, spec: CreateTableSpec): Operation => new CreateTable(name, spec),
  dropTable: (name: string): Operation => new DropTable(name),
  addColumn: (table: string, column: string, spec: AddColumnSpec): Operation => new AddColumn(table, column, spec),
  dropColumn: (table: string, column: string, spec?: DropColumnSpec): Operation => new DropColumn(table, column, spec),
  renameColumn: (table: string, from: string, to: string): Operation => new RenameColumn(table, from, to),
  alterColumn: (table: string, column: string, spec: AlterColumnSpec): Operation => new AlterColumn(table, column, spec),
  setNotNull: (table: string, column: string, spec: SetNotNullSpec): Operation => new SetNotNull(table, column, spec),
  createIndex: (table: string, columns: string[], spec?: CreateIndexSpec): Operation => new CreateIndex(table, columns, spec),
  renameTable: (from: string, to: string): Operation => new RenameTable(from, to),
  dropIndex: (table: string, name: string): Operation => new DropIndex(table, name),
  addUnique: (table: string, columns: string[], spec?: AddUniqueSpec): Operation => new AddUnique(table, columns, spec),
  addForeignKey: (table: string, columns: string[], spec: AddForeignKeySpec): Operation => new AddForeignKey(table, columns, spec),
  addCheck: (table: string, name: string, expression: string): Operation => new AddCheck(table, name, expression),
  sql: (spec: RawSqlSpec): Operation => new RawSql(spec),
  /** A TypeScript backfill job: `defineMigration({ backfill: op.backfill('users', { batch }) })`. */
  backfill: (table: string, spec: BackfillJobSpec): BackfillJob => ({ ...spec, kind: 'backfillJob', table }),
};
