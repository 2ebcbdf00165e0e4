import { defineMigration, op } from 'zmigrate';

// What app v1 runs on: orders, and a table v2 no longer needs.
export default defineMigration({
  description: 'orders and legacy_notes',
  operations: [
    op.createTable('orders', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        customer: { type: 'varchar(100)', nullable: false },
      },
    }),
    op.createTable('legacy_notes', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        body: { type: 'text' },
      },
    }),
  ],
});
