import knexFactory from 'knex';
import type { LagSource, ReplicaLag } from '../../engine/throttle';
import { parseReplicaUrl, ReplicaSockets, replicaError } from '../replica';
import { mysqlConnection } from '../url';

type Status = Record<string, unknown>;

/**
 * A MySQL/MariaDB replica given by URL, read with SHOW REPLICA STATUS
 * (SHOW SLAVE STATUS on servers that predate it): Seconds_Behind_Master
 * (Seconds_Behind_Source on MySQL 8), and a stopped IO or SQL thread is a
 * reason to pause of its own.
 */
export async function connectMysqlReplica(raw: string): Promise<LagSource> {
  const { url, name } = parseReplicaUrl(raw, ['mysql', 'mariadb']);
  const sockets = new ReplicaSockets();
  const connection = mysqlConnection(url);
  const knex = knexFactory({
    client: 'mysql2',
    connection: {
      ...connection,
      connectTimeout: 5_000,
      stream: () => sockets.connecting(connection.host, connection.port),
    },
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 6_000,
    log: { warn: () => undefined },
  });
  let statement = 'SHOW REPLICA STATUS';
  const status = async (): Promise<Status | undefined> => {
    try {
      return ((await sockets.bounded(() => knex.raw(statement))) as [Status[]])[0][0];
    } catch (error) {
      if ((error as { code?: string }).code !== 'ER_PARSE_ERROR' || statement === 'SHOW SLAVE STATUS') throw error;
      statement = 'SHOW SLAVE STATUS';
      return status();
    }
  };
  let first: Status | undefined;
  try {
    first = await status();
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    throw replicaError(raw, refusal((error as { code?: string }).code), error);
  }
  if (!first) {
    await knex.destroy().catch(() => undefined);
    throw replicaError(raw, `is not a replica (${statement} is empty)`);
  }
  return {
    async read() {
      try {
        const row = await status();
        return [row ? lagOf(name, row) : { replica: name, lagMs: 0, exact: false, problem: 'is no longer a replica (replication reset?)' }];
      } catch (error) {
        return [{ replica: name, lagMs: 0, exact: false, problem: `cannot read its status (${(error as Error).message.split('\n')[0]})` }];
      }
    },
    close: () => knex.destroy(),
  };
}

/** What a replica's first SHOW REPLICA STATUS failing with a driver error code says of it. */
function refusal(code: string | undefined): string {
  switch (code) {
    // A missing privilege for that one statement: the user and password are right.
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      return 'refuses SHOW REPLICA STATUS (grant REPLICATION CLIENT, or SLAVE MONITOR on MariaDB)';
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return 'rejects the user name or password';
    default:
      return 'cannot be reached';
  }
}

function lagOf(replica: string, row: Status): ReplicaLag {
  const field = (...names: string[]) => names.map((n) => row[n]).find((v) => v !== undefined);
  const io = String(field('Replica_IO_Running', 'Slave_IO_Running') ?? '');
  const sql = String(field('Replica_SQL_Running', 'Slave_SQL_Running') ?? '');
  const behind = field('Seconds_Behind_Source', 'Seconds_Behind_Master');
  const lagMs = behind === null || behind === undefined ? 0 : Number(behind) * 1000;
  if (sql !== 'Yes') {
    const error = field('Last_SQL_Error');
    return { replica, lagMs, exact: false, problem: `replication SQL thread is not running${error ? ` (${String(error)})` : ''}` };
  }
  if (io !== 'Yes') {
    const error = field('Last_IO_Error');
    return { replica, lagMs, exact: false, problem: `replication IO thread is not running (${io}${error ? `: ${String(error)}` : ''})` };
  }
  return { replica, lagMs, exact: behind !== null && behind !== undefined };
}
