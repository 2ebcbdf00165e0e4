/**
 * Batch sizing (src/engine/backfill.ts): pure arithmetic, no database. The
 * backfill tests on the servers show batches adapting end to end; these pin
 * down the rules that keep an app's wait on a batch short.
 */
import { BatchSizer, firstBatchSize, tailSize } from '../src/engine/backfill';

describe('BatchSizer', () => {
  test('small first batches grow eightfold while they take under an eighth of the target, fourfold under a quarter, then twofold', () => {
    const sizer = new BatchSizer(1000, 50);
    sizer.record(6, 1000); // 0.006 ms a row: 8,333 rows would take the target
    expect(sizer.size).toBe(8000);
    const slower = new BatchSizer(1000, 50);
    slower.record(10, 1000);
    expect(slower.size).toBe(4000);
    slower.record(20, 4000); // 0.005 ms a row: 10,000 rows would take the target; twofold growth caps it
    expect(slower.size).toBe(8000);
  });

  test('the time around the writes (round trips, commit) is costed once a batch, not by the row', () => {
    const sizer = new BatchSizer(10_000, 50);
    sizer.record(40, 10_000, 30); // 10 ms around 0.003 ms a row: 13,333 rows fill the other 40 ms
    expect(sizer.size).toBe(13_333);
    const slow = new BatchSizer(10_000, 50);
    slow.record(100, 10_000, 90); // too slow: what 40 ms of writes allow, fewer than 50/100 of the rows
    expect(slow.size).toBe(4444);
    const stalled = new BatchSizer(10_000, 50);
    stalled.record(200, 10_000, 20); // quick writes, but a batch over the target never lets the next grow
    expect(stalled.size).toBe(10_000);
    const waited = new BatchSizer(10_000, 50);
    waited.record(45, 10_000, 15); // 30 ms around the writes: the writes still get half the target, 16,667 rows
    expect(waited.size).toBe(16_667);
  });

  test('one slow batch shrinks the next at once, to what its cost per row allows (not just by half)', () => {
    const sizer = new BatchSizer(10_000, 50);
    sizer.record(50, 10_000);
    expect(sizer.size).toBe(10_000);
    sizer.record(200, 10_000); // four times slower: a quarter of the rows
    expect(sizer.size).toBe(2500);
  });

  test('a batch of fewer rows than its size (a span with holes) is costed by the rows it held', () => {
    const sizer = new BatchSizer(10_000, 50);
    sizer.record(40, 5000); // 0.008 ms a row: 6,250 rows take the target
    expect(sizer.size).toBe(6250);
  });

  test('an empty batch (a span over a gap in the keys) only lets the next grow; sizes stay within bounds', () => {
    const sizer = new BatchSizer(500, 50, 5000);
    sizer.record(1, 0);
    expect(sizer.size).toBe(4000);
    sizer.record(1, 0);
    expect(sizer.size).toBe(5000);
    sizer.record(10_000, 5000);
    expect(sizer.size).toBe(50);
  });
});

describe('firstBatchSize', () => {
  test('1,000 rows unless that would write more than a megabyte; never under the smallest batch', () => {
    expect(firstBatchSize(undefined)).toBe(1000);
    expect(firstBatchSize(80)).toBe(1000);
    expect(firstBatchSize(1024)).toBe(1000);
    expect(firstBatchSize(1100)).toBe(953);
    expect(firstBatchSize(2048)).toBe(512);
    expect(firstBatchSize(8 * 1024)).toBe(128);
    expect(firstBatchSize(1024 * 1024)).toBe(50);
  });
});

describe('tailSize', () => {
  test('near the end, the rows left are shared among the jobs, down to a quarter of the size at least', () => {
    expect(tailSize(20_000, 100_000, 2)).toBe(20_000); // far from the end
    expect(tailSize(20_000, 40_000, 2)).toBe(20_000); // exactly a batch for each
    expect(tailSize(20_000, 30_000, 2)).toBe(15_000);
    expect(tailSize(20_000, 30_000, 3)).toBe(10_000);
    expect(tailSize(20_000, 6_000, 2)).toBe(5_000); // a quarter at least
    expect(tailSize(100, 10, 2)).toBe(50); // never under the smallest batch
  });

  test('the size stays with one job, without an estimate, and once the estimate is used up', () => {
    expect(tailSize(20_000, 10_000, 1)).toBe(20_000);
    expect(tailSize(20_000, undefined, 2)).toBe(20_000);
    expect(tailSize(20_000, 0, 2)).toBe(20_000);
    expect(tailSize(20_000, -5_000, 2)).toBe(20_000);
  });
});
