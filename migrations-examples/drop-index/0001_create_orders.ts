import { defineMigration, op } from 'zmigrate';

// What app v1 runs on: orders, looked up by customer.
export default defineMigration({
  description: 'the orders table, indexed by customer',
  operations: [
    op.createTable('orders', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        customer: { type: 'varchar(100)', nullable: false },
        amount: { type: 'integer', nullable: false, default: '0' },
      },
    }),
    op.createIndex('orders', ['customer'], { name: 'orders_customer_idx' }),
  ],
});
