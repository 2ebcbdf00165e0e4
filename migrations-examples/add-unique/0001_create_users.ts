import { defineMigration, op } from 'zmigrate';

// What app v1 runs on.
export default defineMigration({
  description: 'the users table',
  operations: [
    op.createTable('users', {
      columns: {
        id: { type: 'bigint', primaryKey: true },
        email: { type: 'varchar(200)', nullable: false },
      },
    }),
  ],
});
