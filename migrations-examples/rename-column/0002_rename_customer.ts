import { defineMigration, op } from 'zmigrate';

// App v2 calls orders.customer "customer_name". Until contract both names
// work: v1 writes customer on the base table, v2 writes customer_name in its
// version schema, and both see each other's rows (one physical column, no
// trigger needed). Contract renames the column for real.
export default defineMigration({
  description: 'orders.customer becomes orders.customer_name',
  operations: [op.renameColumn('orders', 'customer', 'customer_name')],
});
