import type { Command } from '../context';

export const rollback: Command = async (ctx) => {
  const migrator = await ctx.migrator();
  const name = await migrator.rollback();
  ctx.output.out(`rolled back ${name}`);
  return 0;
};
