import { defineMigration, op } from 'zmigrate';

// Expand only hides the table from v2's version schema: v1 may still read and
// write it while both versions run. Contract drops it for real, once v1 is gone.
// (So rollback has nothing to undo.)
export default defineMigration({
  description: 'v2 no longer uses legacy_notes',
  operations: [op.dropTable('legacy_notes')],
});
