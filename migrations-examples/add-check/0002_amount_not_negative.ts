import { defineMigration, op } from 'zmigrate';

// PostgreSQL: expand adds the CHECK as NOT VALID (a short lock, no scan;
// new writes are checked from then on) and checks the rows already there in
// chunks; contract validates it (VALIDATE CONSTRAINT, which does not block
// writes); rollback drops it. MariaDB can add a CHECK to a table with rows
// only by copying it under a write lock, so zmigrate checks the rows in
// chunks, then rebuilds the table online (a shadow table with the check,
// filled by a chunked copy and by triggers that mirror the apps' writes,
// then one RENAME TABLE); contract has nothing left to do; rollback drops it
// (instantly). MySQL 8 is refused.
export default defineMigration({
  description: 'an order amount is never negative',
  operations: [op.addCheck('orders', 'orders_amount_not_negative', 'amount >= 0')],
});
