/**
 * The CLI's progress lines: what an operator reads while a backfill runs.
 * Pure formatting, so no server is needed.
 */
import { digits, duration, Output } from '../src/cli/output';
import type { Logger } from '../src/engine/logger';

/** The CLI's logger writing to a stream that is a TTY or not, and what it wrote. */
function capture(tty: boolean): { logger: Logger; written: string[] } {
  const written: string[] = [];
  const stream = { write: (text: string) => written.push(text), isTTY: tty };
  const io = { stdout: stream, stderr: stream, env: { NO_COLOR: '1' }, cwd: '/' };
  return { logger: new Output(() => [], io).logger(), written };
}

describe('progress output', () => {
  test('counts are grouped by thousands, rates rounded', () => {
    expect([0, 999, 1000, 12_345, 1_234_567, 99_999.6, 10_000_000].map(digits)).toEqual([
      '0',
      '999',
      '1,000',
      '12,345',
      '1,234,567',
      '100,000',
      '10,000,000',
    ]);
  });

  test('durations read as an operator would say them', () => {
    expect([0.0412, 3.456, 9.999, 12.34, 59.96, 125.4, 3599.6, 11_545].map(duration)).toEqual([
      '0.04 s',
      '3.46 s',
      '10.0 s',
      '12.3 s',
      '1 min 0 s',
      '2 min 5 s',
      '1 h 0 min',
      '3 h 12 min',
    ]);
  });

  test('a step that ends without a line of its own says so, with its time, and ends a progress bar first', () => {
    const { logger, written } = capture(true);
    logger.progress!({ table: 'orders', rows: 500, total: 1000, rate: 1500, etaSeconds: 0.3, seconds: 0.33, finished: false });
    logger.done!('verified orders.amount (new) = up(old) on every row', 0.123);
    expect(written.slice(1)).toEqual(['\n', '  · verified orders.amount (new) = up(old) on every row in 0.12 s\n']);
  });

  test('elsewhere than a TTY: a plain line with rows done, rows/s and ETA, then a last line when done', () => {
    const { logger, written } = capture(false);
    logger.progress!({ table: 'orders', rows: 12_000, total: 1_000_000, rate: 240_123.4, etaSeconds: 4.1, seconds: 0.05, finished: false });
    // Within five seconds of the last line, nothing more until the end.
    logger.progress!({ table: 'orders', rows: 24_000, total: 1_000_000, rate: 240_000, etaSeconds: 4, seconds: 0.1, finished: false });
    logger.progress!({ table: 'orders', rows: 1_000_000, total: 1_000_000, rate: 250_000, etaSeconds: 0, seconds: 4.004, finished: true });
    expect(written).toEqual([
      '  · backfill orders: 12,000 / ~1,000,000 rows, 240,123 rows/s, ETA 5 s\n',
      '  · backfill orders: 1,000,000 / ~1,000,000 rows, done in 4.00 s\n',
    ]);
  });

  test('on a TTY: a bar redrawn in place, ended by a newline when done', () => {
    const { logger, written } = capture(true);
    logger.progress!({ table: 'orders', rows: 500, total: 1000, rate: 1500, etaSeconds: 0.3, seconds: 0.33, finished: false });
    logger.progress!({ table: 'orders', rows: 1000, total: 1000, rate: 1500, etaSeconds: 0, seconds: 0.666, finished: true });
    expect(written).toEqual([
      '\r\x1b[2K  [############............] backfill orders: 500 / ~1,000 rows, 1,500 rows/s, ETA 1 s',
      '\r\x1b[2K  [########################] backfill orders: 1,000 / ~1,000 rows, done in 0.67 s',
      '\n',
    ]);
  });
});

describe('colours', () => {
  const ESC = '\x1b[';
  /** An Output over two fake streams, each a TTY or not, and what was written to each. */
  function streams(stdoutTty: boolean, stderrTty: boolean, env: Record<string, string> = { TERM: 'xterm' }) {
    const written = { stdout: '', stderr: '' };
    const io = {
      stdout: { write: (text: string) => (written.stdout += text), isTTY: stdoutTty },
      stderr: { write: (text: string) => (written.stderr += text), isTTY: stderrTty },
      env,
      cwd: '/',
    };
    const output = new Output(() => [], io);
    const logger = output.logger();
    logger.info('expand 0001_items');
    logger.warn('throttling: replica lags');
    output.out(output.color.green('complete'));
    return written;
  }

  test('each stream is coloured by whether it is a terminal itself (`zmigrate expand 2> log` in a terminal)', () => {
    const toLog = streams(true, false);
    expect(toLog.stderr).not.toContain(ESC);
    expect(toLog.stdout).toContain(ESC);
    const piped = streams(false, true);
    expect(piped.stderr).toContain(ESC);
    expect(piped.stdout).not.toContain(ESC);
  });

  test('none on either with NO_COLOR or TERM=dumb', () => {
    for (const env of [{ TERM: 'xterm', NO_COLOR: '1' }, { TERM: 'dumb' }] as Array<Record<string, string>>) {
      const written = streams(true, true, env);
      expect(written.stdout + written.stderr).not.toContain(ESC);
      expect(written.stderr).toContain('! throttling: replica lags');
    }
  });
});

describe('passwords', () => {
  /** What out() and err() wrote, with `urls` in use. */
  function written(urls: string[], lines: { out?: string[]; err?: string[] }) {
    const text = { stdout: '', stderr: '' };
    const io = {
      stdout: { write: (t: string) => (text.stdout += t) },
      stderr: { write: (t: string) => (text.stderr += t) },
      env: { NO_COLOR: '1' },
      cwd: '/',
    };
    const output = new Output(() => urls, io);
    for (const line of lines.out ?? []) output.out(line);
    for (const line of lines.err ?? []) output.err(line);
    return text;
  }

  test('results on stdout are printed as they are; error lines lose the password, as written and decoded', () => {
    const url = 'postgres://app:Hunter2%40Secret@db/shop';
    expect(written([url], { out: ['shop_0002_x', '{"engine":"postgres","rows":1234}'] }).stdout).toBe(
      'shop_0002_x\n{"engine":"postgres","rows":1234}\n',
    );
    expect(written([url], { err: [`error: cannot reach ${url}: the server said Hunter2@Secret`] }).stderr).toBe(
      'error: cannot reach postgres://app:***@db/shop: the server said ***\n',
    );
  });

  test('a password with a space, a raw @ in the user name, a replica URL: none left in an error line', () => {
    const urls = ['mysql://app:pass word@db/shop', 'mysql://sa@proj.iam:T0kenSecret@replica/shop'];
    const line = `replica ${urls[1]} and ${urls[0]} failed: T0kenSecret, pass word`;
    expect(written(urls, { err: [line] }).stderr).toBe(
      'replica mysql://sa@proj.iam:***@replica/shop and mysql://app:***@db/shop failed: ***, ***\n',
    );
  });

  test('error lines keep a password that is too short to hide anything, or is the user or database name they show anyway', () => {
    expect(written(['mysql://shop:shop@db/shop'], { err: ['expand: create version schema shop_0002_x'] }).stderr).toBe(
      'expand: create version schema shop_0002_x\n',
    );
    expect(written(['postgres://app:123@db/shop'], { err: ['backfill t: 1,234 rows, 123 rows/s'] }).stderr).toBe(
      'backfill t: 1,234 rows, 123 rows/s\n',
    );
  });
});
