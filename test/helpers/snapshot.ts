import { env } from "cloudflare:workers";

// Every table the API writes (the search tables through the triggers on users), each read in the
// order of its key. The full-text index is contentless: its entries are their rowids.
const TABLES = {
  organizations: "SELECT * FROM organizations ORDER BY id",
  users: "SELECT * FROM users ORDER BY id",
  invitations: "SELECT * FROM invitations ORDER BY id",
  sessions: "SELECT * FROM sessions ORDER BY id",
  refresh_tokens: "SELECT * FROM refresh_tokens ORDER BY hash",
  organization_user_counts: "SELECT * FROM organization_user_counts ORDER BY org_id, org_role",
  user_search_orgs: "SELECT * FROM user_search_orgs ORDER BY search_key",
  users_search: "SELECT rowid FROM users_search ORDER BY rowid",
  idempotency_keys: "SELECT * FROM idempotency_keys ORDER BY caller_id, key",
  audit_events: "SELECT * FROM audit_events ORDER BY id",
  audit_context: "SELECT * FROM audit_context ORDER BY id",
} as const;

/** Row count plus a SHA-256 of every row of every table: equal snapshots mean nothing changed. */
export async function snapshot(): Promise<Record<string, { rows: number; hash: string }>> {
  const result: Record<string, { rows: number; hash: string }> = {};
  for (const [table, query] of Object.entries(TABLES)) {
    const { results } = await env.DB.prepare(query).all();
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

export async function orgRow(id: string) {
  return env.DB.prepare("SELECT * FROM organizations WHERE id = ?").bind(id).first<Record<string, unknown>>();
}
