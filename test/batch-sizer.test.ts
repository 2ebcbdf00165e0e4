/**
 * Batch sizing (src/engine/backfill.ts): pure arithmetic, no database. The
 * backfill tests on the servers show batches adapting end to end; these pin
 * down the rules that keep an app's wait on a batch short.
 */
import { BatchSizer } from '../src/engine/backfill';

describe('BatchSizer', () => {
  test('small first batches grow fourfold while they take under a quarter of the target, then twofold', () => {
    const sizer = new BatchSizer(1000, 50);
    sizer.record(5, 1000);
    expect(sizer.size).toBe(4000);
    sizer.record(20, 4000); // 0.005 ms a row: 10,000 rows would take the target; twofold growth caps it
    expect(sizer.size).toBe(8000);
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
    const sizer = new BatchSizer(1000, 50, 5000);
    sizer.record(1, 0);
    expect(sizer.size).toBe(4000);
    sizer.record(1, 0);
    expect(sizer.size).toBe(5000);
    sizer.record(10_000, 5000);
    expect(sizer.size).toBe(50);
  });
});
