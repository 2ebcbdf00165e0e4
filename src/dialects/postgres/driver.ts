/* eslint-disable @typescript-eslint/no-require-imports -- pg must load at a chosen moment, not at import time */
/**
 * Loads node-postgres before knex asks for it, without the cost it pays on
 * Node 20. To tell a Cloudflare Worker from Node, pg reads
 * `navigator.userAgent`, and where there is no `navigator` (Node 20 has none;
 * 21 and later do) it builds a `Response`, which loads Node's fetch
 * implementation: 25–45 ms of every command's start, for a class zmigrate
 * never uses. A `navigator` that says Node, present only while pg loads,
 * answers the question the cheap way. knex then finds pg loaded.
 */
export function loadPgDriver(): void {
  if ('navigator' in globalThis) {
    require('pg');
    return;
  }
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.version}` }, configurable: true });
  try {
    require('pg');
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}
