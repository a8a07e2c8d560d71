import { and, eq, gt, isNotNull, isNull, lt, ne, or, sql, type Placeholder, type SQL, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder, type SelectedFields } from "drizzle-orm/sqlite-core";
import type { Policy, Reason } from "../auth/policy";
import { ROLE, type Role } from "../auth/roles";
import type { Db } from "./client";
import { isReplay, type Idempotency } from "./idempotency";
import { organizations, sessions, users } from "./schema";

// A policy (src/auth/policy.ts) as SQL: one CASE over the caller's row, their organization and the
// user acted on, as the database holds them when the statement runs. An operation's batch reads it
// first, for the answer, and its writes carry it in their own WHERE: both see the same state (a
// batch is one transaction), so the rights that count are those the write sees, and a refusal is
// explained by the state that caused it. Authentication reads nothing: this is its database half.

export const callers = alias(users, "caller");
export const callerOrganizations = alias(organizations, "caller_org");
export const targets = alias(users, "target");

/**
 * The caller as the token names them, with the deployment's rule on unverified addresses:
 * `issuedAt` is the token's `iat`, checked against the user's watermark; `sessionId` its `sid`, the
 * sign-in session that must still be live; `orgId` its `orgId` claim, which must be the user's.
 */
export type CallerRef = {
  id: string;
  issuedAt: number | undefined;
  sessionId: string | undefined;
  orgId: string | undefined;
  verifiedOnly: boolean;
};

/** A value of an ask: given, or a placeholder of a statement prepared once and bound per request. */
type Value<T> = T | Placeholder;

/** What one request asks of a policy: its caller, and the organization, user and role it names. */
export type Ask = {
  caller: CallerRef;
  organizationId?: string | undefined;
  targetId?: string | undefined;
  includeDeleted?: boolean;
  grants?: Role | undefined;
  /** The versions of the row an If-Match accepts (src/lib/etag.ts); undefined when it sets no condition. */
  ifMatch?: number[] | undefined;
};

/** The ask of a write that takes an Idempotency-Key (src/db/idempotency.ts): its recorded answer is the verdict `replayed`. */
export type IdempotentAsk = Ask & { idempotency?: Idempotency | undefined };

/** An ask as a statement holds it: values, or placeholders of a statement prepared once (prepareAsk). */
export type AnyAsk = {
  caller: {
    id: Value<string>;
    issuedAt: Value<number> | undefined;
    sessionId: Value<string> | undefined;
    orgId: Value<string> | undefined;
    verifiedOnly: boolean;
  };
  organizationId?: Value<string> | undefined;
  targetId?: Value<string> | undefined;
  includeDeleted?: boolean;
  grants?: Role | undefined;
  /** The versions, or (prepared) a placeholder of their JSON array. */
  ifMatch?: number[] | Placeholder | undefined;
  idempotency?: Idempotency | undefined;
};

const placeholder = (name: string) => sql.placeholder(name);
// Each policy's number, for the keys of the statements prepared for it.
const policyKeys = new Map<Policy, number>();

/**
 * `ask` of `policy` for a statement prepared once per shape: its ids and times as placeholders, the
 * `key` of its shape (the policy, which values it has, the flags and role that change the SQL), and
 * the `values` to bind.
 */
export function prepareAsk(policy: Policy, ask: Ask): { key: string; ask: AnyAsk; values: Record<string, unknown> } {
  const { caller } = ask;
  const given = (value: unknown, name: string) => (value === undefined ? undefined : placeholder(name));
  let policyKey = policyKeys.get(policy);
  if (policyKey === undefined) policyKeys.set(policy, (policyKey = policyKeys.size));
  return {
    key: [
      policyKey,
      caller.issuedAt !== undefined,
      caller.sessionId !== undefined,
      caller.orgId !== undefined,
      caller.verifiedOnly,
      ask.organizationId !== undefined,
      ask.targetId !== undefined,
      ask.includeDeleted ?? false,
      ask.grants ?? "",
      ask.ifMatch !== undefined,
    ].join(","),
    ask: {
      caller: {
        id: placeholder("callerId"),
        issuedAt: given(caller.issuedAt, "issuedAt"),
        sessionId: given(caller.sessionId, "sessionId"),
        orgId: given(caller.orgId, "tokenOrg"),
        verifiedOnly: caller.verifiedOnly,
      },
      organizationId: given(ask.organizationId, "organizationId"),
      targetId: given(ask.targetId, "targetId"),
      includeDeleted: ask.includeDeleted,
      grants: ask.grants,
      ifMatch: ask.ifMatch === undefined ? undefined : placeholder("ifMatch"),
    },
    values: {
      callerId: caller.id,
      issuedAt: caller.issuedAt,
      sessionId: caller.sessionId,
      tokenOrg: caller.orgId,
      organizationId: ask.organizationId,
      targetId: ask.targetId,
      ifMatch: ask.ifMatch === undefined ? undefined : JSON.stringify(ask.ifMatch),
    },
  };
}

const builder = new QueryBuilder();
const OK = sql.raw("'ok'");
const reason = (name: Reason) => sql.raw(`'${name}'`);

/**
 * The token stands: its user and their organization live, issued after the user's watermark
 * (`tokens_valid_after`, set by every soft delete; a token without `iat` passes only while none is
 * set), of a live session of theirs when it names one, and of their organization when it names one.
 */
