/**
 * Reading the README, the guides and a GitHub Actions workflow for the shell
 * commands they show, and normalizing a command so the one a doc shows and
 * the one a test ran compare equal (test/docs.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The block's text. */
  text: string;
  /** Shell commands, one per logical line (continuations joined, comment lines and console output left out). */
  commands: string[];
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', 'zsh', 'shell-session']);

export function readDoc(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

/** Fenced code blocks of a Markdown file. */
export function blocksOf(file: string): DocBlock[] {
  const lines = readDoc(file).split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(open[1])) body.push(lines[j++]);
    const lang = open[2].toLowerCase();
    const text = body.join('\n');
    blocks.push({ file, line: i + 1, lang, text, commands: commandsOf(lang, text) });
    i = j;
  }
  return blocks;
}

function commandsOf(lang: string, text: string): string[] {
  if (lang === 'yaml' || lang === 'yml') return workflowRuns(text).flatMap((r) => shellLines(r.run));
  if (!SHELL_LANGS.has(lang)) return [];
  if (lang === 'console' || lang === 'shell-session') {
    // Commands follow a `$ ` prompt; the other lines are their output.
    return text
      .split('\n')
      .filter((l) => /^\s*\$ /.test(l))
      .map((l) => l.replace(/^\s*\$ /, ''));
  }
  return shellLines(text);
}

/** Logical lines of a shell script: `\` continuations joined; blank and comment-only lines left out. */
export function shellLines(script: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of script.split('\n')) {
    const line = pending + raw;
    if (/\\\s*$/.test(line)) {
      pending = line.replace(/\\\s*$/, ' ');
      continue;
    }
    pending = '';
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    out.push(line.trim());
  }
  return out;
}

/** The block of `file` whose text contains `marker`; exactly one must. */
export function blockWith(file: string, marker: string): DocBlock {
  const found = blocksOf(file).filter((b) => b.text.includes(marker));
  if (found.length !== 1) throw new Error(`${file}: expected one code block containing ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0];
}

/**
 * zmigrate commands named in the prose (inline code spans, which may wrap
 * across lines), synopses with `<placeholders>` or `[options]` left out.
 * They are references more than commands: `zmigrate new` names the command
 * that `zmigrate new add_priority` runs.
 */
export function proseCommands(file: string): Array<{ line: number; command: string }> {
  const text = readDoc(file).replace(/^\s*(```+|~~~+)[^]*?^\s*\1\s*$/gm, (block) => block.replace(/[^\n]/g, ' '));
  const found: Array<{ line: number; command: string }> = [];
  for (const m of text.matchAll(/(`+)(?!`)([^]*?[^`])\1(?!`)/g)) {
    const command = m[2].replace(/\s+/g, ' ').trim();
    if (/^(npx )?zmigrate [a-z]/.test(command) && !/[<[…]/.test(command)) {
      found.push({ line: text.slice(0, m.index).split('\n').length, command });
    }
  }
  return found;
}

// ── reading the workflow ─────────────────────────────────────────────────

export interface WorkflowStep {
  job?: string;
  name?: string;
  id?: string;
  if?: string;
  run: string;
  env: Record<string, string>;
}

export interface WorkflowJob {
  name: string;
  if?: string;
  env: Record<string, string>;
  steps: WorkflowStep[];
}

const indentOf = (line: string) => line.length - line.trimStart().length;

function inlineEnv(value: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of value.matchAll(/(\w+):\s*'([^']*)'/g)) env[m[1]] = m[2];
  return env;
}

/**
 * The steps with `run:` of a GitHub Actions workflow (or of a steps snippet),
 * read for the subset of YAML the examples use: block and plain scalars,
 * inline `{ KEY: 'value' }` maps and `KEY: 'value'` lines under `env:`.
 */
export function workflowRuns(yaml: string): WorkflowStep[] {
  return workflowJobs(yaml).flatMap((j) => j.steps.map((s) => ({ ...s, job: j.name })));
}

export function workflowJobs(yaml: string): WorkflowJob[] {
  const lines = yaml.split('\n');
  const jobs: WorkflowJob[] = [];
  let job: WorkflowJob = { name: '', env: {}, steps: [] };
  let stepIndent = -1;
  let step: (WorkflowStep & { indent: number }) | undefined;
  const finishStep = () => {
    if (step && step.run !== '') job.steps.push({ name: step.name, id: step.id, if: step.if, run: step.run, env: step.env });
    step = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const indent = indentOf(line);
    const jobHead = /^ {2}([\w-]+):\s*$/.exec(line);
    if (jobHead && lines.slice(0, i).some((l) => /^jobs:\s*$/.test(l))) {
      finishStep();
      job = { name: jobHead[1], env: {}, steps: [] };
      jobs.push(job);
      continue;
    }
    let content = line.trim();
    if (content.startsWith('- ')) {
      if (stepIndent < 0 || indent === stepIndent) {
        finishStep();
        stepIndent = indent;
        step = { run: '', env: {}, indent: indent + 2 };
      }
      content = content.slice(2);
    } else if (step && indent < step.indent) {
      finishStep();
    }
    const key = /^([\w-]+):\s*(.*)$/.exec(content);
    if (!key) continue;
    const [, name, value] = key;
    const target = step ?? job;
    if (name === 'run' && step) {
      if (value === '|' || value === '|-') {
        const script: string[] = [];
        while (i + 1 < lines.length && (lines[i + 1].trim() === '' || indentOf(lines[i + 1]) > step.indent)) script.push(lines[++i]);
        const cut = Math.min(...script.filter((l) => l.trim() !== '').map(indentOf));
        step.run = script.map((l) => l.slice(cut)).join('\n');
      } else {
        step.run = value;
      }
    } else if (name === 'name' && step) {
      step.name = value;
    } else if (name === 'id' && step) {
      step.id = value;
    } else if (name === 'if') {
      target.if = value;
    } else if (name === 'env') {
      if (value.startsWith('{')) Object.assign(target.env, inlineEnv(value));
      else
        while (i + 1 < lines.length && indentOf(lines[i + 1]) > indent && /^\s*\w+:/.test(lines[i + 1])) {
          Object.assign(target.env, inlineEnv(lines[++i].trim().replace(/^(\w+):\s*/, '$1: ')));
        }
    }
  }
  finishStep();
  if (jobs.length === 0 && job.steps.length > 0) jobs.push(job);
  return jobs;
}

