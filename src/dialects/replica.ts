import net from 'node:net';
import { ConnectionError, ConfigError } from '../errors';
import { redactMalformedUrl, redactUrl, refuseMisreadCredentials, scrubPasswords } from './url';

/** A replica URL, checked to be of the primary's engine; `name` (host:port) is what messages show. */
export function parseReplicaUrl(raw: string, schemes: readonly string[]): { url: URL; name: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`malformed replica URL ${JSON.stringify(redactMalformedUrl(raw.trim()))}`, {
      hint: '%-encode @ # / ? % and spaces in the user name or password',
    });
  }
  refuseMisreadCredentials(url, raw.trim(), 'replica URL');
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

/** How long one read of a replica's lag may take before its connection is cut and the read counts as a problem. */
export const REPLICA_READ_TIMEOUT_MS = 10_000;

/**
 * The sockets of a replica's connections, made by zmigrate for the driver
 * (its `stream` option), so that a read a replica never answers (a host gone
 * silent, no TCP reset) can be cut off instead of waiting for the system's
 * TCP timeout: the driver then fails the read, the pool drops the
 * connection, and the next read connects afresh.
 */
export class ReplicaSockets {
  readonly #open = new Set<net.Socket>();

  /** A socket not yet connected (node-postgres connects it). */
  readonly unconnected = (): net.Socket => this.#keep(new net.Socket());

  /** A socket connecting to `host:port` (mysql2 expects one under way). */
  connecting(host: string, port: number): net.Socket {
    const socket = this.#keep(net.connect(port, host.replace(/^\[(.*)\]$/, '$1')));
    socket.setNoDelay(true);
    return socket;
  }

  /**
   * Runs `read`; if it has not settled within `timeoutMs`, every socket is
   * destroyed and this rejects with "did not answer within …".
   */
  async bounded<T>(read: () => PromiseLike<T>, timeoutMs = REPLICA_READ_TIMEOUT_MS): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const reading = Promise.resolve(read());
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The cut read rejects later, with the driver's error: nobody waits for it any more.
        reading.catch(() => undefined);
        for (const socket of this.#open) socket.destroy();
        reject(new Error(`did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([reading, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #keep(socket: net.Socket): net.Socket {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  }
}
