import type { Command } from '../context';

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
      ctx.output.out(`${r.name}: ${r.verified ? 'backfilled and verified' : 'backfilled'}`);
    }
  }
  return failed ? 1 : 0;
};
