// Runs one query on a PGlite data folder and prints the rows as JSON.
// A separate process: PGlite loads itself with a dynamic import, which jest's VM does not allow.
const { PGlite } = require('@electric-sql/pglite');

(async () => {
  const [dir, sql, bindings] = process.argv.slice(2);
  const db = new PGlite(dir);
  const result = await db.query(sql, JSON.parse(bindings));
  process.stdout.write(JSON.stringify(result.rows));
  await db.close();
})().catch((error) => {
  process.stderr.write(String(error && error.message));
  process.exit(1);
});
