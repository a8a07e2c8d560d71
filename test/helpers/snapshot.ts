import { env } from "cloudflare:workers";

// Every table the API writes, each with the columns that order its rows.
const TABLES = {
  organizations: "id",
  users: "id",
  invitations: "id",
  sessions: "id",
  refresh_tokens: "hash",
  organization_user_counts: "org_id, org_role",
} as const;

/** Row count plus a SHA-256 of every row of every table: equal snapshots mean nothing changed. */
export async function snapshot(): Promise<Record<string, { rows: number; hash: string }>> {
  const result: Record<string, { rows: number; hash: string }> = {};
  for (const [table, order] of Object.entries(TABLES)) {
    const { results } = await env.DB.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(results)));
    result[table] = {
      rows: results.length,
      hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }
  return result;
}

/** Runs `action` and asserts that no table changed. */
export async function expectUnchanged<T>(action: () => Promise<T>): Promise<T> {
  const before = await snapshot();
  const result = await action();
  const after = await snapshot();
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    throw new Error(`database changed: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  }
  return result;
}

export async function userRow(id: string) {
  return env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<Record<string, unknown>>();
}
