import { defineMigration, op } from 'zmigrate';

// A new table needs no dual-write: expand creates it, the new app version
// sees it through its version schema, contract has nothing left to do and
// rollback drops it. The old app never refers to it, so it never notices.
export default defineMigration({
  description: 'orders, and their lines with a composite primary key',
  operations: [
    op.createTable('orders', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        customer: { type: 'varchar(100)', nullable: false },
        amount: { type: 'integer', nullable: false, default: '0' }, // default: a SQL expression
        note: { type: 'text' }, // nullable unless nullable: false
      },
    }),
    op.createTable('order_lines', {
      columns: {
        order_id: { type: 'bigint', nullable: false },
        line: { type: 'integer', nullable: false },
        product: { type: 'varchar(100)', nullable: false },
        quantity: { type: 'integer', nullable: false, default: '1' },
      },
      primaryKey: ['order_id', 'line'],
    }),
  ],
});
