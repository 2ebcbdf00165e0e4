import type { LintEngine } from './statement';
import { factsFromTokens } from './token-facts';
import { tokenize } from './tokens';

/**
 * What of a column added with this type and default gets a value computed
 * per row, as `zmigrate lint` reads it (add-column-volatile-default), told
 * apart: the type (a serial type, an identity, a stored generated column,
 * AUTO_INCREMENT) or the default (a call such as gen_random_uuid(), uuid()
 * or nextval()). Each is a short description, undefined where there is none.
 */
export function perRowValues(engine: LintEngine, type: string, defaultValue: string | undefined): { type?: string; default?: string } {
  const of = (definition: string) => {
    const { facts } = factsFromTokens(tokenize(`ALTER TABLE t ADD COLUMN c ${definition}`, engine).tokens, engine);
    const added = facts.find((f) => f.kind === 'addColumn');
    return added?.kind === 'addColumn' ? added.perRowValue : undefined;
  };
  const fromType = of(type);
  if (fromType !== undefined || defaultValue === undefined) return { type: fromType };
  return { default: of(`${type} DEFAULT ${defaultValue}`) };
}
