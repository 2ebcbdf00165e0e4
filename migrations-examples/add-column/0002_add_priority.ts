import { defineMigration, op } from 'zmigrate';

// App v2 knows two new columns. Between expand and contract, v1 keeps writing
// to orders without naming them: priority stays NULL, status gets its default
// (a NOT NULL column needs one, or v1's inserts would fail).
// On MySQL/MariaDB the columns are INVISIBLE until contract, so v1's SELECT *
// does not see them; v2 sees them through its version schema.
export default defineMigration({
  description: 'orders.priority (nullable) and orders.status (NOT NULL, default new)',
  operations: [
    op.addColumn('orders', 'priority', { type: 'integer', nullable: true }),
    op.addColumn('orders', 'status', { type: 'varchar(20)', nullable: false, default: "'new'" }),
  ],
});
