import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are ISO-8601 UTC strings: they sort lexicographically in time order and
// go out on the wire unchanged.

/** How an account signs in; the check below and the API's schemas take this list. */
export const AUTH_METHODS = ["LOCAL", "GOOGLE", "GITHUB", "MICROSOFT"] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const organizations = sqliteTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  domain: text("domain"),
  address1: text("address1"),
  address2: text("address2"),
  city: text("city"),
  zipcode: text("zipcode"),
  phone: text("phone"),
  state: text("state"),
  country: text("country"),
  website: text("website"),
  reposDisabled: integer("repos_disabled", { mode: "boolean" }).notNull().default(false),
  isBusiness: integer("is_business", { mode: "boolean" }).notNull().default(false),
  mfaEnforced: integer("mfa_enforced", { mode: "boolean" }).notNull().default(false),
  // Advances with every change to what the API shows of the row: its ETag (src/http/etag.ts).
  // A trigger (migration 0008) advances it for a writer that does not.
  version: integer("version").notNull().default(1),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  deletedAt: text("deleted_at"),
});

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    // Stored lower-cased; the unique index below makes the rule hold for every writer.
    email: text("email").notNull(),
    firstName: text("first_name").notNull(),
    lastName: text("last_name").notNull(),
    // Case-folded copies for search: SQLite's lower() folds ASCII only, so the
    // application folds (String#toLowerCase) and writes each copy with its field.
    firstNameFolded: text("first_name_folded").notNull(),
    lastNameFolded: text("last_name_folded").notNull(),
    orgRole: integer("org_role").notNull().default(0),
    validated: integer("validated", { mode: "boolean" }).notNull().default(false),
    passwordHash: text("password_hash").notNull(),
    provider: text("provider"),
    authMethod: text("auth_method").$type<AuthMethod>().notNull().default("LOCAL"),
    // Unix seconds; a token issued at or before it is refused. Set by every soft delete and never
    // moved back, so a token issued before a deletion stays dead after a reactivation.
    tokensValidAfter: integer("tokens_valid_after"),
    // As organizations.version.
    version: integer("version").notNull().default(1),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    // An address is bound to one account once its owner verifies it: across all rows, soft-deleted
    // included, so a deleted user keeps a verified address and can be reactivated without a
    // conflict. Until then several organizations may invite it; the first verification wins.
    uniqueIndex("users_verified_email_unique")
      .on(sql`lower(${t.email})`)
      .where(sql`${t.validated} = 1`),
    // One account per address within an organization, verified or not, deleted or not.
    uniqueIndex("users_org_email_unique").on(t.orgId, sql`lower(${t.email})`),
    // Sign-in by address: the verified account first, then the newest (src/db/sessions.ts).
    index("users_email_sign_in_idx").on(sql`lower(${t.email})`, t.validated, t.createdAt),
    // Keyset pagination and the per-organization filters.
    index("users_org_created_idx").on(t.orgId, t.createdAt, t.id),
    index("users_org_role_created_idx").on(t.orgId, t.orgRole, t.createdAt, t.id),
    // A search of one or two characters is a prefix of the email (users_org_email_unique above),
    // the first name or the last name: a range of one of these (src/db/search.ts).
    index("users_org_first_name_idx").on(t.orgId, t.firstNameFolded),
    index("users_org_last_name_idx").on(t.orgId, t.lastNameFolded),
    check("users_org_role_check", sql`${t.orgRole} IN (0, 1, 2, 254, 255)`),
    check("users_email_lower_check", sql`${t.email} = lower(${t.email})`),
    check("users_auth_method_check", sql`${t.authMethod} IN (${sql.raw(AUTH_METHODS.map((m) => `'${m}'`).join(", "))})`),
  ],
);

export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    email: text("email").notNull(),
    invitedBy: text("invited_by")
      .notNull()
      .references(() => users.id),
    createdAt: text("created_at").notNull(),
    // pending: queued, not yet sent (or its send is being retried); sent; failed: dead-lettered
    // after the queue's retries; revoked: replaced by a resend; used: verified the address;
    // superseded: its address was verified by another account, or its user is gone.
    status: text("status").notNull().default("pending"),
    // SHA-256 (hex) of the verification token, written when the mail sender makes the token; the
    // token itself exists only in the email.
    tokenHash: text("token_hash"),
    expiresAt: text("expires_at"),
    // A mail sender holds the invitation until then, so a message delivered twice sends once.
    claimedUntil: text("claimed_until"),
    // When it was last put on the queue: the scheduled sweep re-enqueues those pending for long.
    enqueuedAt: text("enqueued_at"),
    attempts: integer("attempts").notNull().default(0),
    sentAt: text("sent_at"),
    failedAt: text("failed_at"),
    usedAt: text("used_at"),
  },
  (t) => [
    index("invitations_user_idx").on(t.userId, t.createdAt),
    uniqueIndex("invitations_token_hash_unique").on(t.tokenHash),
    check("invitations_status_check", sql`${t.status} IN ('pending', 'sent', 'failed', 'revoked', 'used', 'superseded')`),
    // Once users has triggers, SQLite checks this foreign key from the parent side on every write
    // to users (it looks for invitations made by the row): without this index, a scan of all of them.
    index("invitations_invited_by_idx").on(t.invitedBy),
    // Likewise from organizations: inserting one (a registration) looks for invitations naming it.
    index("invitations_org_idx").on(t.orgId),
    index("invitations_pending_idx").on(t.status, t.enqueuedAt),
    // The live invitations of an address, superseded when another account verifies it.
    index("invitations_email_idx").on(t.email, t.status),
  ],
);

