/**
 * The CLI's progress lines: what an operator reads while a backfill runs.
 * Pure formatting, so no server is needed.
 */
import { digits, Output } from '../src/cli/output';
import type { Logger } from '../src/engine/logger';

/** The CLI's logger writing to a stream that is a TTY or not, and what it wrote. */
function capture(tty: boolean): { logger: Logger; written: string[] } {
  const written: string[] = [];
  const stream = { write: (text: string) => written.push(text), isTTY: tty };
  const io = { stdout: stream, stderr: stream, env: { NO_COLOR: '1' }, cwd: '/' };
  return { logger: new Output(() => undefined, io).logger(), written };
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

  test('elsewhere than a TTY: a plain line with rows done, rows/s and ETA, then a last line when done', () => {
    const { logger, written } = capture(false);
    logger.progress!({ table: 'orders', rows: 12_000, total: 1_000_000, rate: 240_123.4, etaSeconds: 4.1, finished: false });
    // Within five seconds of the last line, nothing more until the end.
    logger.progress!({ table: 'orders', rows: 24_000, total: 1_000_000, rate: 240_000, etaSeconds: 4, finished: false });
    logger.progress!({ table: 'orders', rows: 1_000_000, total: 1_000_000, rate: 250_000, etaSeconds: 0, finished: true });
    expect(written).toEqual([
      '  · backfill orders: 12,000 / ~1,000,000 rows, 240,123 rows/s, ETA 5 s\n',
      '  · backfill orders: 1,000,000 / ~1,000,000 rows, done\n',
    ]);
  });

  test('on a TTY: a bar redrawn in place, ended by a newline when done', () => {
    const { logger, written } = capture(true);
    logger.progress!({ table: 'orders', rows: 500, total: 1000, rate: 1500, etaSeconds: 0.3, finished: false });
    logger.progress!({ table: 'orders', rows: 1000, total: 1000, rate: 1500, etaSeconds: 0, finished: true });
    expect(written).toEqual([
      '\r\x1b[2K  [############............] backfill orders: 500 / ~1,000 rows, 1,500 rows/s, ETA 1 s',
      '\r\x1b[2K  [########################] backfill orders: 1,000 / ~1,000 rows, done',
      '\n',
    ]);
  });
});
