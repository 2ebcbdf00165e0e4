import { defineMigration, op } from 'zmigrate';

// App v2 no longer knows orders.amount. v1 still writes it; for the rows v2
// inserts, `down` fills it (it is NOT NULL on the base table until contract
// drops it).
export default defineMigration({
  description: 'orders.amount is dropped',
  operations: [op.dropColumn('orders', 'amount', { down: '0' })],
});
