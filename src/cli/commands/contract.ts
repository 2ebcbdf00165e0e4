import type { Command } from '../context';

export const contract: Command = async (ctx) => {
  const migrator = await ctx.migrator();
  const done = await migrator.contract();
  if (done.length === 0) ctx.output.out('nothing to contract: every migration is already complete');
  else ctx.output.out(`contracted ${done.join(', ')}; version schema still served: ${await migrator.schema()}`);
  return 0;
};
