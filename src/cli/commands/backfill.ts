import type { Command } from '../context';
import type { BackfillResult } from '../../engine/runner';

/** Resumes or re-runs backfills, then verifies them; exit 1 when rows do not hold what up implies. */
export const backfill: Command = async (ctx) => {
  const results = await (await ctx.migrator()).backfill();
  if (results.length === 0) ctx.output.out('nothing to backfill');
  let failed = false;
  for (const r of results) {
    if (r.mismatches) {
      failed = true;
      ctx.output.out(`${r.name}: ${r.mismatches}`);
    } else {
      ctx.output.out(`${r.name}: ${whatRan(r)}`);
    }
  }
  return failed ? 1 : 0;
};

/** `backfilled and verified`, `verified again; people.middle_name not filled again (…)`. */
function whatRan(r: BackfillResult): string {
  const ran = r.filled ? (r.verified ? 'backfilled and verified' : 'backfilled') : r.verified ? 'verified again' : '';
  const left =
    r.notRefilled.length > 0
      ? `${r.notRefilled.join(', ')} not filled again (the backfill finished at expand, and a NULL there may be the new app's)`
      : '';
  return [ran, left].filter((part) => part !== '').join('; ');
}
