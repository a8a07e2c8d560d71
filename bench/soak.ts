// npm run soak [-- --seconds 60] [-- --connections 16]
//
// A bounded load soak of the worker as deployed: built with `wrangler deploy --dry-run`, served
// from workerd through Miniflare on a direct socket, on a local D1 with the real migrations and two
// seeded organizations. A separate process (this file's soakLoad) sends a random mix of reads and
// writes from both organizations for `--seconds`, then waits for every answer. Afterwards the
// database is read and compared with what the successful responses imply: no 5xx, no answer
// missing, row counts exact, every acknowledged write present and not silently overwritten by an
// older one, no refused write visible, no data across organizations. The Worker's own queue
// consumer sends the invitations meanwhile; once the load ends the queue is let drain, and every
// invitation of a 201 with sendInvite must be sent (or recorded as failed), its email received by
// the local Email binding. Prints the figures; exits 1 when any check fails.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  answerLoadProcess,
  driveMix,
  loadProcessInput,
  seedOrganizations,
  startHarness,
  userId,
  type MixAnswer,
  type MixResult,
  type SeededOrg,
} from "./harness";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  const value = index >= 0 ? Number(args[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer`);
  return value;
};
const SECONDS = option("seconds", 60);
const CONNECTIONS = option("connections", 16);
const MEMBERS = 1_000;
const SECRET = randomBytes(32).toString("base64url");
const D1_ID = "org-api-soak";
// How long the queue may take to send the invitations once the load has stopped.
const DRAIN_LIMIT_MS = 60_000;

type SoakOrg = {
  id: string;
  token: string;
  /** Live members the load only reads. The three sets are disjoint. */
  readIds: string[];
  /** Live members whose names and roles the load rewrites, many times each, from every connection. */
  hotIds: string[];
  /** Members the load deletes, reactivates and renames at once. */
  toggleIds: string[];
  /** Addresses of verified members (one live, one soft-deleted): no organization may create them (409). */
  verifiedEmails: string[];
};

type SoakPlan = { origin: string; seconds: number; connections: number; orgs: SoakOrg[] };

/** An acknowledged (2xx) write of one field, with when it was sent and when its answer arrived. */
type FieldWrite = { key: string; value: string | number; sent: number; received: number };

/** The mix's figures, and what the soak's answers said it changed. */
type SoakLedger = MixResult & {
  /** 201s; `shared`: the address is also held by an unverified user of the other organization. */
  created: { org: number; id: string; email: string; invited: boolean; shared: boolean }[];
  deleted: number[];
  activated: number[];
  writes: FieldWrite[];
  /** Every value sent in a write that was refused: none of them may be in the database. */
  refusedValues: string[];
  /** Responses that showed, or changed, another organization's data. */
  tenancyViolations: string[];
  /** Creations retried with their Idempotency-Key: how many, and those not answered with the first's user, marked replayed. */
  retried: number;
  retriesMismatched: string[];
};

// In the load process that this file starts, the soak is only its load (soakLoad, at the end).
const loadPlan = loadProcessInput<SoakPlan>(import.meta.url);
if (loadPlan) {
  answerLoadProcess(await soakLoad(loadPlan));
  process.exit(0);
}

const harness = await startHarness("soak", SECONDS * 1000 + 5 * 60_000);
const { log } = harness;
const { signToken } = await import("../src/auth/jwt");
const { hashPassword } = await import("../src/auth/password");

const build = await harness.buildWorker();
// The local Email binding writes every message it is given to files: under the run's work
// directory (removed on exit), where the delivery check reads them back.
const emailDir = join(harness.work, "tmp", "email");
const mf = await harness.startMiniflare({
  resourceTmpPath: join(harness.work, "tmp"),
  workers: [harness.apiWorker("api", { modules: true, modulesRoot: build.dir, scriptPath: build.script }, D1_ID, SECRET)],
});
const origin = (await mf.unsafeGetDirectURL("api")).origin;
const db = await mf.getD1Database("DB", "api");
log(`applied migrations: ${(await harness.migrate(db)).join(", ")}`);
const orgs = await seedOrganizations(db, [MEMBERS, MEMBERS], await hashPassword("Soak-pass-1"), () => {});
log(`seeded 2 organizations of ${MEMBERS.toLocaleString("en")} users; serving ${origin}`);

// ---------------------------------------------------------------------------------------------
// The database, read the same way before and after.

type Tally = { org: string; live: number; deleted: number };
type State = {
  organizations: number;
  users: number;
  invitations: number;
  tallies: Tally[];
  /** organization_user_counts rows that differ from counting users (kept by triggers). */
  countDrift: { org_id: string; org_role: number; counted: number; kept: number }[];
  /** Addresses of more than one verified account (deleted included), and held twice in one organization. */
  verifiedShared: number;
  orgShared: number;
  /** Addresses held in several organizations: allowed while at most one holder is verified. */
  crossOrg: number;
  orgsWithoutOwner: number;
  /** Field values by `<id>.<field>`, as FieldWrite keys name them. */
  fields: Map<string, string | number | null>;
  members: Map<string, { org: string; email: string }>;
};

async function readState(): Promise<State> {
  const [
    organizations,
    users,
    invitations,
    tallies,
    countDrift,
    verifiedShared,
    orgShared,
    crossOrg,
    orgsWithoutOwner,
    userFields,
    orgFields,
  ] = await db.batch([
    db.prepare("SELECT count(*) AS n FROM organizations"),
    db.prepare("SELECT count(*) AS n FROM users"),
    db.prepare("SELECT count(*) AS n FROM invitations"),
    db.prepare(
      "SELECT org_id AS org, sum(deleted_at IS NULL) AS live, sum(deleted_at IS NOT NULL) AS deleted FROM users GROUP BY org_id",
    ),
    db.prepare(
      `SELECT coalesce(u.org_id, c.org_id) AS org_id, coalesce(u.org_role, c.org_role) AS org_role,
           coalesce(u.live, 0) || '/' || coalesce(u.deleted, 0) AS counted, coalesce(c.live, 0) || '/' || coalesce(c.deleted, 0) AS kept
         FROM (SELECT org_id, org_role, sum(deleted_at IS NULL) AS live, sum(deleted_at IS NOT NULL) AS deleted FROM users GROUP BY 1, 2) u
         FULL OUTER JOIN organization_user_counts c ON c.org_id = u.org_id AND c.org_role = u.org_role
         WHERE counted IS NOT kept`,
    ),
    db.prepare("SELECT count(*) AS n FROM (SELECT lower(email) FROM users WHERE validated = 1 GROUP BY 1 HAVING count(*) > 1)"),
    db.prepare("SELECT count(*) AS n FROM (SELECT org_id, lower(email) FROM users GROUP BY 1, 2 HAVING count(*) > 1)"),
    db.prepare("SELECT count(*) AS n FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(DISTINCT org_id) > 1)"),
    db.prepare(
      "SELECT count(*) AS n FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.org_id = o.id AND u.org_role = 255 AND u.deleted_at IS NULL)",
    ),
    db.prepare("SELECT id, org_id, email, first_name, last_name, org_role FROM users"),
    db.prepare("SELECT id, name, city FROM organizations"),
  ]);
  const count = (result: D1Result | undefined) => Number((result?.results[0] as { n: number } | undefined)?.n);
  const fields = new Map<string, string | number | null>();
  const members = new Map<string, { org: string; email: string }>();
  type UserFields = { id: string; org_id: string; email: string; first_name: string; last_name: string; org_role: number };
  for (const row of (userFields?.results ?? []) as UserFields[]) {
    members.set(row.id, { org: row.org_id, email: row.email });
    fields.set(`${row.id}.name`, row.first_name);
    fields.set(`${row.id}.lastName`, row.last_name);
    fields.set(`${row.id}.orgRole`, row.org_role);
  }
  for (const row of (orgFields?.results ?? []) as { id: string; name: string; city: string | null }[]) {
    fields.set(`${row.id}.name`, row.name);
    fields.set(`${row.id}.city`, row.city);
  }
  return {
    organizations: count(organizations),
    users: count(users),
    invitations: count(invitations),
    tallies: (tallies?.results ?? []) as Tally[],
    countDrift: (countDrift?.results ?? []) as State["countDrift"],
    verifiedShared: count(verifiedShared),
    orgShared: count(orgShared),
    crossOrg: count(crossOrg),
    orgsWithoutOwner: count(orgsWithoutOwner),
    fields,
    members,
  };
}

// ---------------------------------------------------------------------------------------------
// The load.

const before = await readState();
const now = Math.floor(Date.now() / 1000);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
// Member n of the seed: 0 is the owner, n % 50 = 1 an administrator, n % 97 = 96 soft-deleted.
const live = (n: number) => n % 97 !== 96;
const soakOrg = async (org: SeededOrg, index: number): Promise<SoakOrg> => ({
  id: org.id,
  token: await signToken({ sub: org.ownerId, type: "access", iat: now, exp: now + SECONDS + 600 }, SECRET),
  hotIds: range(2, 42).map((n) => userId(index, n)),
  toggleIds: range(50, 90).map((n) => userId(index, n)),
  readIds: range(100, 200)
    .filter(live)
    .map((n) => userId(index, n)),
  // Every seeded member is verified; 96 is soft-deleted, which keeps the address bound all the same.
  verifiedEmails: [150, 96].map((n) => `member${n}@org${index}.bench.example`),
});
const plan: SoakPlan = {
  origin,
  seconds: SECONDS,
  connections: CONNECTIONS,
  orgs: await Promise.all(orgs.map((org, i) => soakOrg(org, i + 1))),
};
log(`load: ${CONNECTIONS} connections for ${SECONDS}s, mixed reads and writes from both organizations`);
const ledger = await harness.runProcess<SoakLedger>("bench/soak.ts", plan, (SECONDS + 120) * 1000);

// ---------------------------------------------------------------------------------------------
// Delivery: the queue drains (bounded), then every invitation is read with its user, and every
// email the binding was given with the token its link carries.

const sleep = (ms: number) => new Promise((resolveTimer) => setTimeout(resolveTimer, ms));
const createdIds = JSON.stringify(ledger.created.map((c) => c.id));
const pendingNow = async () =>
  (await db
    .prepare("SELECT count(*) AS n FROM invitations WHERE status = 'pending' AND user_id IN (SELECT value FROM json_each(?))")
    .bind(createdIds)
    .first<number>("n")) ?? 0;
const drainStarted = Date.now();
let pending = await pendingNow();
const pendingAtEnd = pending;
while (pending > 0 && Date.now() - drainStarted < DRAIN_LIMIT_MS) {
  await sleep(500);
  pending = await pendingNow();
}
const drainSeconds = ((Date.now() - drainStarted) / 1000).toFixed(1);
log(
  pending > 0
    ? `queue not drained: ${pending} invitations still pending after ${drainSeconds}s`
    : `queue drained: ${pendingAtEnd} invitations pending when the load ended, none after ${drainSeconds}s`,
);

type InvitationLine = {
  id: string;
  user_id: string;
  org_id: string;
  email: string;
  status: string;
  attempts: number;
  token_hash: string | null;
  failed_at: string | null;
  user_org: string | null;
  user_email: string | null;
};
const invitationRows = (
  await db
    .prepare(
      `SELECT i.id, i.user_id, i.org_id, i.email, i.status, i.attempts, i.token_hash, i.failed_at,
         u.org_id AS user_org, u.email AS user_email
       FROM invitations i LEFT JOIN users u ON u.id = i.user_id`,
    )
    .all<InvitationLine>()
).results;

/** The token in the link of every email the binding stored (its text part). */
function emailTokens(): string[] {
  if (!existsSync(emailDir)) return [];
  return readdirSync(emailDir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.includes("email-text") && file.endsWith(".txt"))
    .map((file) => /[?&]token=([\w-]+)/.exec(readFileSync(join(emailDir, file), "utf8"))?.[1] ?? "");
}
// The binding writes its files after send() has returned, so shortly after the row says sent; a
// file read while it is still being written has no token yet, and is read again.
const sentRows = invitationRows.filter((row) => row.status === "sent");
let tokens = emailTokens();
const filesBy = Date.now() + 10_000;
while ((tokens.length < sentRows.length || tokens.includes("")) && Date.now() < filesBy) {
  await sleep(250);
  tokens = emailTokens();
}

const after = await readState();
await harness.stopMiniflare(mf);

// ---------------------------------------------------------------------------------------------
// What the answers imply, against what the database holds.

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const created = ledger.created.length;
const tallyOf = (state: State, org: string) => state.tallies.find((t) => t.org === org) ?? { org, live: 0, deleted: 0 };
const serverErrors = Object.values(ledger.statuses).reduce(
  (total, byStatus) => total + sum(Object.entries(byStatus).map(([status, n]) => (Number(status) >= 500 ? n : 0))),
  0,
);

/**
 * Acknowledged writes that the database lost: for each field written, its final value must be one
 * a 2xx acknowledged, and not one that another acknowledged write, sent only after this one's
 * answer arrived, must have replaced.
 */
function lostWrites(writes: FieldWrite[], state: State): string[] {
  const byKey = new Map<string, FieldWrite[]>();
  for (const write of writes) byKey.set(write.key, [...(byKey.get(write.key) ?? []), write]);
  const lost: string[] = [];
  for (const [key, acknowledged] of byKey) {
    const final = state.fields.get(key);
    const latestSent = (except: FieldWrite) => Math.max(...acknowledged.filter((w) => w !== except).map((w) => w.sent));
    const explains = acknowledged.some((w) => w.value === final && w.received >= latestSent(w));
    if (!explains) lost.push(`${key} = ${JSON.stringify(final)} after ${acknowledged.length} acknowledged writes`);
  }
  return lost;
}

const values = new Set([...after.fields.values()].filter((value) => typeof value === "string"));
const orgIds = orgs.map((org) => org.id);
const missingCreated = ledger.created.filter(({ id, org, email }) => {
  const row = after.members.get(id);
  return !row || row.org !== orgIds[org] || row.email !== email;
});
const expectedTally = (org: string, index: number): Tally => {
  const was = tallyOf(before, org);
  const joined = ledger.created.filter((c) => c.org === index).length;
  const deleted = ledger.deleted[index] ?? 0;
  const activated = ledger.activated[index] ?? 0;
  return { org, live: was.live + joined - deleted + activated, deleted: was.deleted + deleted - activated };
};
const tallyLines = orgIds.map((org, index) => {
  const expected = expectedTally(org, index);
  const actual = tallyOf(after, org);
  return { org, expected, actual, ok: expected.live === actual.live && expected.deleted === actual.deleted };
});
const lost = lostWrites(ledger.writes, after);
const conditional = {
  stale: ledger.statuses["PUT organization If-Match"]?.[412] ?? 0,
  unchanged: ledger.statuses["GET organization If-None-Match"]?.[304] ?? 0,
};
const leakedRefused = ledger.refusedValues.filter((value) => values.has(value));
const invited = ledger.created.filter((c) => c.invited).length;
const sharedCreated = ledger.created.filter((c) => c.shared).length;

const invitationsOf = new Map<string, InvitationLine[]>();
for (const row of invitationRows) invitationsOf.set(row.user_id, [...(invitationsOf.get(row.user_id) ?? []), row]);
const invitedRows = ledger.created.filter((c) => c.invited).flatMap((c) => invitationsOf.get(c.id) ?? []);
const notOneInvitation = ledger.created.filter((c) => c.invited && invitationsOf.get(c.id)?.length !== 1);
const byStatus = new Map<string, number>();
for (const row of invitedRows) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
const statusText =
  [...byStatus]
    .sort(([a], [b]) => (a === "sent" ? -1 : b === "sent" ? 1 : a.localeCompare(b)))
    .map(([status, n]) => `${n} ${status}`)
    .join(", ") || "none";
// Sent, or dead-lettered after the queue's retries and recorded so: never left pending or dropped.
const unaccounted = invitedRows.filter((row) => row.status !== "sent" && row.status !== "failed");
const failedInvitations = invitedRows.filter((row) => row.status === "failed");
const sentInvited = byStatus.get("sent") ?? 0;
const mismatched = invitationRows.filter(
  (row) => row.user_org === null || row.user_org !== row.org_id || row.user_email !== row.email,
);
const uninvitedWithInvitation = ledger.created.filter((c) => !c.invited && invitationsOf.has(c.id));
const emailsByHash = new Map<string, number>();
for (const token of tokens) {
  const hash = createHash("sha256").update(token).digest("hex");
  emailsByHash.set(hash, (emailsByHash.get(hash) ?? 0) + 1);
}
const emailed = sentRows.filter((row) => row.token_hash !== null && emailsByHash.get(row.token_hash) === 1).length;
const strayEmails = tokens.length - sum(sentRows.map((row) => (row.token_hash ? (emailsByHash.get(row.token_hash) ?? 0) : 0)));

const checks: { name: string; expected: string; actual: string; pass: boolean }[] = [
  { name: "5xx answers", expected: "0", actual: String(serverErrors), pass: serverErrors === 0 },
  {
    name: "requests without an HTTP answer",
    expected: "0",
    actual: `${ledger.transportErrors.length}${ledger.transportErrors.length ? ` (${ledger.transportErrors[0]})` : ""}`,
    pass: ledger.transportErrors.length === 0,
  },
  {
    name: "answers an operation must not give",
    expected: "0",
    actual: String(ledger.unexpectedAnswers),
    pass: ledger.unexpectedAnswers === 0,
  },
  {
    name: "organizations",
    expected: String(before.organizations),
    actual: String(after.organizations),
    pass: before.organizations === after.organizations,
  },
  {
    name: "users (before + 201s)",
    expected: `${before.users} + ${created} = ${before.users + created}`,
    actual: String(after.users),
    pass: after.users === before.users + created,
  },
  ...tallyLines.map(({ org, expected, actual, ok }, index) => ({
    name: `org ${index + 1} live/deleted (before + 201s - deletes + activations)`,
    expected: `${expected.live}/${expected.deleted}`,
    actual: `${actual.live}/${actual.deleted}`,
    pass: ok && org === actual.org,
  })),
  {
    name: "invitations (before + 201s with sendInvite)",
    expected: `${before.invitations} + ${invited} = ${before.invitations + invited}`,
    actual: String(after.invitations),
    pass: after.invitations === before.invitations + invited,
  },
  {
    name: "201s with sendInvite having exactly one invitation",
    expected: `${invited} of ${invited}`,
    actual: `${invited - notOneInvitation.length} of ${invited}${notOneInvitation[0] ? ` (${notOneInvitation[0].id} has ${invitationsOf.get(notOneInvitation[0].id)?.length ?? 0})` : ""}`,
    pass: notOneInvitation.length === 0,
  },
  {
    name: "their invitations sent, or failed and recorded so, once drained",
    expected: `${invited} sent`,
    actual: `${statusText} (drain: ${drainSeconds}s)`,
    pass: unaccounted.length === 0,
  },
  {
    name: "sent invitations whose email the binding got, by its token",
    expected: `${sentRows.length} of ${sentRows.length}, 0 other`,
    actual: `${emailed} of ${sentRows.length}, ${strayEmails} other`,
    pass: emailed === sentRows.length && strayEmails === 0,
  },
  {
    name: "invitations without their user, its organization or its address",
    expected: "0",
    actual: `${mismatched.length}${mismatched[0] ? ` (${mismatched[0].id})` : ""}`,
    pass: mismatched.length === 0,
  },
  {
    name: "users created without sendInvite that have an invitation",
    expected: "0",
    actual: String(uninvitedWithInvitation.length),
    pass: uninvitedWithInvitation.length === 0,
  },
  {
    name: "created users present, in their organization, with their email",
    expected: `${created} of ${created}`,
    actual: `${created - missingCreated.length} of ${created}`,
    pass: missingCreated.length === 0,
  },
  {
    name: "acknowledged field writes lost or overwritten by older ones",
    expected: "0",
    actual: `${lost.length} of ${new Set(ledger.writes.map((w) => w.key)).size} fields (${ledger.writes.length} writes)${lost.length ? `: ${lost[0]}` : ""}`,
    pass: lost.length === 0,
  },
  {
    // Conditional requests under contention: a stale If-Match is refused (its value must then be
    // absent, checked below), a current If-None-Match is answered without a body.
    name: "412s to a stale If-Match and 304s to a current If-None-Match",
    expected: "both > 0",
    actual: `${conditional.stale} and ${conditional.unchanged}`,
    pass: conditional.stale > 0 && conditional.unchanged > 0,
  },
  {
    name: "retries with an Idempotency-Key not replaying the first answer",
    expected: "0 of > 0",
    actual: `${ledger.retriesMismatched.length} of ${ledger.retried}${ledger.retriesMismatched.length ? `: ${ledger.retriesMismatched[0]}` : ""}`,
    pass: ledger.retried > 0 && ledger.retriesMismatched.length === 0,
  },
  {
    name: "refused writes visible in the database",
    expected: "0",
    actual: `${leakedRefused.length} of ${ledger.refusedValues.length}`,
    pass: leakedRefused.length === 0,
  },
  {
    name: "per-organization counts (triggers) equal counting users",
    expected: "0 rows differ",
    actual: `${after.countDrift.length} rows differ`,
    pass: after.countDrift.length === 0,
  },
  {
    name: "verified accounts sharing an address (deleted included)",
    expected: "0",
    actual: String(after.verifiedShared),
    pass: after.verifiedShared === 0,
  },
  {
    name: "users of one organization sharing an address (deleted included)",
    expected: "0",
    actual: String(after.orgShared),
    pass: after.orgShared === 0,
  },
  {
    name: "addresses in several organizations (before + shared 201s)",
    expected: `${before.crossOrg} + ${sharedCreated} = ${before.crossOrg + sharedCreated}`,
    actual: String(after.crossOrg),
    pass: after.crossOrg === before.crossOrg + sharedCreated,
  },
  {
    name: "organizations without a live owner",
    expected: "0",
    actual: String(after.orgsWithoutOwner),
    pass: after.orgsWithoutOwner === 0,
  },
  {
    name: "responses crossing organizations",
    expected: "0",
    actual: `${ledger.tenancyViolations.length}${ledger.tenancyViolations.length ? ` (${ledger.tenancyViolations[0]})` : ""}`,
    pass: ledger.tenancyViolations.length === 0,
  },
];

// ---------------------------------------------------------------------------------------------
// Figures.

const seconds = await harness.finish();
const pad = (text: string | number, width: number) => String(text).padStart(width);
console.log(
  `\nLoad: ${ledger.requests.toLocaleString("en")} answered requests in ${ledger.seconds.toFixed(1)}s ` +
    `(${(ledger.requests / ledger.seconds).toFixed(0)} req/s), ${CONNECTIONS} connections\n`,
);
console.log(`${"operation".padEnd(31)} ${pad("answers", 8)} ${pad("p50 ms", 8)} ${pad("p99 ms", 8)}  statuses`);
for (const [name, byStatus] of Object.entries(ledger.statuses).sort()) {
  const latency = ledger.latency[name];
  const statuses = Object.entries(byStatus)
    .map(([status, n]) => `${status} x${n}`)
    .join(", ");
  console.log(
    `${name.padEnd(31)} ${pad(sum(Object.values(byStatus)), 8)} ${pad(latency?.p50.toFixed(1) ?? "-", 8)} ${pad(latency?.p99.toFixed(1) ?? "-", 8)}  ${statuses}`,
  );
}
console.log(`\n${"check".padEnd(69)} ${"expected".padEnd(20)} actual`);
for (const check of checks)
  console.log(`${check.pass ? "ok  " : "FAIL"} ${check.name.padEnd(64)} ${check.expected.padEnd(20)} ${check.actual}`);
for (const sample of ledger.unexpected.slice(0, 5)) console.log(`  unexpected: ${sample.op} -> ${sample.status} ${sample.body}`);
for (const row of [...failedInvitations, ...unaccounted].slice(0, 5))
  console.log(
    `  invitation ${row.id}: ${row.status} after ${row.attempts} attempts${row.failed_at ? `, failed at ${row.failed_at}` : ""}`,
  );
const failed = checks.filter((check) => !check.pass).length;
// Lost: acknowledged field writes, created users, and deletes or activations missing from the counts.
const lostCount = lost.length + missingCreated.length + sum(tallyLines.map((t) => Math.abs(t.expected.live - t.actual.live)));
console.log(
  `\nsoak: ${serverErrors} 5xx, ${lostCount} lost writes, ${sentInvited} of ${invited} invitations sent` +
    `${failedInvitations.length ? ` (${failedInvitations.length} failed, recorded)` : ""}, ${failed} of ${checks.length} checks failed (${seconds.toFixed(0)}s in all)`,
);
if (failed) process.exit(1);

// ---------------------------------------------------------------------------------------------
// The load, in a process of its own (harness.runProcess; the load never shares a process with the
// server): a random mix of the operations from both organizations over the harness's keep-alive
// loops, which wait for every answer; each correct answer records what it changed in the ledger.

type Call = { method: "GET" | "PUT" | "POST" | "DELETE"; path: string; body?: unknown; headers?: Record<string, string> };
/** What an answer said: its status, body, ETag (null when it had none) and whether it was a replay (Idempotent-Replayed). */
type OnAnswer = (status: number, body: string, sent: number, received: number, etag: string | null, replayed: boolean) => void;
type Operation = {
  name: string;
  weight: number;
  /** Statuses that are correct answers under concurrency (a user deleted meanwhile is a 404). */
  expected: number[];
  run(org: number, state: ConnectionState): Call & { onAnswer?: OnAnswer };
};
/** `tags`: the last ETag this connection saw of each organization, for its conditional requests. */
type ConnectionState = { id: number; sequence: number; cursor: (string | null)[]; tags: (string | null)[] };

async function soakLoad(plan: SoakPlan): Promise<SoakLedger> {
  const orgs = plan.orgs;
  const ledger: Omit<SoakLedger, keyof MixResult> = {
    created: [],
    deleted: orgs.map(() => 0),
    activated: orgs.map(() => 0),
    writes: [],
    refusedValues: [],
    tenancyViolations: [],
    retried: 0,
    retriesMismatched: [],
  };

  const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)] as T;
  const other = (org: number) => (org + 1) % orgs.length;
  const at = (org: number) => orgs[org] as SoakOrg;
  const unique = (state: ConnectionState) => `soak${process.pid}c${state.id}n${state.sequence++}`;
  // Addresses of each organization's 201s (unverified users); those not yet created in the other
  // organization too. Taken from synchronously, so no two requests reuse one.
  const createdEmails: string[][] = orgs.map(() => []);
  const shareable: string[][] = orgs.map(() => []);
  // Creations made with an Idempotency-Key, waiting for their retry: the retry must get the same user.
  const retriable: { org: number; key: string; call: Call; id: string }[] = [];

  /** Records every field of an acknowledged write; on refusal, its values must never appear. */
  function fieldWrites(key: string, fields: Record<string, string | number>) {
    return (status: number, _body: string, sent: number, received: number) => {
      for (const [field, value] of Object.entries(fields)) {
        if (status < 300) ledger.writes.push({ key: `${key}.${field}`, value, sent, received });
        else if (typeof value === "string") ledger.refusedValues.push(value);
      }
    };
  }

  const OPERATIONS: Operation[] = [
    {
      name: "GET organization",
      weight: 12,
      expected: [200],
      run: (org, state) => ({
        method: "GET",
        path: `/organization/${at(org).id}`,
        onAnswer: (_status, _body, _sent, _received, etag) => (state.tags[org] = etag),
      }),
    },
    {
      // With the tag this connection last saw: 304 while nobody changed the organization since.
      name: "GET organization If-None-Match",
      weight: 4,
      expected: [200, 304],
      run: (org, state) => ({
        method: "GET",
        path: `/organization/${at(org).id}`,
        headers: { "If-None-Match": state.tags[org] ?? '"0"' },
        onAnswer: (_status, _body, _sent, _received, etag) => (state.tags[org] = etag),
      }),
    },
    {
      name: "GET users (pages)",
      weight: 14,
      expected: [200],
      run: (org, state) => {
        const cursor = state.cursor[org];
        return {
          method: "GET",
          path: `/organization/users?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          onAnswer: (status, body) => {
            if (status !== 200) return;
            const page = JSON.parse(body) as { data: { orgId: string }[]; nextCursor: string | null };
            if (page.data.some((user) => user.orgId !== at(org).id))
              ledger.tenancyViolations.push("list showed another org's user");
            state.cursor[org] = page.nextCursor;
          },
        };
      },
    },
    {
      name: "GET users?q",
      weight: 4,
      expected: [200],
      run: () => ({ method: "GET", path: `/organization/users?limit=20&q=${pick(["member1", "org", "soak", "%", "_"])}` }),
    },
    {
      name: "GET user",
      weight: 12,
      expected: [200],
      run: (org) => ({
        method: "GET",
        path: `/organization/users/${pick(at(org).readIds)}${pick(["", "?includeDeleted=true"])}`,
      }),
    },
    {
      name: "GET user of other org",
      weight: 3,
      expected: [404],
      run: (org) => ({ method: "GET", path: `/organization/users/${pick(at(other(org)).readIds)}?includeDeleted=true` }),
    },
    {
      name: "PUT user",
      weight: 20,
      expected: [200],
      run: (org, state) => {
        const id = pick(at(org).hotIds);
        const body: Record<string, string | number> = {};
        const shape = Math.random();
        if (shape < 0.4) body.name = unique(state);
        else if (shape < 0.8) body.lastName = unique(state);
        else if (shape < 0.9) body.orgRole = pick([0, 1, 2]);
        else Object.assign(body, { name: unique(state), lastName: unique(state) });
        return { method: "PUT", path: `/organization/users/${id}`, body, onAnswer: fieldWrites(id, body) };
      },
    },
    {
      name: "PUT user being deleted",
      weight: 4,
      expected: [200, 404],
      run: (org, state) => {
        const id = pick(at(org).toggleIds);
        const body = { lastName: unique(state) };
        return { method: "PUT", path: `/organization/users/${id}`, body, onAnswer: fieldWrites(id, body) };
      },
    },
    {
      name: "PUT user of other org",
      weight: 2,
      expected: [404],
      run: (org, state) => {
        const body = { name: unique(state) };
        return {
          method: "PUT",
          path: `/organization/users/${pick(at(other(org)).hotIds)}`,
          body,
          onAnswer: fieldWrites("", body),
        };
      },
    },
    {
      name: "PUT organization",
      weight: 4,
      expected: [200],
      run: (org, state) => {
        const body = pick<Record<string, string>>([
          { name: unique(state) },
          { city: unique(state) },
          { name: unique(state), city: unique(state) },
        ]);
        return { method: "PUT", path: `/organization/${at(org).id}`, body, onAnswer: fieldWrites(at(org).id, body) };
      },
    },
    {
      // Only over the version this connection last saw: 412, writing nothing, once another write got in first.
      name: "PUT organization If-Match",
      weight: 3,
      expected: [200, 412],
      run: (org, state) => {
        const body = { city: unique(state) };
        const record = fieldWrites(at(org).id, body);
        return {
          method: "PUT",
          path: `/organization/${at(org).id}`,
          headers: { "If-Match": state.tags[org] ?? '"0"' },
          body,
          onAnswer: (status, text, sent, received, etag) => {
            record(status, text, sent, received);
            if (status === 200) state.tags[org] = etag;
          },
        };
      },
    },
    {
      name: "DELETE user",
      weight: 9,
      expected: [200, 404],
      run: (org) => ({
        method: "DELETE",
        path: `/organization/users/${pick(at(org).toggleIds)}`,
        onAnswer: (status) => {
          if (status === 200) ledger.deleted[org] = (ledger.deleted[org] ?? 0) + 1;
        },
      }),
    },
    {
      name: "POST activate",
      weight: 9,
      expected: [200, 400],
      run: (org) => ({
        method: "POST",
        path: `/organization/users/${pick(at(org).toggleIds)}/activate`,
        onAnswer: (status) => {
          if (status === 200) ledger.activated[org] = (ledger.activated[org] ?? 0) + 1;
        },
      }),
    },
    {
      name: "POST user",
      weight: 3,
      expected: [201],
      run: (org, state) => createUser(org, `${unique(state)}@soak.example`, false),
    },
    {
      // Unverified users of several organizations may hold one address (the first to verify wins).
      // A fresh address until the other organization has a 201 to share.
      name: "POST user, address of other org",
      weight: 1,
      expected: [201],
      run: (org, state) => {
        const email = shareable[other(org)]?.pop();
        return createUser(org, email ?? `${unique(state)}@soak.example`, email !== undefined);
      },
    },
    {
      name: "POST user with Idempotency-Key",
      weight: 2,
      expected: [201],
      run: (org, state) => keyedCreation(org, state),
    },
    {
      // The retry of a keyed creation (a client whose answer was lost): the first's answer, marked
      // replayed, and no second user (the user count and tallies check it). None waiting: a new one.
      name: "POST user, retried with its Idempotency-Key",
      weight: 2,
      expected: [201],
      run: (org, state) => {
        const first = retriable.findIndex((waiting) => waiting.org === org);
        if (first < 0) return keyedCreation(org, state);
        const [retry] = retriable.splice(first, 1);
        const { key, call, id } = retry as (typeof retriable)[number];
        ledger.retried++;
        return {
          ...call,
          onAnswer: (status, body, _sent, _received, _etag, replayed) => {
            const answered = (JSON.parse(body) as { data: { id: string } }).data.id;
            if (status !== 201 || answered !== id || !replayed) {
              ledger.retriesMismatched.push(`key ${key}: ${status}, user ${answered} (first ${id}), replayed ${replayed}`);
            }
          },
        };
      },
    },
    {
      name: "POST user, address verified",
      weight: 1,
      expected: [409],
      run: (org, state) => refusedCreation(pick([...at(org).verifiedEmails, ...at(other(org)).verifiedEmails]), state),
    },
    {
      name: "POST user, address in own org",
      weight: 1,
      expected: [409],
      run: (org, state) => refusedCreation(pick(createdEmails[org]?.length ? createdEmails[org] : at(org).verifiedEmails), state),
    },
  ];
  const totalWeight = OPERATIONS.reduce((sum, op) => sum + op.weight, 0);

  function createUser(org: number, email: string, shared: boolean): ReturnType<Operation["run"]> {
    const invited = Math.random() < 0.5;
    return {
      method: "POST",
      path: "/organization/users",
      body: { email, password: "Soak-pass-1", firstName: "Soak", lastName: "Created", orgRole: 0, sendInvite: invited },
      onAnswer: (status, body) => {
        if (status !== 201) return;
        const { data } = JSON.parse(body) as { data: { id: string; orgId: string } };
        if (data.orgId !== at(org).id) ledger.tenancyViolations.push(`created user ${data.id} in another org`);
        ledger.created.push({ org, id: data.id, email, invited, shared });
        createdEmails[org]?.push(email);
        if (!shared) shareable[org]?.push(email);
      },
    };
  }

  /** A creation with a fresh Idempotency-Key; its 201 waits for a retry. */
  function keyedCreation(org: number, state: ConnectionState): ReturnType<Operation["run"]> {
    const key = unique(state);
    const creation = createUser(org, `${key}@soak.example`, false);
    const call: Call = { ...creation, headers: { "Idempotency-Key": key } };
    return {
      ...call,
      onAnswer: (status, body, sent, received, etag, replayed) => {
        creation.onAnswer?.(status, body, sent, received, etag, replayed);
        if (status === 201) retriable.push({ org, key, call, id: (JSON.parse(body) as { data: { id: string } }).data.id });
      },
    };
  }

  /** A creation that must be refused (409), in other letter case; its unique last name must never be stored. */
  function refusedCreation(email: string, state: ConnectionState): ReturnType<Operation["run"]> {
    const body = { email: email.toUpperCase(), password: "Soak-pass-1", firstName: "Soak", lastName: unique(state) };
    return { method: "POST", path: "/organization/users", body, onAnswer: fieldWrites("", { lastName: body.lastName }) };
  }

  function chooseOperation(): Operation {
    let roll = Math.random() * totalWeight;
    for (const op of OPERATIONS) if ((roll -= op.weight) < 0) return op;
    return OPERATIONS.at(-1) as Operation;
  }

  // Per connection: its cursors and the ETags it saw.
  const states = new Map<number, ConnectionState>();
  const mix = await driveMix(plan.origin, plan.connections, plan.seconds, (id) => {
    let state = states.get(id);
    if (!state) states.set(id, (state = { id, sequence: 0, cursor: orgs.map(() => null), tags: orgs.map(() => null) }));
    const op = chooseOperation();
    const org = Math.floor(Math.random() * orgs.length);
    const { onAnswer, ...call } = op.run(org, state);
    return {
      ...call,
      operation: op.name,
      expected: op.expected,
      headers: { Authorization: `Bearer ${at(org).token}`, ...call.headers },
      ...(onAnswer ? { onAnswer: (a: MixAnswer) => onAnswer(a.status, a.body, a.sent, a.received, a.etag, a.replayed) } : {}),
    };
  });
  return { ...mix, ...ledger };
}
