// Opens a PGlite data folder once and answers queries sent over IPC until told
// to close; see pglite-session.ts. A separate process: PGlite loads itself with
// a dynamic import, which jest's VM does not allow.
const { PGlite } = require('@electric-sql/pglite');

(async () => {
  const db = new PGlite(process.argv[2]);
  await db.waitReady;
  process.on('message', async (msg) => {
    if (msg.close) {
      await db.close();
      process.disconnect();
      return;
    }
    try {
      const result = await db.query(msg.sql, msg.bindings);
      process.send({ id: msg.id, rows: result.rows });
    } catch (error) {
      process.send({ id: msg.id, error: String(error && error.message) });
    }
  });
  process.send({ ready: true });
})().catch((error) => {
  process.stderr.write(String(error && error.message));
  process.exit(1);
});
