import type { Command } from '../context';

export const expand: Command = async (ctx) => {
  const migrator = await ctx.migrator();
  const done = await migrator.expand();
  const schema = await migrator.schema();
  if (done.length === 0) ctx.output.out('nothing to expand: every migration is expanded or complete');
  else ctx.output.out(`expanded ${done.join(', ')}; new app version schema: ${schema}`);
  return 0;
};
