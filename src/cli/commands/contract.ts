import type { Command } from '../context';

export const contract: Command = async (ctx) => {
  const migrator = await ctx.migrator();
  const done = await migrator.contract();
  ctx.output.out(`contracted ${done.join(', ')}; version schema still served: ${await migrator.schema()}`);
  return 0;
};
