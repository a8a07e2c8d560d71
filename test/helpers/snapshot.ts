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

export type OrgRow = {
  id: string;
  name: string;
  domain: string | null;
  address1: string | null;
  address2: string | null;
  city: string | null;
  zipcode: string | null;
  phone: string | null;
  state: string | null;
  country: string | null;
  website: string | null;
  repos_disabled: number;
  is_business: number;
  mfa_enforced: number;
  version: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
};

/** The organization's row, every column (a test may read one by its name). */
export async function orgRow(id: string): Promise<OrgRow & Record<string, unknown>> {
  const row = await env.DB.prepare("SELECT * FROM organizations WHERE id = ?").bind(id).first<OrgRow & Record<string, unknown>>();
  if (!row) throw new Error(`organization ${id} is missing`);
  return row;
}

/** The wire object the API must produce for a stored row. */
export function expectedOrganization(row: OrgRow) {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    address1: row.address1,
    address2: row.address2,
    city: row.city,
    zipcode: row.zipcode,
    phone: row.phone,
    state: row.state,
    country: row.country,
    deletedAt: row.deleted_at,
    reposDisabled: row.repos_disabled === 1,
    website: row.website,
    is_business: row.is_business === 1,
    mfaEnforced: row.mfa_enforced === 1,
  };
}
