import { defineMigration, op } from 'zmigrate';

// Indexes are built at expand without blocking writes (CREATE INDEX
// CONCURRENTLY on PostgreSQL; ALGORITHM=INPLACE, LOCK=NONE on MySQL/MariaDB)
// and dropped again by rollback. Contract has nothing to do.
export default defineMigration({
  description: 'look orders up by customer; external_ref becomes unique',
  operations: [
    // Without a name: <table>_<columns>_idx, here orders_customer_idx.
    op.createIndex('orders', ['customer']),
    op.createIndex('orders', ['external_ref'], { unique: true, name: 'orders_external_ref_key' }),
  ],
});
