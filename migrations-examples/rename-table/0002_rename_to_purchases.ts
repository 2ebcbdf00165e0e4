import { defineMigration, op } from 'zmigrate';

// App v2 calls the orders table "purchases". Until contract both names work:
// v1 writes orders (the base table), v2 writes purchases in its version
// schema, a view over the same table, so each sees the other's rows with no
// trigger. Contract renames the table for real, and v2's view follows it.
export default defineMigration({
  description: 'orders becomes purchases',
  operations: [op.renameTable('orders', 'purchases')],
});
