import { defineMigration, op } from 'zmigrate';

// The escape hatch, for what no operation covers: raw SQL per phase. A string
// may hold several statements. This SQL is portable (PostgreSQL and
// MySQL/MariaDB alike). A table that raw SQL creates shows up in the new
// version schema like any other.
//
// Give a rollback that undoes expand: zmigrate cannot guess it.
export default defineMigration({
  description: 'an order_statuses lookup table, created and filled by raw SQL',
  operations: [
    op.sql({
      expand: `
        CREATE TABLE order_statuses (
          code varchar(20) NOT NULL PRIMARY KEY,
          label varchar(100) NOT NULL
        );
        INSERT INTO order_statuses (code, label) VALUES ('new', 'New'), ('paid', 'Paid');
      `,
      // Runs once the old app is gone: a status only the new app can handle.
      contract: "INSERT INTO order_statuses (code, label) VALUES ('archived', 'Archived')",
      rollback: 'DROP TABLE order_statuses',
    }),
  ],
});
