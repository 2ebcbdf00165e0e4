import { defineMigration, op } from 'zmigrate';

// PostgreSQL only. Expand adds the CHECK as NOT VALID (a short lock, no scan;
// new writes are checked from then on) and checks the rows already there in
// chunks; contract validates it (VALIDATE CONSTRAINT, which does not block
// writes); rollback drops it. MySQL and MariaDB can add a CHECK only by
// copying the table under a write lock, so zmigrate refuses it there.
export default defineMigration({
  description: 'an order amount is never negative',
  operations: [op.addCheck('orders', 'orders_amount_not_negative', 'amount >= 0')],
});
