import { mkdirSync } from 'node:fs';
import knexFactory from 'knex';
import ClientPgLite from 'knex-pglite';
import { ConfigError, RunnerLockError } from '../../errors';
import type { LagSource } from '../../engine/throttle';
import { PostgresDialect } from '../postgres';
import { readingZmigrateMarks } from '../postgres/client';
import { FolderLock } from './folder-lock';

const FOLDER_WAIT_MS = 60_000;

/**
 * Embedded PostgreSQL (PGlite) for demos and local trials: the PostgreSQL
 * dialect over a single in-process connection. One process at a time may
 * open a data folder.
 */
export class PgliteDialect extends PostgresDialect {
  override readonly displayName = 'embedded PostgreSQL (PGlite)';
  readonly #folderLock: FolderLock | undefined;

  constructor(dataDir: string | undefined) {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    super({
      client: readingZmigrateMarks(ClientPgLite) as unknown as typeof knexFactory.Client,
      dialect: 'postgres',
      connection: dataDir ? { filename: dataDir } : {},
    } as never);
    this.#folderLock = dataDir ? new FolderLock(dataDir) : undefined;
  }

  /** The folder is ours alone before PGlite opens it: a second process waits, then gives up. */
  override async connect(options: { lockTimeoutMs: number }): Promise<void> {
    if (this.#folderLock && !(await this.#folderLock.acquire(FOLDER_WAIT_MS))) {
      throw new RunnerLockError(`the embedded database folder is in use by process ${this.#folderLock.holderPid() ?? '?'}`, {
        hint: 'PGlite allows one process at a time; wait for it to finish',
      });
    }
    await super.connect(options);
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      this.#folderLock?.release();
    }
  }

  override primaryLagSource(): LagSource | undefined {
    return undefined;
  }

  override connectReplica(): Promise<LagSource> {
    return Promise.reject(new ConfigError('an embedded PostgreSQL (PGlite) has no replicas: drop --replica-url'));
  }

  override async describeRunnerLockHolder(): Promise<string | undefined> {
    return 'another runner in this process';
  }
}
