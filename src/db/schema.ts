import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are ISO-8601 UTC strings: they sort lexicographically in time order and
// go out on the wire unchanged.

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
    authMethod: text("auth_method").notNull().default("LOCAL"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    // Across all rows, soft-deleted included: a deleted user keeps its address so it
    // can always be reactivated without a conflict.
    uniqueIndex("users_email_unique").on(sql`lower(${t.email})`),
    // Keyset pagination and the per-organization filters.
    index("users_org_created_idx").on(t.orgId, t.createdAt, t.id),
    index("users_org_role_created_idx").on(t.orgId, t.orgRole, t.createdAt, t.id),
    check("users_org_role_check", sql`${t.orgRole} IN (0, 1, 2, 254, 255)`),
    check("users_email_lower_check", sql`${t.email} = lower(${t.email})`),
    check("users_auth_method_check", sql`${t.authMethod} IN ('LOCAL', 'GOOGLE', 'GITHUB', 'MICROSOFT')`),
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
    // Set by the mail sender once delivered; null means queued.
    sentAt: text("sent_at"),
  },
  (t) => [index("invitations_user_idx").on(t.userId), index("invitations_pending_idx").on(t.sentAt, t.createdAt)],
);

export type OrganizationRow = typeof organizations.$inferSelect;
export type UserRow = typeof users.$inferSelect;
