import knexFactory, { type Knex } from 'knex';

/**
 * A pool of up to `count` sessions for work run side by side (backfill
 * jobs), opened as needed with the runner's connection settings; `prepare`
 * sets each new session up before its first statement.
 */
export function workerPool<Session>(config: Knex.Config, count: number, prepare: (session: Session) => Promise<void>): Knex {
  return knexFactory({
    ...config,
    pool: {
      min: 0,
      max: count,
      afterCreate: (session: Session, done: (error: Error | null, session: Session) => void) =>
        prepare(session).then(
          () => done(null, session),
          (error: Error) => done(error, session),
        ),
    },
  });
}
