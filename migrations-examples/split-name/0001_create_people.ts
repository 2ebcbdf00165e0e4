import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  description: 'the people table',
  operations: [
    op.createTable('people', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        full_name: { type: 'varchar(200)', nullable: false },
      },
    }),
  ],
});
