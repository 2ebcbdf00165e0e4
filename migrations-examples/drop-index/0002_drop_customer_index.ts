import { defineMigration, op } from 'zmigrate';

// App v2 no longer looks orders up by customer. Expand keeps the index, since
// v1 may still need it; contract drops it without blocking writes (DROP INDEX
// CONCURRENTLY on PostgreSQL; ALGORITHM=INPLACE, LOCK=NONE on MySQL/MariaDB).
export default defineMigration({
  description: 'orders are no longer looked up by customer',
  operations: [op.dropIndex('orders', 'orders_customer_idx')],
});
