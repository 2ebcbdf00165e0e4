import type { Operation } from '../operations/operation';
import type { LintPhase } from './statement';

/**
 * Where findings are in a migration file: its operations by their
 * `op.<kind>(` calls, a phase by its key, and statements by their first line,
 * each searched after the one before it, so two statements that start alike
 * (or a contract statement that repeats one of expand) each get their own line.
 */
export class SourceLocator {
  constructor(private readonly source: string) {}

  /** The index-th operation's `op.<kind>(` call (undefined where it is not found), up to the next operation's. */
  operation(operations: readonly Operation[], index: number): { at?: number; from: number; to: number } {
    const at = this.call(operations, index);
    const next = index + 1 < operations.length ? this.call(operations, index + 1) : -1;
    return { at: at < 0 ? undefined : at, from: Math.max(at, 0), to: next > at ? next : this.source.length };
  }

  /** The phase's key (`contract:`) or method (`contract(`) between from and to, else from. */
  phase(phase: LintPhase, from: number, to: number = this.source.length): number {
    const match = new RegExp(`\\b${phase}\\s*[:(]`).exec(this.source.slice(from, to));
    return match ? from + match.index : from;
  }

  /** The custom phase function (`async expand(` or `expand: async`), if the file has one outside the operations. */
  customPhase(phase: LintPhase): number | undefined {
    const match = new RegExp(`\\b${phase}\\s*(\\(|:\\s*(async\\b|function\\b|\\())`).exec(this.source);
    return match?.index;
  }

  /**
   * A cursor over statements from `from`: each call gives the line of the
   * next statement (its code, without comments), searched after the previous
   * one found, or `fallback`'s line where it is not found (or not given).
   */
  statements(from: number, to: number, fallback: number | undefined): (code: string | undefined) => number | undefined {
    let cursor = from;
    return (code) => {
      const firstLine = code?.split('\n')[0].trim() ?? '';
      const at = firstLine.length >= 6 ? this.source.indexOf(firstLine, cursor) : -1;
      if (at < 0 || at + firstLine.length > to) return this.line(fallback);
      cursor = at + firstLine.length;
      return this.line(at);
    };
  }

  line(offset: number | undefined): number | undefined {
    if (!this.source || offset === undefined) return undefined;
    return this.source.slice(0, offset).split('\n').length;
  }

  private call(operations: readonly Operation[], index: number): number {
    const kind = operations[index].kind;
    const nth = operations.slice(0, index).filter((o) => o.kind === kind).length;
    let at = -1;
    for (let n = 0; n <= nth; n++) {
      at = this.source.indexOf(`op.${kind}(`, at + 1);
      if (at < 0) return -1;
    }
    return at;
  }
}
