// Schema and data for the peer's own local D1: schema.sql (better-auth's tables), then one
// organization per size with its users and member rows, written by INSERT ... SELECT over a
// generated series as bench/harness.ts seeds ours, and one session for the owner of each, the caller.
// The session cookie is signed as better-auth signs it (better-call: HMAC-SHA256 of the token with
// the secret, `<token>.<base64 signature>`, URI-encoded).
import { createHmac, randomBytes } from "node:crypto";
import { applyMigrations } from "../harness";
import { PEER_SECRET } from "./compare";

/** Members are created one second apart from here (2025-01-01T00:00:00Z), as ours are. */
const EPOCH_MS = 1_735_689_600_000;
const ROWS_PER_STATEMENT = 5_000;
const STATEMENTS_PER_BATCH = 4;
export const SESSION_COOKIE = "better-auth.session_token";

export type PeerOrg = {
  size: number;
  id: string;
  /** The owner's `Cookie` header value: the session better-auth reads, the active organization set. */
  cookie: string;
  ownerUserId: string;
  /** A `member`-role member, the target of update-member-role. */
  editMemberId: string;
};

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0");
const orgId = (index: number) => `${hex(index, 8)}-0000-4000-9000-000000000000`;
const userId = (index: number, n: number) => `${hex(index, 8)}-0000-7000-9000-${hex(n, 12)}`;
const memberId = (index: number, n: number) => `${hex(index, 8)}-0000-7000-a000-${hex(n, 12)}`;

// Member 0 is the owner; one in 50 an admin; the rest members (better-auth's three default roles).
const ROLE_SQL = "CASE WHEN n = 0 THEN 'owner' WHEN n % 50 = 1 THEN 'admin' ELSE 'member' END";
const series = (from: number, to: number) =>
  `WITH RECURSIVE seq(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM seq WHERE n < ${to - 1})`;

const insertUsers = (index: number, from: number, to: number) => `${series(from, to)}
INSERT INTO user (id, name, email, email_verified, image, created_at, updated_at)
SELECT printf('%08x-0000-7000-9000-%012x', ${index}, n), 'Member' || n || ' Org' || ${index},
  printf('member%d@org%d.peer.bench.example', n, ${index}), 1, NULL, ${EPOCH_MS} + n * 1000, ${EPOCH_MS} + n * 1000
FROM seq`;

const insertMembers = (index: number, from: number, to: number) => `${series(from, to)}
INSERT INTO member (id, organization_id, user_id, role, created_at)
SELECT printf('%08x-0000-7000-a000-%012x', ${index}, n), '${orgId(index)}', printf('%08x-0000-7000-9000-%012x', ${index}, n),
  ${ROLE_SQL}, ${EPOCH_MS} + n * 1000
FROM seq`;

/** `Cookie: better-auth.session_token=...` for a session token, as better-auth sets it after a sign-in. */
export function sessionCookie(token: string, secret: string): string {
  const signature = createHmac("sha256", secret).update(token).digest("base64");
  return `${SESSION_COOKIE}=${encodeURIComponent(`${token}.${signature}`)}`;
}

export type PeerSeed = { orgs: PeerOrg[]; rows: number; seconds: number };

/** Applies schema.sql, then writes one organization per size (indexes 1, 2, ...). */
export async function seedPeer(db: D1Database, sizes: number[]): Promise<PeerSeed> {
  const started = Date.now();
  // Loaded already by the harness; split as `wrangler d1 migrations apply` splits.
  const { unstable_splitSqlQuery } = await import("wrangler");
  await applyMigrations(db, "bench/peer", unstable_splitSqlQuery);
  const now = Date.now();
  const orgs: PeerOrg[] = [];
  for (const [position, size] of sizes.entries()) {
    const index = position + 1;
    await db
      .prepare("INSERT INTO organization (id, name, slug, logo, created_at, metadata) VALUES (?, ?, ?, NULL, ?, NULL)")
      .bind(orgId(index), `Bench org of ${size}`, `org${index}-bench`, EPOCH_MS - 86_400_000)
      .run();
    for (const insert of [insertUsers, insertMembers]) {
      for (let from = 0; from < size;) {
        const statements: D1PreparedStatement[] = [];
        let to = from;
        for (let s = 0; s < STATEMENTS_PER_BATCH && to < size; s++) {
          const end = Math.min(size, to + ROWS_PER_STATEMENT);
          statements.push(db.prepare(insert(index, to, end)));
          to = end;
        }
        await db.batch(statements);
        from = to;
      }
    }
    // Fresh (updated now, expiring in better-auth's default 7 days): no refresh write on a read.
    const token = randomBytes(24).toString("base64url");
    await db
      .prepare(
        "INSERT INTO session (id, expires_at, token, created_at, updated_at, ip_address, user_agent, user_id, active_organization_id) " +
          "VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
      )
      .bind(`session-${index}`, now + 7 * 86_400_000, token, now, now, userId(index, 0), orgId(index))
      .run();
    // Member 9 is a `member` in every size (see ROLE_SQL).
    orgs.push({
      size,
      id: orgId(index),
      cookie: sessionCookie(token, PEER_SECRET),
      ownerUserId: userId(index, 0),
      editMemberId: memberId(index, 9),
    });
  }
  // A user and a member row for each member.
  return { orgs, rows: 2 * sizes.reduce((a, b) => a + b, 0), seconds: (Date.now() - started) / 1000 };
}