// Members per organization and role, live and soft-deleted, kept by triggers on users (migration
// 0002_user_count_triggers) in the same statement as every insert, delete or change of org_id,
// org_role or deleted_at, whoever writes it. A list's `total` reads at most five of these rows
// instead of counting the organization's users.
export const organizationUserCounts = sqliteTable(
  "organization_user_counts",
  {
    // The counts of an organization go with it (npm run seed deletes organizations).
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    orgRole: integer("org_role").notNull(),
    live: integer("live").notNull().default(0),
    deleted: integer("deleted").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.orgRole] })],
);

// The number of an organization in the search index (migration 0007_user_search): an entry's rowid
// in the FTS5 table users_search starts with it, so that one organization's entries are one rowid
// range. Written by the triggers on users the first time an organization has a user; an INTEGER
// PRIMARY KEY, so it survives VACUUM, exports and table rebuilds unchanged.
export const userSearchOrgs = sqliteTable("user_search_orgs", {
  searchKey: integer("search_key").primaryKey(),
  orgId: text("org_id")
    .notNull()
    .unique()
    .references(() => organizations.id, { onDelete: "cascade" }),
});

export type OrganizationRow = typeof organizations.$inferSelect;
export type UserRow = typeof users.$inferSelect;

// A sign-in session: what `tokenId` names, what an access token's `sid` claim points at. Ending it
// (logout, revocation, refresh-token reuse, password change) refuses its access tokens on the next
// request, because the caller statement requires the session to be live.
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    // The client's own description of the device (JSON, bounded), shown in the session list.
    deviceInfo: text("device_info"),
    createdAt: text("created_at").notNull(),
    lastUsedAt: text("last_used_at").notNull(),
    // The absolute end: no refresh past it, however active the session.
    expiresAt: text("expires_at").notNull(),
    endedAt: text("ended_at"),
    // logout | revoked | reuse | password | ...
    endReason: text("end_reason"),
  },
  (t) => [index("sessions_user_idx").on(t.userId, t.createdAt)],
);

// The refresh tokens of a session, stored only as their SHA-256 (hex). Each is used once: using it
// records the token that replaced it, so presenting it again is reuse (RFC 9700 §4.14) and ends the
// session.
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    hash: text("hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id),
    createdAt: text("created_at").notNull(),
    replacedBy: text("replaced_by"),
  },
  (t) => [index("refresh_tokens_session_idx").on(t.sessionId)],
);

// The answers of writes made with an Idempotency-Key (src/db/idempotency.ts), one per caller and
// key, for a day: a retry gets the stored answer instead of doing the work again. Written in the
// batch of the work it answers, so neither exists without the other.
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    callerId: text("caller_id").notNull(),
    key: text("key").notNull(),
    // SHA-256 (hex) of the request's method, path and body, the password left out.
    fingerprint: text("fingerprint").notNull(),
    // The shown columns of the row the answer carried (JSON), or null for an answer without one.
    snapshot: text("snapshot"),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.callerId, t.key] }), index("idempotency_keys_expiry_idx").on(t.expiresAt)],
);

// The audit log: one row per change, appended by triggers (migration 0010) in the statement that
// makes the change, so every writer is recorded and no event exists without its change. Rows are
// never updated (a trigger refuses it). `changes` is a JSON array of `{ field, old?, new? }`; the
// values of personal fields (names, address) and of credentials are never kept, only their names.
export const auditEvents = sqliteTable(
  "audit_events",
  {
    // The order events were appended in (never reused): the log's keyset.
    id: integer("id").primaryKey({ autoIncrement: true }),
    orgId: text("org_id").notNull(),
    at: text("at").notNull(),
    // The authenticated caller; null for a write no caller made (email verification, the mail sender, a script).
    actorId: text("actor_id"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    changes: text("changes"),
    requestId: text("request_id"),
    clientAddress: text("client_address"),
  },
  (t) => [
    index("audit_events_org_idx").on(t.orgId, t.id),
    index("audit_events_actor_idx").on(t.orgId, t.actorId, t.id),
    index("audit_events_target_idx").on(t.orgId, t.targetId, t.id),
    index("audit_events_action_idx").on(t.orgId, t.action, t.id),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;

// Who is writing, for the audit triggers: set as the first statement of an API write's batch and
// cleared as its last (src/db/audit.ts), so only that batch's changes see it (D1 runs one batch at
// a time, in one transaction).
export const auditContext = sqliteTable("audit_context", {
  id: integer("id").primaryKey(),
  actorId: text("actor_id"),
  requestId: text("request_id"),
  clientAddress: text("client_address"),
});

// How far the audit log has been sent to the AUDIT_EVENTS queue (src/audit/forward.ts): the id of
// the last event sent. One row.
export const auditForwarding = sqliteTable("audit_forwarding", {
  id: integer("id").primaryKey(),
  lastId: integer("last_id").notNull(),
});
