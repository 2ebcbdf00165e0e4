import type { Dialect } from '../dialects/dialect';
import { redactUrl, scrubPasswords } from '../dialects/url';
import { ConnectionError, LockTimeoutError, ZmigrateError } from '../errors';
import { message } from './executor';
import { privilegeError } from './privileges';

/** A driver error met while connecting to `url`, as one line that names the URL without its password. */
export function connectionError(dialect: Dialect, url: string, error: unknown): ZmigrateError {
  if (error instanceof ZmigrateError) return error;
  const where = redactUrl(url);
  const scrub = (text: string) => scrubPasswords(text, [url]);
  switch (dialect.classifyError(error)) {
    case 'authentication':
      return new ConnectionError(`authentication failed for ${where}: ${scrub(message(error))}`, {
        cause: error,
        hint: 'check the user name and password in the URL',
      });
    case 'unreachable':
      return new ConnectionError(`cannot reach the database server at ${where}: ${scrub(message(error))}`, {
        cause: error,
        hint: 'is the server running, and are host and port right?',
      });
    case 'permissionDenied':
      return privilegeError(dialect, error, `cannot use the database at ${where}`);
    case 'unknownDatabase':
      return new ConnectionError(`the database in ${where} does not exist: ${scrub(message(error))}`, { cause: error });
    case 'connectionLost':
      return new ConnectionError(`lost the connection to ${where}: ${scrub(message(error))}`, {
        cause: error,
        hint: 'run the same command again once the server is back; it resumes',
      });
    default:
      return new ConnectionError(`cannot use the database at ${where}: ${scrub(message(error))}`, { cause: error });
  }
}

/** An error met once connected: driver errors about the connection or a privilege become typed; others pass as they are. */
export function translatedError(dialect: Dialect, url: string, error: unknown): unknown {
  if (error instanceof ZmigrateError) return error;
  const kind = dialect.classifyError(error);
  if (kind === 'permissionDenied') return privilegeError(dialect, error);
  // Outside a step's retries (zmigrate's own state tables, brought up to date): another session holds the table.
  if (kind === 'lockTimeout')
    return new LockTimeoutError(
      `a statement outside the migration's steps did not get its lock in time: ${scrubPasswords(message(error), [url])}`,
      {
        cause: error,
        hint: 'another session holds the table (an open transaction, pg_dump): run the same command again once it ends; it resumes',
      },
    );
  return kind === 'other' ? error : connectionError(dialect, url, error);
}
