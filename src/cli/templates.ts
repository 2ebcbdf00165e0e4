/** What `zmigrate new --op <name>` puts in a new migration: the operation with placeholder names to edit. */
export const OPERATION_TEMPLATES: Record<string, string> = {
  sql: "op.sql({ expand: 'SELECT 1', contract: 'SELECT 1', rollback: 'SELECT 1' })",
  'create-table':
    "op.createTable('things', {\n      columns: {\n        id: { type: 'bigint', primaryKey: true },\n        name: { type: 'varchar(100)', nullable: false },\n      },\n    })",
  'drop-table': "op.dropTable('things')",
  'add-column': "op.addColumn('things', 'note', { type: 'text', nullable: true })",
  'drop-column': "op.dropColumn('things', 'note', { down: 'NULL' })",
  'rename-column': "op.renameColumn('things', 'name', 'title')",
  'alter-column': "op.alterColumn('things', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
  'set-not-null': "op.setNotNull('things', 'name', { up: \"coalesce(name, '')\" })",
  'create-index': "op.createIndex('things', ['name'])",
  'rename-table': "op.renameTable('things', 'items')",
  'drop-index': "op.dropIndex('things', 'things_name_idx')",
  'add-unique': "op.addUnique('things', ['name'])",
  'add-foreign-key': "op.addForeignKey('things', ['owner_id'], { references: { table: 'owners', columns: ['id'] }, onDelete: 'cascade' })",
  'add-check': "op.addCheck('things', 'things_amount_positive', 'amount > 0')",
};

export function migrationTemplate(op: string, description: string): string {
  return `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  description: ${JSON.stringify(description)},
  operations: [
    ${OPERATION_TEMPLATES[op]},
  ],
});
`;
}
