// D1 reports a unique-index violation as text ending in SQLITE_CONSTRAINT_UNIQUE (local
// SQLite says "UNIQUE constraint failed"). Only that becomes a 409; a foreign-key or CHECK
// failure is a bug and stays a 500. The text itself never reaches a client.
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/SQLITE_CONSTRAINT_UNIQUE|UNIQUE constraint failed/.test(e.message)) return true;
  }
  return false;
}
