/**
 * Throwaway primary + replica pairs, started from the server binaries
 * installed on this machine (never the shared servers on 5432/3306), in temp
 * folders on free ports, with settings for speed rather than safety
 * (fsync off, tiny buffers). Missing binaries fail the test with what to install.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const MARIADBD = '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = '/usr/bin/mariadb-install-db';

/** knex would print every refused connection while a server starts up. */
export const QUIET = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };

export interface ServerPair {
  /** The primary's URL for the given database (zmigrate and the test connect with it). */
  primaryUrl(database: string): string;
  primaryPort: number;
  replicaPort: number;
  /** Admin connections (superuser / root, no database). */
  primary: Knex;
  replica: Knex;
  /** Kills both servers and removes their folders; safe to call twice. */
  stop(): Promise<void>;
}

function requireFiles(files: string[], install: string): void {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`this test needs ${missing.join(', ')}: install ${install}`);
}

/** Servers refuse to run as root: as root, the child runs as the server's OS user. */
function osUser(name: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`the tests run as root, and the OS user ${JSON.stringify(name)} the server must run as does not exist`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end as `user`, failing with its output. */
function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(command)} ${args.join(' ')} failed (${code}): ${output}`)),
    );
  });
}

/** A long-running server process, and what it printed (for the error when it does not come up). */
function daemon(
  command: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): { child: ChildProcess; log: () => string } {
  const child = spawn(command, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  return { child, log: () => log };
}

async function untilAnswers(knex: Knex, what: string, server: { child: ChildProcess; log: () => string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await knex.raw('SELECT 1');
      return;
    } catch (error) {
      if (server.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`${what} did not come up: ${(error as Error).message}\n${server.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function stopper(children: ChildProcess[], knexes: Knex[], dir: string, signal: NodeJS.Signals): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      await Promise.all(knexes.map((k) => k.destroy().catch(() => undefined)));
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill(signal);
            }),
        ),
      );
      // Retried: a server killed a moment ago may still have files open.
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      } catch (error) {
        process.stderr.write(`could not remove ${dir}: ${(error as Error).message}\n`);
      }
    })());
}

