import type { Phase } from '../../errors';
import type { Command } from '../context';

/** Shown under a rollback section: it is what undoes expand, not a step of every deploy. */
const ROLLBACK_NOTE = 'only if the deploy goes wrong: zmigrate rollback, instead of contract, undoes expand';

/** Prints the SQL each phase would run; runs nothing. */
export const plan: Command = async (ctx) => {
  const phases = ctx.args.phase as Phase[] | undefined;
  const plans = await (await ctx.migrator()).plan({ phases });
  if (ctx.args.json) {
    ctx.output.out(
      JSON.stringify({
        plans: plans.map((p) => ({
          migration: p.migration,
          phase: p.phase,
          statements: p.steps.map((s) => s.sql),
          note: p.note,
          resuming: p.resuming,
        })),
      }),
    );
    return 0;
  }
  if (plans.length === 0) ctx.output.out('-- nothing to do');
  for (const p of plans) {
    ctx.output.out(`-- ${p.migration}: ${p.phase}`);
    if (p.note) ctx.output.out(`-- note: ${p.note}`);
    if (p.phase === 'rollback' && !p.resuming) ctx.output.out(`-- ${ROLLBACK_NOTE}`);
    if (p.steps.length === 0) ctx.output.out('-- (no statements)');
    for (const s of p.steps) ctx.output.out(`${s.sql};${s.transactional ? '' : ' -- outside a transaction'}`);
    ctx.output.out('');
  }
  return 0;
};
