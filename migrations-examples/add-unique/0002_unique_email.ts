import { defineMigration, op } from 'zmigrate';

// Expand builds the unique index without blocking writes (CREATE UNIQUE INDEX
// CONCURRENTLY; ALGORITHM=INPLACE, LOCK=NONE): from then on a duplicate email
// is refused, from either app. If the table already holds duplicates, expand
// stops and names one; remove them and run expand again. Contract makes the
// index a UNIQUE constraint on PostgreSQL (no scan); rollback drops it.
export default defineMigration({
  description: 'one user per email',
  operations: [op.addUnique('users', ['email'], { name: 'users_email_key' })],
});
