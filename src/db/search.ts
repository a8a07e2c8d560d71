import { and, count, eq, gte, lt, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { integer, sqliteTable } from "drizzle-orm/sqlite-core";
import type { Role } from "../auth/roles";
import type { Db } from "./client";
import { userSearchOrgs, users } from "./schema";

// The list's search, served by indexes whatever its text: what a search costs is what its matches
// cost in the caller's organization, not the organization's size nor other organizations' matches.
//
// q is folded with String#toLowerCase, as the stored email and name copies are, then:
// - from three characters on, it matches as a literal substring of the email, the first name or the
//   last name, through the FTS5 trigram index users_search (migration 0007_user_search);
// - with one or two characters (fewer than a trigram), it matches as a prefix of one of them,
//   through the B-tree indexes on (org_id, lower(email)), (org_id, first_name_folded) and
//   (org_id, last_name_folded).
// Either way nothing in q is syntax: no LIKE wildcards, no FTS5 operators.

/** The organization searched: its id, or an SQL expression that yields it. */
export type OrgRef = SQLWrapper | string;

export type Search = { q: string; role?: Role | undefined; includeDeleted?: boolean | undefined };

/** The shortest q (in characters of its folded form) that matches as a substring; shorter ones match as a prefix. */
const SUBSTRING_MIN_LENGTH = 3;

// The FTS5 table of migration 0007, declared here for the query builder only: in schema.ts,
// drizzle-kit would create it as a plain table.
const usersSearch = sqliteTable("users_search", { rowid: integer("rowid").notNull() });

// An entry's rowid is (search_key << 33) | (deleted << 32) | users.rowid (see migration 0007): an
// organization's live users are the rowids from search_key << 33 to that | 2^32 - 1, all its users
// up to that | 2^33 - 1. Below: the low 32 bits (the user's rowid) and the two range ends.
const USER_ROWID = sql.raw("4294967295");
const LIVE_END = sql.raw("4294967295");
const ALL_END = sql.raw("8589934591");

/** The rowid range of the organization's entries, live ones only unless `includeDeleted`. */
function organizationEntries(org: OrgRef, includeDeleted: boolean): SQL {
  const start = sql`(SELECT ${userSearchOrgs.searchKey} << 33 FROM ${userSearchOrgs} WHERE ${userSearchOrgs.orgId} = ${org})`;
  return sql`${usersSearch.rowid} BETWEEN ${start} AND (${start} | ${includeDeleted ? ALL_END : LIVE_END})`;
}

/** FTS5 query syntax for "this text, literally": one string, its double quotes doubled. */
function phrase(needle: string): string {
  return `"${needle.replaceAll('"', '""')}"`;
}

/** The smallest text above every text that starts with `prefix` (the next code point after its last), if any. */
function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    // SQLite compares text as UTF-8 bytes, which sort as code points do; surrogates are not text.
    if (last < 0x10ffff) return String.fromCodePoint(...points, last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

function folded(q: string): { needle: string; short: boolean } {
  const needle = q.toLowerCase();
  return { needle, short: [...needle].length < SUBSTRING_MIN_LENGTH };
}

/**
 * The condition on users that selects the matches of `search.q` in the organization, in place of the
 * list's own organization condition: for a short q, three index ranges (SQLite's OR optimization
 * reads each from its index); otherwise the users whose rowids the full-text index gives for the
 * organization's range.
 *
 * Its organization term is unary-plussed, so that no index serves it: without statistics SQLite
 * takes an organization for ten rows, and would rather walk the whole organization in list order,
 * testing each user, than read the matches and sort them.
 */
export function searchCondition(org: OrgRef, search: Search): SQL {
  const { needle, short } = folded(search.q);
  const inOrganization = sql`+${users.orgId} = ${org}`;
  if (short) {
    const end = prefixEnd(needle);
    const startsWith = (column: SQLWrapper) =>
      and(eq(users.orgId, org), gte(column, needle), end === undefined ? undefined : lt(column, end));
    // lower(email) as the unique index is written, so that the range is read from it.
    return and(
      inOrganization,
      or(startsWith(sql`lower(${users.email})`), startsWith(users.firstNameFolded), startsWith(users.lastNameFolded)),
    ) as SQL;
  }
  return and(
    inOrganization,
    sql`${users}.rowid IN (SELECT ${usersSearch.rowid} & ${USER_ROWID} FROM ${usersSearch} WHERE ${usersSearch} MATCH ${phrase(needle)} AND ${organizationEntries(org, search.includeDeleted ?? false)})`,
  ) as SQL;
}

/**
 * The statement counting every match of a search: `where` is the list's condition without its
 * cursor (`searchCondition`, visibility and role). Without a role filter, a q of
 * three characters or more is counted in the full-text index alone, whose organization ranges
 * already tell live users from deleted ones.
 */
export function searchTotal(db: Db, org: OrgRef, search: Search, where: SQL | undefined) {
  const { needle, short } = folded(search.q);
  if (short || search.role !== undefined) return db.select({ total: count() }).from(users).where(where);
  return db
    .select({ total: count() })
    .from(usersSearch)
    .where(sql`${usersSearch} MATCH ${phrase(needle)} AND ${organizationEntries(org, search.includeDeleted ?? false)}`);
}
