import { defineMigration, op } from 'zmigrate';

// What app v1 runs on.
export default defineMigration({
  description: 'the orders table',
  operations: [
    op.createTable('orders', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        amount: { type: 'integer', nullable: false, default: '0' },
      },
    }),
  ],
});
