/**
 * How statements with bound values are put together: only zmigrate's own
 * placeholders are placeholders. Pure string work, so no server is needed;
 * bad-input.test.ts runs a migration full of `?` on both servers.
 */
import { asWritten, bound, joined, literalMarks, param, params } from '../src/dialects/bound-sql';
import { formatMysqlQuery } from '../src/dialects/mysql/query-format';

describe('bound', () => {
  test('interpolated names and expressions have their ? escaped; values go in as param, in order', () => {
    const statement = bound`UPDATE ${'"paid?"'} SET x = (${"coalesce(y, '?')"}) WHERE id > ${param(3)} AND id <= ${params([7])}`;
    expect(statement).toEqual({
      sql: `UPDATE "paid\\?" SET x = (coalesce(y, '\\?')) WHERE id > ? AND id <= ?`,
      bindings: [3, 7],
    });
  });

  test('fragments nest with their bindings, a row of values as (?, ?)', () => {
    const range = bound`(${'a?'}, b) > ${params([1, 'x'])}`;
    const both = joined([range, bound`c <= ${param(9)}`], ' AND ');
    expect(bound`SELECT * FROM t WHERE ${both} LIMIT ${10}`).toEqual({
      sql: 'SELECT * FROM t WHERE (a\\?, b) > (?, ?) AND c <= ? LIMIT 10',
      bindings: [1, 'x', 9],
    });
  });

  test('a ? in the template itself is refused: a value goes in as param', () => {
    expect(() => bound`SELECT * FROM t WHERE id = ?`).toThrow(/param\(\)/);
  });

  test('a backslash before a ? is kept: asWritten() undoes literalMarks(), as the server gets the text', () => {
    const texts = ['a ? b', String.raw`regexp '\?.*$'`, String.raw`'\\?' \\\? ??`, 'no marks \\ at all'];
    for (const text of texts) expect(asWritten(literalMarks(text))).toBe(text);
    expect(literalMarks(String.raw`x \? y`)).toBe(String.raw`x \\\? y`);
    expect(asWritten(bound`SELECT ${'"q?"'} WHERE id = ${param(1)}`.sql)).toBe('SELECT "q?" WHERE id = ?');
  });
});

describe('formatMysqlQuery', () => {
  const connection = { escape: (value: unknown) => (typeof value === 'string' ? `'${value.replace(/'/g, "''")}'` : String(value)) };
  const format = (sql: string, values?: unknown) => formatMysqlQuery.call(connection, sql, values);

  test('each ? takes the next value, \\? is a question mark', () => {
    expect(format("SELECT `a\\?` FROM t WHERE x = ? AND y = '\\?' AND z = ?", [1, "it's"])).toBe(
      "SELECT `a?` FROM t WHERE x = 1 AND y = '?' AND z = 'it''s'",
    );
  });

  test('an escaped backslash before an escaped ? reaches the server as a backslash and a question mark', () => {
    expect(format(literalMarks(String.raw`SELECT REGEXP_REPLACE(u, '\\?', '') WHERE id = `) + '?', [5])).toBe(
      String.raw`SELECT REGEXP_REPLACE(u, '\\?', '') WHERE id = 5`,
    );
  });

  test('a value is not read again for placeholders; a ? past the values stays', () => {
    expect(format('SELECT ?, ?', ['?'])).toBe("SELECT '?', ?");
    expect(format('SELECT `b\\?`')).toBe('SELECT `b?`');
  });
});
