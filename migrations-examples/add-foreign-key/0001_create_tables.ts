import { defineMigration, op } from 'zmigrate';

// What app v1 runs on: orders name their customer, with nothing to enforce it.
export default defineMigration({
  description: 'customers and their orders',
  operations: [
    op.createTable('customers', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        name: { type: 'varchar(100)', nullable: false },
      },
    }),
    op.createTable('orders', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        customer_id: { type: 'bigint' },
        amount: { type: 'integer', nullable: false, default: '0' },
      },
    }),
  ],
});