function tokenStands(caller: AnyAsk["caller"]): SQL {
  const issuedAt = caller.issuedAt ?? null;
  const sessionLive = sql`EXISTS (${builder
    .select({ one: sql`1` })
    .from(sessions)
    .where(and(eq(sessions.id, caller.sessionId ?? ""), eq(sessions.userId, callers.id), isNull(sessions.endedAt)))
    .getSQL()})`;
  return and(
    isNull(callers.deletedAt),
    isNull(callerOrganizations.deletedAt),
    or(isNull(callers.tokensValidAfter), issuedAt === null ? undefined : lt(callers.tokensValidAfter, issuedAt)),
    caller.sessionId === undefined ? undefined : sessionLive,
    caller.orgId === undefined ? undefined : eq(callers.orgId, caller.orgId),
  ) as SQL;
}

/** The target is the organization's only live owner. */
const lastLiveOwner = sql`(${targets.orgRole} = ${ROLE.OWNER} AND (SELECT count(*) FROM ${users} AS owners WHERE owners.org_id = ${callers.orgId} AND owners.org_role = ${ROLE.OWNER} AND owners.deleted_at IS NULL) < 2)`;

function cases(policy: Policy, ask: AnyAsk, callerOnly: boolean): [SQL, Reason][] {
  const checks: [SQL, Reason][] = [[sql`NOT coalesce(${tokenStands(ask.caller)}, 0)`, "token"]];
  if (ask.caller.verifiedOnly) checks.push([eq(callers.validated, false), "unverified"]);
  checks.push([lt(callers.orgRole, ROLE[policy.role]), "role"]);
  if (callerOnly) return checks;
  // Before the rules on the target: the work recorded may have changed it (a reactivated user).
  if (ask.idempotency) checks.push([isReplay(callers.id, ask.idempotency), "replayed"]);
  if (policy.ownOrganization) checks.push([ne(callers.orgId, ask.organizationId ?? ""), "organization"]);
  const target = policy.target;
  const targetId = ask.targetId ?? "";
  if (target?.notSelf) checks.push([eq(callers.id, targetId), "self"]);
  if (target?.selfOnly) checks.push([ne(callers.id, targetId), "self"]);
  else if (target) {
    const deletedCounts = target.exists === "any" || (target.exists === "asked" && ask.includeDeleted);
    checks.push([deletedCounts ? isNull(targets.id) : or(isNull(targets.id), isNotNull(targets.deletedAt))!, "missing"]);
  }
  if (policy.grants && ask.grants !== undefined) checks.push([lt(callers.orgRole, ask.grants), "ceiling"]);
  if (target?.ranked) checks.push([gt(targets.orgRole, callers.orgRole), "rank"]);
  const demotes = ask.grants !== undefined && ask.grants !== ROLE.OWNER;
  if (target?.lastOwner === "removes" || (target?.lastOwner === "demotes" && demotes)) {
    checks.push([lastLiveOwner, "last_owner"]);
  }
  if (policy.versioned && ask.ifMatch !== undefined) {
    const version = policy.versioned === "organization" ? callerOrganizations.version : targets.version;
    const versions = Array.isArray(ask.ifMatch) ? JSON.stringify(ask.ifMatch) : ask.ifMatch;
    checks.push([sql`${version} NOT IN (SELECT value FROM json_each(${versions}))`, "stale"]);
  }
  return checks;
}

/** The policy's verdict for `ask`, and the forms a batch uses it in. */
export function verdictOf(policy: Policy, ask: AnyAsk, options: { callerOnly?: boolean } = {}) {
  const checks = cases(policy, ask, options.callerOnly ?? false);
  const verdict = sql<Reason>`CASE ${sql.join(
    checks.map(([condition, name]) => sql`WHEN ${condition} THEN ${reason(name)}`),
    sql` `,
  )} ELSE ${OK} END`;
  const joinsTarget = !options.callerOnly && policy.target !== undefined && !policy.target.selfOnly;
  const onTarget = and(eq(targets.id, ask.targetId ?? ""), eq(targets.orgId, callers.orgId));
  // Only its SQL is used (a subquery), so its fields need no precise type.
  const fromCaller = (fields: SelectedFields, where?: SQL) => {
    const joined = builder
      .select(fields)
      .from(callers)
      .innerJoin(callerOrganizations, eq(callerOrganizations.id, callers.orgId))
      .$dynamic();
    return (joinsTarget ? joined.leftJoin(targets, onTarget) : joined).where(and(eq(callers.id, ask.caller.id), where));
  };
  const allowed = sql`${verdict} = ${OK}`;
  return {
    /**
     * The batch statement that reads the verdict, with `fields` of the caller, their organization
     * and the target. No row at all means no such caller: the token's refusal.
     */
    read<T extends SelectedFields>(db: Db, fields: T) {
      const joined = db
        .select({ verdict, ...fields })
        .from(callers)
        .innerJoin(callerOrganizations, eq(callerOrganizations.id, callers.orgId))
        .$dynamic();
      return (joinsTarget ? joined.leftJoin(targets, onTarget) : joined).where(eq(callers.id, ask.caller.id));
    },
    /** True only while the verdict is `ok`: the condition a write carries (built when asked for: reads alone need none). */
    get allows() {
      return sql`(${fromCaller({ verdict }).getSQL()}) = ${OK}`;
    },
    /** `column` of the caller's row while the verdict is `ok`, else NULL: what a read is scoped by. */
    only: (column: SQLWrapper) => sql`(${fromCaller({ value: sql`${column}` }, allowed).getSQL()})`,
    /** The source of an `INSERT ... SELECT` made by the caller: `fields`, one row while the verdict is `ok` and `also` holds. */
    source: (fields: SelectedFields, also?: SQL) => fromCaller(fields, and(allowed, also)).getSQL(),
  };
}
