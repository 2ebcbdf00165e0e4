import type { Command } from '../context';

/** Prints the SQL each phase would run; runs nothing. */
export const plan: Command = async (ctx) => {
  const plans = await (await ctx.migrator()).plan();
  if (ctx.args.json) {
    ctx.output.out(
      JSON.stringify({
        plans: plans.map((p) => ({ migration: p.migration, phase: p.phase, statements: p.steps.map((s) => s.sql), note: p.note })),
      }),
    );
    return 0;
  }
  if (plans.length === 0) ctx.output.out('-- nothing to do');
  for (const p of plans) {
    ctx.output.out(`-- ${p.migration}: ${p.phase}`);
    if (p.note) ctx.output.out(`-- note: ${p.note}`);
    if (p.steps.length === 0) ctx.output.out('-- (no statements)');
    for (const s of p.steps) ctx.output.out(`${s.sql};${s.transactional ? '' : ' -- outside a transaction'}`);
    ctx.output.out('');
  }
  return 0;
};
