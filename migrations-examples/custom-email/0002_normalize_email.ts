import { defineMigration, op } from 'zmigrate';

// A change no built-in operation covers: app v2 looks users up by a
// normalised email. The custom expand adds the column (additive, so app v1
// never notices); a TypeScript job fills it in batches, for the rows there
// now and, in a last pass at contract, for the rows v1 wrote meanwhile.
// Custom steps may run again after a crash, so they are written to be
// repeatable (IF NOT EXISTS / IF EXISTS).
export default defineMigration({
  description: 'users.email_normalized: trimmed, lower-case email',
  expand: async ({ ddl, quote }) => {
    await ddl(`ALTER TABLE ${quote('users')} ADD COLUMN IF NOT EXISTS ${quote('email_normalized')} varchar(200)`);
  },
  backfill: op.backfill('users', {
    columns: ['email'],
    where: 'email_normalized IS NULL',
    batch: async (rows, { knex }) => {
      for (const row of rows) {
        await knex('users')
          .where({ id: row.id })
          .update({ email_normalized: String(row.email).trim().toLowerCase() });
      }
    },
  }),
  rollback: async ({ ddl, quote }) => {
    await ddl(`ALTER TABLE ${quote('users')} DROP COLUMN IF EXISTS ${quote('email_normalized')}`);
  },
});
