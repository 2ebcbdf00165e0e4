import { defineMigration, op } from 'zmigrate';

// orders.note becomes NOT NULL. `up` replaces NULLs: a batched backfill for
// the rows already there, a trigger for the apps' writes meanwhile. On
// PostgreSQL a CHECK (note IS NOT NULL) NOT VALID goes in after the backfill,
// is validated at contract without blocking writes, and SET NOT NULL then
// needs no table scan. On MySQL/MariaDB the column becomes NOT NULL online
// (LOCK=NONE) at contract.
export default defineMigration({
  description: 'orders.note becomes NOT NULL',
  operations: [op.setNotNull('orders', 'note', { up: "coalesce(note, '')" })],
});
