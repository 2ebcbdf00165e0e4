/**
 * The one helper that takes the statement knex puts in front of a driver's
 * error off it, for the messages zmigrate prints (the statement is shown
 * apart) and for the privilege a permission error names. Pure string work:
 * the errors come from real servers in privileges.test.ts and the lock tests.
 */
import { failedStatementVerb, serverText } from '../src/dialects/permission';
import { message } from '../src/engine/executor';

const knexError = (statement: string, server: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${statement} - ${server}`), extra);

describe('the server text of a failed statement', () => {
  test.each([
    ['create schema "x"', 'permission denied for database shop', 'create'],
    ['alter table `orders` add column `x` int', "ALTER command denied to user 'u'@'%' for table `shop`.`orders`", 'alter'],
    ['RENAME TABLE `a` TO `b`', 'Lock wait timeout exceeded; try restarting transaction', 'rename'],
    ['truncate "audit"', 'permission denied for table audit', 'truncate'],
    [
      'SET STATEMENT max_statement_time = 0.3 FOR CREATE TRIGGER `t` BEFORE INSERT ON `orders` FOR EACH ROW SET NEW.a = 1',
      'Query execution was interrupted (max_statement_time exceeded)',
      'create',
    ],
    ['SET lock_timeout = 500', 'unrecognized configuration parameter', undefined],
  ])('%s', (statement, server, verb) => {
    const error = knexError(statement, server);
    expect(serverText(error)).toBe(server);
    expect(message(error)).toBe(server);
    expect(failedStatementVerb(error)).toBe(verb);
  });

  test('a message knex did not prefix is kept whole, dashes and all', () => {
    const error = new Error('connect ECONNREFUSED 127.0.0.1:1 - is the server up?');
    expect(serverText(error)).toBe(error.message);
    expect(failedStatementVerb(error)).toBeUndefined();
  });

  test("PostgreSQL's detail follows the message where it adds something", () => {
    const error = knexError('insert into "orders" ("id") values ($1)', 'duplicate key value violates unique constraint "orders_pkey"', {
      detail: 'Key (id)=(1) already exists.',
    });
    expect(message(error)).toBe('duplicate key value violates unique constraint "orders_pkey": Key (id)=(1) already exists.');
  });
});
