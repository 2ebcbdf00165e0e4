import { defineMigration, op } from 'zmigrate';

// App v2 stores amounts in cents, as bigint. A new column sits beside the old
// one; triggers keep both in sync (up: old → new for v1's writes, down:
// new → old for v2's), and a batched backfill converts the rows already there.
// At contract the old column goes and the new one takes its name, keeping its
// default, NOT NULL and indexes.
export default defineMigration({
  description: 'orders.amount: integer units → bigint cents',
  operations: [op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 100', down: 'amount / 100' })],
});
