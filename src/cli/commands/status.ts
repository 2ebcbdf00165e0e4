import type { MigrationStatus } from '../../engine/runner';
import type { Command } from '../context';
import { digits } from '../output';

/** With --check, the exit code says where the migrations stand, for CI gates. */
export const STATUS_CODES = { complete: 0, pending: 3, awaitingContract: 4, failed: 5 } as const;

export const status: Command = async (ctx) => {
  // A recorded error, and a pause's reason (a replica's own error text), are a server's words, the parts of a
  // result that might echo a password.
  const scrub = (text: string) => ctx.output.scrub(text);
  const migrations = (await (await ctx.migrator()).status()).map((m) => ({
    ...m,
    error: m.error && scrub(m.error),
    throttled: m.throttled && { ...m.throttled, reason: scrub(m.throttled.reason) },
  }));
  const code = ctx.args.check ? checkCode(migrations) : 0;
  if (ctx.args.json) {
    ctx.output.out(JSON.stringify({ migrations }));
    return code;
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
      m.backfilledRows !== null && m.phase !== 'complete'
        ? `backfill ${digits(m.backfilledRows)} rows${m.phase === 'expanding' ? ' so far' : ''}`
        : '',
      m.throttled
        ? color.yellow(`throttled since ${m.throttled.since.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}: ${m.throttled.reason}`)
        : '',
      m.modified ? color.red('file changed since applied') : '',
      m.missingFile ? color.red('file missing') : '',
      m.error ? color.red(`error: ${m.error}`) : '',
    ].filter(Boolean);
    ctx.output.out(`${m.name.padEnd(width)}  ${phase}  ${notes.join('; ')}`.trimEnd());
  }
  return code;
};

function checkCode(all: MigrationStatus[]): number {
  // A record left of a rolled-back (or never applied) migration whose file is gone is history: nothing is
  // to be expanded, and zmigrate itself no longer looks at it. Only a live migration needs its file.
  const migrations = all.filter((m) => !(m.missingFile && (m.phase === 'pending' || m.phase === 'rolled back')));
  if (
    migrations.some(
      (m) =>
        m.error ||
        m.modified ||
        (m.missingFile && m.phase !== 'complete') ||
        ['expanding', 'contracting', 'rolling back'].includes(m.phase),
    )
  )
    return STATUS_CODES.failed;
  if (migrations.some((m) => m.phase === 'pending' || m.phase === 'rolled back')) return STATUS_CODES.pending;
  if (migrations.some((m) => m.phase === 'expanded')) return STATUS_CODES.awaitingContract;
  return STATUS_CODES.complete;
}