/** PostgreSQL 15: initdb a primary, pg_basebackup -R a streaming standby from it. */
export async function startPostgresPair(): Promise<ServerPair> {
  requireFiles(
    ['initdb', 'postgres', 'pg_basebackup'].map((b) => path.join(PG_BIN, b)),
    'the PostgreSQL 15 server (apt-get install postgresql-15)',
  );
  const user = osUser('postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-pg-replication-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const children: ChildProcess[] = [];
  const knexes: Knex[] = [];
  const stop = stopper(children, knexes, dir, 'SIGQUIT');
  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const primaryDir = path.join(dir, 'primary');
    const replicaDir = path.join(dir, 'replica');
    await run(path.join(PG_BIN, 'initdb'), ['-D', primaryDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions'], user);
    const settings = (port: number) =>
      [
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'shared_buffers = 16MB',
        'max_connections = 30',
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'wal_level = replica',
        'max_wal_senders = 4',
        // The standby tells the primary what it replayed every second (default 10 s), so the test need not wait long.
        "wal_receiver_status_interval = '1s'",
        '',
      ].join('\n');
    appendFileSync(path.join(primaryDir, 'postgresql.conf'), settings(primaryPort));
    const primaryServer = daemon(path.join(PG_BIN, 'postgres'), ['-D', primaryDir], user);
    children.push(primaryServer.child);
    const admin = (port: number) =>
      knexFactory({
        client: 'pg',
        connection: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
        pool: { min: 0, max: 2 },
        log: QUIET,
      });
    const primary = admin(primaryPort);
    knexes.push(primary);
    await untilAnswers(primary, 'the PostgreSQL primary', primaryServer);
    await run(
      path.join(PG_BIN, 'pg_basebackup'),
      ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast'],
      user,
    );
    appendFileSync(path.join(replicaDir, 'postgresql.conf'), settings(replicaPort));
    const replicaServer = daemon(path.join(PG_BIN, 'postgres'), ['-D', replicaDir], user);
    children.push(replicaServer.child);
    const replica = admin(replicaPort);
    knexes.push(replica);
    await untilAnswers(replica, 'the PostgreSQL replica', replicaServer);
    return {
      primaryUrl: (database) => `postgres://postgres@127.0.0.1:${primaryPort}/${database}`,
      primaryPort,
      replicaPort,
      primary,
      replica,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** MariaDB: two instances, the second replicating from the first (binlog + GTID). */
export async function startMariadbPair(options: { replicationPassword: string }): Promise<ServerPair> {
  requireFiles([MARIADBD, MARIADB_INSTALL_DB], 'the MariaDB server (apt-get install mariadb-server)');
  const user = osUser('mysql');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-mariadb-replication-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const children: ChildProcess[] = [];
  const knexes: Knex[] = [];
  const stop = stopper(children, knexes, dir, 'SIGKILL');
  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const small = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M'];
    // A temp folder of each instance's own: a starting mariadbd deletes every #sql* file in its tmpdir, which in
    // the shared /tmp would be the other instance's and the machine's own MariaDB server's temporary tables.
    const tmpdir = (name: string) => {
      const folder = path.join(dir, `${name}-tmp`);
      mkdirSync(folder, { recursive: true });
      if (user) chownSync(folder, user.uid, user.gid);
      return `--tmpdir=${folder}`;
    };
    // Both installs run to their end before a failure is reported, so nothing writes into a folder being removed.
    const installs = await Promise.allSettled(
      ['primary', 'replica'].map((name) =>
        run(
          MARIADB_INSTALL_DB,
          [
            '--no-defaults',
            `--datadir=${path.join(dir, name)}`,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            '--skip-name-resolve',
            tmpdir(name),
            ...small,
          ],
          user,
        ),
      ),
    );
    for (const install of installs) if (install.status === 'rejected') throw install.reason;
    const start = (name: string, port: number, serverId: number) => {
      const server = daemon(
        MARIADBD,
        [
          '--no-defaults',
          `--datadir=${path.join(dir, name)}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${path.join(dir, `${name}.sock`)}`,
          `--pid-file=${path.join(dir, `${name}.pid`)}`,
          `--server-id=${serverId}`,
          `--log-bin=${path.join(dir, name, 'binlog')}`,
          `--relay-log=${path.join(dir, name, 'relay')}`,
          '--skip-name-resolve',
          '--performance-schema=OFF',
          '--innodb-flush-log-at-trx-commit=0',
          '--innodb-doublewrite=0',
          '--sync-binlog=0',
          tmpdir(name),
          ...small,
        ],
        user,
      );
      children.push(server.child);
      return server;
    };
    const admin = (port: number) =>
      knexFactory({ client: 'mysql2', connection: { host: '127.0.0.1', port, user: 'root' }, pool: { min: 0, max: 2 }, log: QUIET });
    const primaryServer = start('primary', primaryPort, 1);
    const replicaServer = start('replica', replicaPort, 2);
    const primary = admin(primaryPort);
    const replica = admin(replicaPort);
    knexes.push(primary, replica);
    await untilAnswers(primary, 'the MariaDB primary', primaryServer);
    await untilAnswers(replica, 'the MariaDB replica', replicaServer);
    await primary.raw("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY ?", [options.replicationPassword]);
    await primary.raw("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
    await replica.raw(
      "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = 'repl', MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
      [primaryPort, options.replicationPassword],
    );
    await replica.raw('START SLAVE');
    return {
      primaryUrl: (database) => `mysql://root@127.0.0.1:${primaryPort}/${database}`,
      primaryPort,
      replicaPort,
      primary,
      replica,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A TCP proxy in front of a server that can go silent: it keeps every connection open and passes nothing on. */
export interface SilentProxy {
  port: number;
  /** From now on nothing passes, on open connections and new ones alike; nothing is closed either. */
  silence(): void;
  /** New connections pass again (the silenced ones stay silent). */
  answer(): void;
  close(): Promise<void>;
}

export async function silentProxy(targetPort: number): Promise<SilentProxy> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const silenced: Array<() => void> = [];
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (silent) return;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    silenced.push(() => {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() {
      silent = true;
      for (const cut of silenced.splice(0)) cut();
    },
    answer() {
      silent = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
