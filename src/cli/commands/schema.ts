import { StateError } from '../../errors';
import type { Command } from '../context';

/** Prints the latest version schema name and nothing else, for deploy scripts. */
export const schema: Command = async (ctx) => {
  const name = await (await ctx.migrator()).schema();
  if (!name) throw new StateError('no version schema yet: run zmigrate expand first');
  ctx.output.out(name);
  return 0;
};
