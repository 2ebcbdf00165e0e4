/** How long a replacement session tries to take the runner lock back. */
export const RETAKE_LOCK_MS = 5_000;
export const LOCK_TAKEN = 'lost the connection, and another zmigrate runner took the runner lock meanwhile; stopping';

/**
 * Calls `ended` once when the server ends a driver session (pg's Client and
 * mysql2's Connection both say so with 'end', or 'error' first).
 *
 * The runner's session holds the runner lock, so when the server ends it
 * (pg_terminate_backend, KILL CONNECTION) the lock is free until a new
 * session takes it back. The pool opens that session only for the runner's
 * next statement, which may be long in coming while backfill workers run in
 * sessions of their own; a second runner could take the lock meanwhile.
 * Opening the new session at once closes that window.
 */
export function whenSessionEnds(session: unknown, ended: () => void): void {
  const events = session as { once?: (event: string, listener: () => void) => void };
  if (typeof events.once !== 'function') return;
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = true;
    setImmediate(ended);
  };
  events.once('end', fire);
  events.once('error', fire);
}
