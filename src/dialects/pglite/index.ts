import { mkdirSync } from 'node:fs';
import knexFactory from 'knex';
import ClientPgLite from 'knex-pglite';
import { PostgresDialect } from '../postgres';

/**
 * Embedded PostgreSQL (PGlite) for demos and local trials: the PostgreSQL
 * dialect over a single in-process connection. One process at a time may
 * open a data folder.
 */
export class PgliteDialect extends PostgresDialect {
  override readonly displayName = 'embedded PostgreSQL (PGlite)';

  constructor(dataDir: string | undefined) {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    super(
      knexFactory({
        client: ClientPgLite as unknown as typeof knexFactory.Client,
        dialect: 'postgres',
        connection: dataDir ? { filename: dataDir } : {},
      } as never),
    );
  }

  override async describeRunnerLockHolder(): Promise<string | undefined> {
    return 'another zmigrate in this process';
  }
}
