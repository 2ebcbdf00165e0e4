import { defineMigration, op } from 'zmigrate';

// full_name becomes first_name + last_name. Splitting a name well is easier
// in TypeScript than in SQL, so a backfill job does it, in batches, resuming
// where it stopped after a crash. App v1 keeps writing full_name; the job's
// last pass at contract fills the rows it wrote in the meantime (the `where`
// finds them). full_name itself is dropped by a later migration, once no
// version reads it.
export default defineMigration({
  description: 'people.first_name and people.last_name, split from full_name',
  operations: [
    op.addColumn('people', 'first_name', { type: 'varchar(100)', nullable: true }),
    op.addColumn('people', 'last_name', { type: 'varchar(100)', nullable: true }),
  ],
  backfill: op.backfill('people', {
    columns: ['full_name'],
    where: 'first_name IS NULL',
    batch: async (rows, { knex }) => {
      for (const row of rows) {
        const [first = '', ...rest] = String(row.full_name).trim().split(/\s+/);
        await knex('people')
          .where({ id: row.id })
          .update({ first_name: first, last_name: rest.join(' ') });
      }
    },
  }),
});
