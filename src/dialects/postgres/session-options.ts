/**
 * `-c name=value` for the `options` a connection sends the server at its
 * start, which the server splits at spaces: backslashes and whitespace in
 * the value are escaped.
 */
export function sessionSetting(name: string, value: string): string {
  return `-c ${name}=${value.replace(/([\\\s])/g, '\\$1')}`;
}

/**
 * Adds settings to the `options` parameter of a connection URL, where it has
 * one (node-postgres lets that parameter win over the config's `options`).
 * False where it has none.
 */
export function addToUrlOptions(url: URL, settings: string): boolean {
  const given = url.searchParams.get('options');
  if (given === null) return false;
  url.searchParams.set('options', given ? `${given} ${settings}` : settings);
  return true;
}
