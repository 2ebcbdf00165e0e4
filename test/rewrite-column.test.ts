/**
 * How alterColumn reads a PostgreSQL check's condition for the new column
 * (PostgresDialect.rewriteColumn): pure text, no server. The checks carried
 * over on a real server are in test/column-constraints.test.ts; these pin
 * down what the scan takes for a reference to the column and what it refuses.
 */
import { createDialect } from '../src/dialects';
import type { Dialect } from '../src/dialects/dialect';

describe('rewriteColumn (PostgreSQL)', () => {
  let dialect: Dialect;
  beforeAll(() => {
    // Never connects: rewriting is text only.
    dialect = createDialect('postgres://nobody@127.0.0.1:1/none', { lockTimeoutMs: 500 });
  });
  afterAll(async () => {
    await dialect.knex.destroy();
  });
  const rewrite = (expression: string, from = 'amount') => dialect.rewriteColumn!(expression, from, '_zm_amount');

  test('bare and quoted references become the new column, quoted; other names, strings and casts stay', () => {
    expect(rewrite('(amount >= 0)')).toBe('("_zm_amount" >= 0)');
    expect(rewrite("((abs(amount) <= cap) AND (note <> 'amount'::text))")).toBe(
      '((abs("_zm_amount") <= cap) AND (note <> \'amount\'::text))',
    );
    expect(rewrite('("amount" > amount_min) AND (AMOUNT < 10)')).toBe('("_zm_amount" > amount_min) AND ("_zm_amount" < 10)');
    expect(rewrite("(amount)::numeric > 0.5 AND e'it''s amount' <> ''")).toBe("(\"_zm_amount\")::numeric > 0.5 AND e'it''s amount' <> ''");
  });

  test('a quoted mixed-case column matches only its exact spelling', () => {
    expect(rewrite('("Amount" > 0) AND (amount > 1)', 'Amount')).toBe('("_zm_amount" > 0) AND (amount > 1)');
  });

  test('what the scan cannot tell from a reference is refused: a function or type of that name, a qualified name, dollar quoting', () => {
    expect(rewrite('amount(x) > 0')).toBeUndefined();
    expect(rewrite('x::amount > 0')).toBeUndefined();
    expect(rewrite('t.amount > 0')).toBeUndefined();
    expect(rewrite('note <> $$amount$$')).toBeUndefined();
  });
});
