import { getTableColumns, is, SQL, sql } from "drizzle-orm";
import { SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * The select list of an `INSERT ... SELECT` into `table`: every column in table order, as the
 * insert names them, each a value (bound as that column) or SQL the select evaluates. Every column
 * must be given, so a column added later is a type error here rather than a shifted value.
 */
export function selectedRow<T extends SQLiteTable>(
  table: T,
  values: { [K in keyof T["$inferSelect"]]: T["$inferSelect"][K] | SQL | SQLiteColumn },
): Record<string, SQL | SQLiteColumn> {
  const given = values as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(getTableColumns(table)).map(([key, column]) => {
      const value = given[key];
      return [key, is(value, SQL) || is(value, SQLiteColumn) ? (value as SQL | SQLiteColumn) : sql`${sql.param(value, column)}`];
    }),
  );
}
