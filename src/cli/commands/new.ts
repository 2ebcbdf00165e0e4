import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../errors';
import { MIGRATION_NAME } from '../../migration/loader';
import type { Command } from '../context';
import { migrationTemplate, OPERATION_TEMPLATES } from '../templates';

/** Scaffolds <dir>/<UTC timestamp>_<name>.ts from the template of --op (default: raw SQL). */
export const newMigration: Command = async (ctx) => {
  const name = String(ctx.args.name ?? '');
  const op = String(ctx.args.op ?? 'sql');
  if (!(op in OPERATION_TEMPLATES)) {
    throw new ConfigError(`unknown --op ${JSON.stringify(op)}`, { hint: `one of ${Object.keys(OPERATION_TEMPLATES).join(', ')}` });
  }
  if (!MIGRATION_NAME.test(name)) {
    throw new ConfigError(`migration name ${JSON.stringify(name)} must match [a-z0-9_]+`, { hint: 'e.g. zmigrate new add_priority' });
  }
  const dir = await ctx.dir();
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const file = path.join(dir, `${stamp}_${name}.ts`);
  if (existsSync(file)) throw new ConfigError(`${file} already exists`);
  writeFileSync(file, migrationTemplate(op, name.replace(/_/g, ' ')));
  ctx.output.out(file);
  return 0;
};
