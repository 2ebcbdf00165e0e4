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
import { unknownOption } from './options';

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
const OPTION_PROBLEM = Symbol.for('zmigrate.optionProblem');

/**
 * An option the builder that made `value` did not take (see unknownOption).
 * Not thrown when the file loads: a migration already applied with such an
 * option (an older zmigrate ignored it) must stay loadable to be contracted
 * or rolled back; the runner refuses it when it would expand it.
 */
export function optionProblem(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<symbol, string | undefined>)[OPTION_PROBLEM] : undefined;
}

/** `value`, marked with the first problem of `problems`, if any. */
function flagged<T extends object>(value: T, ...problems: Array<string | undefined>): T {
  const problem = problems.find((p) => p !== undefined);
  if (problem) Object.defineProperty(value, OPTION_PROBLEM, { value: problem });
  return value;
}

function unknownIn(what: string, spec: unknown, keys: readonly string[], meant?: Record<string, string>): string | undefined {
  const problem = unknownOption(spec, keys, meant);
  return problem && `${what}: ${problem}`;
}

function tableProblem(name: string, spec: CreateTableSpec): string | undefined {
  const what = `op.createTable(${JSON.stringify(name)})`;
  const columns: unknown = spec?.columns;
  const perColumn = typeof columns === 'object' && columns !== null ? Object.entries(columns) : [];
  return (
    unknownIn(what, spec, ['columns', 'primaryKey']) ??
    perColumn.map(([column, columnSpec]) => unknownIn(`${what} column ${JSON.stringify(column)}`, columnSpec, COLUMN_KEYS)).find(Boolean)
  );
}

const on = (table: string, column?: string) => [table, ...(column === undefined ? [] : [column])].map((n) => JSON.stringify(n)).join(', ');

/** The operation builders a migration file uses: `op.createTable(...)`, … */
export const op = {
  createTable: (name: string, spec: CreateTableSpec): Operation => flagged(new CreateTable(name, spec), tableProblem(name, spec)),
  dropTable: (name: string): Operation => new DropTable(name),
  addColumn: (table: string, column: string, spec: AddColumnSpec): Operation =>
    flagged(new AddColumn(table, column, spec), unknownIn(`op.addColumn(${on(table, column)})`, spec, [...COLUMN_KEYS, 'up'])),
  dropColumn: (table: string, column: string, spec?: DropColumnSpec): Operation =>
    flagged(new DropColumn(table, column, spec), unknownIn(`op.dropColumn(${on(table, column)})`, spec, ['down'])),
  renameColumn: (table: string, from: string, to: string): Operation => new RenameColumn(table, from, to),
  alterColumn: (table: string, column: string, spec: AlterColumnSpec): Operation =>
    flagged(
      new AlterColumn(table, column, spec),
      unknownIn(`op.alterColumn(${on(table, column)})`, spec, ['type', 'nullable', 'default', 'up', 'down']),
    ),
  setNotNull: (table: string, column: string, spec: SetNotNullSpec): Operation =>
    flagged(new SetNotNull(table, column, spec), unknownIn(`op.setNotNull(${on(table, column)})`, spec, ['up'])),
  createIndex: (table: string, columns: string[], spec?: CreateIndexSpec): Operation =>
    flagged(new CreateIndex(table, columns, spec), unknownIn(`op.createIndex(${on(table)})`, spec, ['unique', 'name', 'where'])),
  renameTable: (from: string, to: string): Operation => new RenameTable(from, to),
  dropIndex: (table: string, name: string): Operation => new DropIndex(table, name),
  addUnique: (table: string, columns: string[], spec?: AddUniqueSpec): Operation =>
    flagged(new AddUnique(table, columns, spec), unknownIn(`op.addUnique(${on(table)})`, spec, ['name'])),
  addForeignKey: (table: string, columns: string[], spec: AddForeignKeySpec): Operation =>
    flagged(new AddForeignKey(table, columns, spec), unknownIn(`op.addForeignKey(${on(table)})`, spec, ['references', 'name', 'onDelete'])),
  addCheck: (table: string, name: string, expression: string): Operation => new AddCheck(table, name, expression),
  sql: (spec: RawSqlSpec): Operation =>
    flagged(new RawSql(spec), unknownIn('op.sql', spec, ['expand', 'contract', 'rollback'], { up: 'expand', down: 'rollback' })),
  /** A TypeScript backfill job: `defineMigration({ backfill: op.backfill('users', { batch }) })`. */
  backfill: (table: string, spec: BackfillJobSpec): BackfillJob =>
    flagged(
      { ...spec, kind: 'backfillJob', table },
      unknownIn(`op.backfill(${on(table)})`, spec, ['batch', 'where', 'columns', 'batchSize', 'includeNewRows']),
    ),
};