/**
 * Whether a step's `if:` lets it run, as GitHub Actions decides: `failure()`,
 * `success()`, `always()`, `steps.<id>.outcome` compared with `==` or `!=`
 * to a quoted string, `!`, `&&`, `||` and parentheses. Without a status
 * function the expression is `success() && (…)`, as on GitHub. `outcomes`:
 * each step id so far and its outcome (success, failure or skipped).
 */
export function stepRuns(condition: string | undefined, failed: boolean, outcomes: Record<string, string>): boolean {
  if (condition === undefined) return !failed;
  const tokens = condition.match(/\(|\)|&&|\|\||!=|==|!|'[^']*'|[\w.]+\(\)|[\w.-]+/g) ?? [];
  let at = 0;
  const next = () => tokens[at++];
  const value = (): string | boolean => {
    const token = next();
    if (token === '(') {
      const inner = or();
      if (next() !== ')') throw new Error(`if: ${condition}: unbalanced parentheses`);
      return inner;
    }
    if (token === '!') return !truthy(value());
    if (token === 'failure()') return failed;
    if (token === 'success()') return !failed;
    if (token === 'always()') return true;
    if (token?.startsWith("'")) return token.slice(1, -1);
    const step = /^steps\.([\w-]+)\.outcome$/.exec(token ?? '');
    if (step) return outcomes[step[1]] ?? '';
    throw new Error(`if: ${condition}: cannot read ${JSON.stringify(token)}`);
  };
  const truthy = (v: string | boolean) => v !== '' && v !== false;
  const comparison = (): string | boolean => {
    const left = value();
    if (tokens[at] !== '==' && tokens[at] !== '!=') return left;
    const equal = next() === '==';
    return (left === value()) === equal;
  };
  const and = (): boolean => {
    let result = truthy(comparison());
    while (tokens[at] === '&&') {
      next();
      result = truthy(comparison()) && result;
    }
    return result;
  };
  const or = (): boolean => {
    let result = and();
    while (tokens[at] === '||') {
      next();
      result = and() || result;
    }
    return result;
  };
  const result = or();
  if (at !== tokens.length) throw new Error(`if: ${condition}: cannot read past ${JSON.stringify(tokens[at])}`);
  return /\b(failure|success|always|cancelled)\(\)/.test(condition) ? result : !failed && result;
}

// ── normalizing commands ─────────────────────────────────────────────────

const URL_PATTERN = /\b(?:postgres|postgresql|mysql|mariadb):\/\/[^\s'"]*|\bpglite:[^\s'"]+/g;

/** The doc's database URLs replaced by the test's. */
export function withUrl(command: string, url: string): string {
  return command.replace(URL_PATTERN, url);
}

/**
 * The zmigrate and npm invocations in one shell line, normalized so a doc
 * command and the command the test ran compare equal: `npx zmigrate` and
 * `node …/bin/zmigrate.js` are `zmigrate`, URLs are `<url>`, comments,
 * variable assignments and quotes go; `$(…)`, `&&`, `||`, `;` and `|` split.
 */
export function invocations(line: string): string[] {
  const text = line.replace(/\s#.*$/, '');
  const segments: string[] = [];
  const outer = text.replace(/\$\(([^()]*)\)/g, (_, inner: string) => {
    segments.push(inner);
    return '$(…)';
  });
  segments.push(outer);
  const keys: string[] = [];
  for (const segment of segments.flatMap((s) => s.split(/&&|\|\||;|\|/))) {
    const words = segment
      .trim()
      .replace(/^(\w+=("[^"]*"|'[^']*'|\S*)\s+)+/, '')
      .replace(/["']/g, '')
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => (w.match(URL_PATTERN) ? '<url>' : w));
    if (words[0] === 'npx' && words[1] === 'zmigrate') keys.push(['zmigrate', ...words.slice(2)].join(' '));
    else if (words[0] === 'node' && /(^|\/)bin\/zmigrate\.js$/.test(words[1] ?? '')) keys.push(['zmigrate', ...words.slice(2)].join(' '));
    else if (words[0] === 'zmigrate' || words[0] === 'npm') keys.push(words.join(' '));
  }
  return keys;
}
