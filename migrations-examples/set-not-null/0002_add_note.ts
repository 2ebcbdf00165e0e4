import { defineMigration, op } from 'zmigrate';

// orders gets an optional note first; 0003 then makes it NOT NULL.
export default defineMigration({
  description: 'orders.note, optional for now',
  operations: [op.addColumn('orders', 'note', { type: 'text', nullable: true })],
});
