// Schema and data for the benchmark's local D1: every migration in migrations/ (split as
// `wrangler d1 migrations apply` splits them), then one organization per size, its users written
// by INSERT ... SELECT over a generated series, several thousand rows per statement and several
// statements per batch, with a progress bar for the large sizes.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Seeded users are created one second apart from here (2025-01-01T00:00:00Z), all in the past. */
const EPOCH_SECONDS = 1_735_689_600;
const ROWS_PER_STATEMENT = 5_000;
const STATEMENTS_PER_BATCH = 4;

export type SeededOrg = {
  size: number;
  id: string;
  ownerId: string;
  /** A live USER-role member, for GET and PUT of one user, and the one who signs in. */
  memberId: string;
  /** That member's address (verified, with the seeded password hash). */
  memberEmail: string;
  /** Another live member, the target of PUT. */
  editId: string;
};

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0");
export const orgId = (index: number) => `${hex(index, 8)}-0000-4000-8000-000000000000`;
export const userId = (index: number, n: number) => `${hex(index, 8)}-0000-7000-8000-${hex(n, 12)}`;
/** As insertUsers writes it. */
export const memberEmail = (index: number, n: number) => `member${n}@org${index}.bench.example`;

export async function applyMigrations(db: D1Database, dir: string, split: (sql: string) => string[]): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  for (const file of files) {
    const statements = split(readFileSync(join(dir, file), "utf8")).filter((s) => s.trim());
    await db.batch(statements.map((sql) => db.prepare(sql)));
  }
  return files;
}

// Roles: member 0 is the OWNER; then ADMINISTRATOR, WORKSPACES, BILLING and USER in a fixed mix.
// One member in 97 is soft-deleted (never the owner or the members the scenarios use).
const ROLE_SQL = "CASE WHEN n = 0 THEN 255 WHEN n % 50 = 1 THEN 254 WHEN n % 10 = 2 THEN 2 WHEN n % 10 = 3 THEN 1 ELSE 0 END";
const DELETED_SQL = "CASE WHEN n % 97 = 96 THEN strftime('%Y-%m-%dT%H:%M:%S.000Z', EPOCH + n, 'unixepoch') END";

function insertUsers(index: number, from: number, to: number): string {
  const created = `strftime('%Y-%m-%dT%H:%M:%S.000Z', ${EPOCH_SECONDS} + n, 'unixepoch')`;
  return `WITH RECURSIVE seq(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM seq WHERE n < ${to - 1})
INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
  validated, password_hash, provider, auth_method, created_at, updated_at, deleted_at)
SELECT printf('%08x-0000-7000-8000-%012x', ${index}, n), '${orgId(index)}',
  printf('member%d@org%d.bench.example', n, ${index}), 'Member' || n, 'Org' || ${index}, 'member' || n, 'org' || ${index},
  ${ROLE_SQL}, 1, ?, NULL, 'LOCAL', ${created}, ${created}, ${DELETED_SQL.replace("EPOCH", String(EPOCH_SECONDS))}
FROM seq`;
}

export type Progress = (done: number, total: number) => void;

/** Writes one organization per size (indexes 1, 2, ...) and returns what the scenarios need. */
export async function seedOrganizations(
  db: D1Database,
  sizes: number[],
  passwordHash: string,
  progress: Progress,
): Promise<SeededOrg[]> {
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const orgs: SeededOrg[] = [];
  for (const [position, size] of sizes.entries()) {
    const index = position + 1;
    const created = new Date(EPOCH_SECONDS * 1000 - 86_400_000).toISOString();
    await db
      .prepare("INSERT INTO organizations (id, name, domain, website, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(
        orgId(index),
        `Bench org of ${size}`,
        `org${index}.bench.example`,
        `https://org${index}.bench.example`,
        created,
        created,
      )
      .run();
    for (let from = 0; from < size;) {
      const statements: D1PreparedStatement[] = [];
      let to = from;
      for (let s = 0; s < STATEMENTS_PER_BATCH && to < size; s++) {
        const end = Math.min(size, to + ROWS_PER_STATEMENT);
        statements.push(db.prepare(insertUsers(index, to, end)).bind(passwordHash));
        to = end;
      }
      await db.batch(statements);
      done += to - from;
      from = to;
      progress(done, total);
    }
    // Members 5 and 7 are USER-role and live in every size (see ROLE_SQL and DELETED_SQL).
    orgs.push({
      size,
      id: orgId(index),
      ownerId: userId(index, 0),
      memberId: userId(index, 5),
      memberEmail: memberEmail(index, 5),
      editId: userId(index, 7),
    });
  }
  return orgs;
}

/**
 * The cursor position of a deep page: the live member after which exactly one full page (100)
 * remains, the last full page of the list; for an organization too small for that, its first member.
 * With `term`, the same among the members a search for it matches (a term of three characters or
 * more, matched here by a scan, untimed), the first member when fewer than a page match.
 */
export async function deepPosition(
  db: D1Database,
  org: string,
  pageSize: number,
  term?: string,
): Promise<{ createdAt: string; id: string }> {
  const matches = term
    ? " AND (instr(email, ?2) > 0 OR instr(first_name_folded, ?2) > 0 OR instr(last_name_folded, ?2) > 0)"
    : "";
  const bound = term ? [org, term.toLowerCase()] : [org];
  const row =
    (await db
      .prepare(
        `SELECT created_at, id FROM users WHERE org_id = ?1 AND deleted_at IS NULL${matches} ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ${pageSize}`,
      )
      .bind(...bound)
      .first<{ created_at: string; id: string }>()) ??
    (await db
      .prepare("SELECT created_at, id FROM users WHERE org_id = ? AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1")
      .bind(org)
      .first<{ created_at: string; id: string }>());
  if (!row) throw new Error(`organization ${org} has no live member`);
  return { createdAt: row.created_at, id: row.id };
}
