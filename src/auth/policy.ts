import { ApiError, MESSAGES } from "../errors";
import { ROLE, type RoleName } from "./roles";

// Every authenticated operation's rule, stated once. A policy yields the route's documented role,
// the SQL verdict its one database batch evaluates (src/db/verdict.ts) and the error for each
// reason that verdict can give. The checks run in the contract's order: the token, the caller's
// address, the role, an Idempotency-Key's recorded answer, the organization in the path, the self-rules, the target's existence, the
// ceiling on a granted role, the rank over the target, the last owner, and last the request's
// If-Match (RFC 9110 §13.2.1: only once the answer without it would be a success).

/** The user an operation acts on (the path's `userId`), and what it asks of them. */
export type TargetRule = {
  /** Which rows exist for it: live ones, any, or live ones unless the request asks for deleted ones too. */
  exists: "live" | "any" | "asked";
  /** The caller must rank at least as the target. */
  ranked: boolean;
  /** The caller may not act on themselves: 400 with this message. */
  notSelf?: string;
  /** The caller may act only on themselves: 403 with this message. */
  selfOnly?: string;
  /**
   * An owner who is the organization's only live one may not be removed ("removes"), or given a
   * lower role ("demotes": when the operation grants a role below OWNER).
   */
  lastOwner?: "removes" | "demotes";
};

export type Policy = {
  /** The minimum role, and the message of the 403 below it. */
  role: RoleName;
  forbidden: string;
  /** The organization in the path must be the caller's: 403 with this message otherwise. */
  ownOrganization?: string;
  target?: TargetRule;
  /** The operation may grant a role: at most the caller's own. */
  grants?: boolean;
  /** The row whose version If-Match names (src/lib/etag.ts): the caller's organization, or the target. */
  versioned?: "organization" | "target";
};

/** A verdict's reasons, in the order they are checked; `ok` lets the operation run. */
const REASONS = [
  "token",
  "unverified",
  "role",
  "replayed",
  "organization",
  "self",
  "missing",
  "ceiling",
  "rank",
  "last_owner",
  "stale",
  "ok",
] as const;
export type Reason = (typeof REASONS)[number];

export const invalidToken = () =>
  new ApiError("unauthorized", MESSAGES.invalidToken, undefined, { "WWW-Authenticate": 'Bearer error="invalid_token"' });

/**
 * The error of a refused operation, for the verdict its batch gave; undefined for `ok` and
 * `replayed` (the recorded answer is the operation's). No verdict
 * (the caller's row was not there) is the token's refusal.
 */
export function refusal(policy: Policy, reason: Reason | undefined): ApiError | undefined {
  switch (reason ?? "token") {
    case "ok":
    case "replayed":
      return undefined;
    case "token":
      return invalidToken();
    case "unverified":
      return new ApiError("email_not_verified", MESSAGES.emailNotVerified);
    case "role":
      return new ApiError("forbidden", policy.forbidden);
    case "organization":
      return new ApiError("forbidden", policy.ownOrganization ?? policy.forbidden);
    case "self":
      return policy.target?.notSelf
        ? new ApiError("bad_request", policy.target.notSelf)
        : new ApiError("forbidden", policy.target?.selfOnly ?? policy.forbidden);
    case "missing":
      return new ApiError("not_found", MESSAGES.userNotFound);
    case "stale":
      return new ApiError("precondition_failed", MESSAGES.preconditionFailed);
    case "ceiling":
      return new ApiError("forbidden", MESSAGES.roleAboveOwn);
    case "rank":
      return new ApiError("forbidden", MESSAGES.targetAboveOwn);
    case "last_owner":
      return new ApiError("last_owner", MESSAGES.lastOwner);
  }
}

/** The policy's minimum role as the document states it. */
export function documentedRole(policy: Policy) {
  return { "x-required-role": { name: policy.role, value: ROLE[policy.role] } };
}

const workspaces = (forbidden: string): Policy => ({ role: "WORKSPACES", forbidden });
const overUser = (rule: Partial<TargetRule> & Pick<TargetRule, "exists">): TargetRule => ({ ranked: true, ...rule });

/** The operations' rules, by operationId. */
export const POLICIES = {
  getOrganization: { role: "USER", forbidden: MESSAGES.viewOrgDenied, ownOrganization: MESSAGES.viewOrgDenied },
  updateOrganization: {
    role: "ADMINISTRATOR",
    forbidden: MESSAGES.modifyOrgRole,
    ownOrganization: MESSAGES.modifyOrgDenied,
    versioned: "organization",
  },
  listUsers: workspaces(MESSAGES.viewUsersRole),
  createUser: { ...workspaces(MESSAGES.createUsersRole), grants: true },
  // Reading is not acting on: any role of the organization may be read.
  getUser: { ...workspaces(MESSAGES.viewUsersRole), target: { exists: "asked", ranked: false } },
  updateUser: {
    ...workspaces(MESSAGES.updateUsersRole),
    target: overUser({ exists: "live", lastOwner: "demotes" }),
    grants: true,
    versioned: "target",
  },
  deleteUser: {
    ...workspaces(MESSAGES.deleteUsersRole),
    target: overUser({ exists: "live", notSelf: MESSAGES.deleteSelf, lastOwner: "removes" }),
  },
  activateUser: { ...workspaces(MESSAGES.activateUsersRole), target: overUser({ exists: "any" }) },
  resendInvitation: { ...workspaces(MESSAGES.resendUsersRole), target: overUser({ exists: "live" }) },
  readAuditLog: { role: "ADMINISTRATOR", forbidden: MESSAGES.auditLogRole },
  // The caller's own account: every member.
  listSessions: { role: "USER", forbidden: MESSAGES.membersOnly },
  revokeSession: { role: "USER", forbidden: MESSAGES.membersOnly },
  getProfile: { role: "USER", forbidden: MESSAGES.membersOnly },
  updateOwnAccount: {
    role: "USER",
    forbidden: MESSAGES.membersOnly,
    target: { exists: "live", ranked: false, selfOnly: MESSAGES.ownAccountOnly },
  },
} as const satisfies Record<string, Policy>;

export type OperationId = keyof typeof POLICIES;
