/**
 * Options a builder does not know: a typo (`unqiue: true`) or a habit from
 * another tool (knex's `notNullable`, a migration's `down`) would otherwise
 * be dropped without a word, and the migration do something else than meant.
 */

/** What is wrong with `spec`'s keys, naming the first unknown one and the known one it likely meant; undefined if nothing. */
export function unknownOption(spec: unknown, keys: readonly string[], meant: Record<string, string> = {}): string | undefined {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return undefined;
  const key = Object.keys(spec).find((k) => !keys.includes(k));
  if (key === undefined) return undefined;
  const near = meant[key] ?? closest(key, keys);
  return `unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; it takes ${keys.join(', ')}`;
}

/** The known key a typo most likely meant: the same but for case, or at most two edits away. */
function closest(key: string, keys: readonly string[]): string | undefined {
  const folded = keys.find((k) => k.toLowerCase() === key.toLowerCase());
  if (folded) return folded;
  let best: { key: string; distance: number } | undefined;
  for (const k of keys) {
    const distance = editDistance(key.toLowerCase(), k.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
