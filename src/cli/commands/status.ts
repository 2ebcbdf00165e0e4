import type { Command } from '../context';

export const status: Command = async (ctx) => {
  const migrations = await (await ctx.migrator()).status();
  if (ctx.args.json) {
    ctx.output.out(JSON.stringify({ migrations }));
    return 0;
  }
  if (migrations.length === 0) {
    ctx.output.out('no migrations');
    return 0;
  }
  const { color } = ctx.output;
  const paint: Record<string, (s: string) => string> = {
    complete: color.green,
    expanded: color.cyan,
    pending: color.dim,
    'rolled back': color.dim,
  };
  const width = Math.max(...migrations.map((m) => m.name.length));
  for (const m of migrations) {
    const phase = (paint[m.phase] ?? color.yellow)(m.phase.padEnd(11));
    const notes = [
      m.versionSchema ? `schema ${m.versionSchema}` : '',
      m.modified ? color.red('file changed since applied') : '',
      m.missingFile ? color.red('file missing') : '',
      m.error ? color.red(`error: ${m.error}`) : '',
    ].filter(Boolean);
    ctx.output.out(`${m.name.padEnd(width)}  ${phase}  ${notes.join('; ')}`.trimEnd());
  }
  return 0;
};
