/** it.each rows with their full titles (vitest's `$field` interpolation quotes and truncates strings). */
export function titled<T>(rows: T[], title: (row: T) => string): [string, T][] {
  return rows.map((row) => [title(row), row]);
}
