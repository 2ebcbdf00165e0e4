import { ConnectionError, ConfigError } from '../errors';
import { redactUrl, scrubPasswords } from './url';

/** A replica URL, checked to be of the primary's engine; `name` (host:port) is what messages show. */
export function parseReplicaUrl(raw: string, schemes: readonly string[]): { url: URL; name: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`malformed replica URL ${JSON.stringify(redactUrl(raw))}`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (!schemes.includes(scheme) || !url.hostname)
    throw new ConfigError(`replica URL ${redactUrl(raw)} must be ${schemes[0]}://user@host:port like the database URL`);
  return { url, name: `${url.hostname}:${url.port || (scheme.startsWith('postgres') ? '5432' : '3306')}` };
}

/** One line about a replica that cannot be used, with the URL's password out of it. */
export function replicaError(raw: string, problem: string, cause?: unknown): ConnectionError {
  const reason = cause instanceof Error ? `: ${cause.message.split('\n')[0]}` : '';
  return new ConnectionError(scrubPasswords(`replica ${redactUrl(raw)} ${problem}${reason}`, [raw]), {
    cause,
    hint: 'check --replica-url (or replicaUrls in the config file), or leave the replica out',
  });
}
