/** Rows of (view name, column name), ordered by view and position, as each view's columns in order. */
export function viewColumns(rows: ReadonlyArray<Record<string, unknown>>): Map<string, string[]> {
  const views = new Map<string, string[]>();
  for (const row of rows) {
    const name = String(row.name);
    const columns = views.get(name) ?? [];
    if (row.column_name !== null && row.column_name !== undefined) columns.push(String(row.column_name));
    views.set(name, columns);
  }
  return views;
}
