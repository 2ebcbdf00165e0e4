import { defineMigration, op } from 'zmigrate';

// Expand adds the key without a long lock, and from then on every write is
// checked: on PostgreSQL as NOT VALID; on MySQL/MariaDB, which have no NOT
// VALID, in place with foreign_key_checks off for that one statement. Then
// zmigrate checks the orders already there, in chunks, and stops expand,
// naming them, if any has no customer. Contract validates the key on
// PostgreSQL (VALIDATE CONSTRAINT, which does not block writes); rollback drops it.
export default defineMigration({
  description: 'every order belongs to a customer',
  operations: [
    op.addForeignKey('orders', ['customer_id'], {
      references: { table: 'customers', columns: ['id'] },
      name: 'orders_customer_fk',
      onDelete: 'cascade',
    }),
  ],
});
