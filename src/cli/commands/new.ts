import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../errors';
import { MIGRATION_NAME } from '../../migration/loader';
import type { Command } from '../context';

const TEMPLATE = `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  description: '__DESCRIPTION__',
  operations: [
    // op.addColumn('orders', 'priority', { type: 'integer', nullable: true }),
    op.sql({ expand: 'SELECT 1', rollback: 'SELECT 1' }),
  ],
});
`;

/** Scaffolds <dir>/<UTC timestamp>_<name>.ts. */
export const newMigration: Command = async (ctx) => {
  const name = String(ctx.args.name ?? '');
  if (!MIGRATION_NAME.test(name)) {
    throw new ConfigError(`migration name ${JSON.stringify(name)} must match [a-z0-9_]+`, { hint: 'e.g. zmigrate new add_priority' });
  }
  const dir = await ctx.dir();
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const file = path.join(dir, `${stamp}_${name}.ts`);
  if (existsSync(file)) throw new ConfigError(`${file} already exists`);
  writeFileSync(file, TEMPLATE.replace('__DESCRIPTION__', name.replace(/_/g, ' ')));
  ctx.output.out(file);
  return 0;
};
