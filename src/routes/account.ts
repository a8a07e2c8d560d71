import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { isRole, roleDescription, rolesUpTo, ROLE } from "../auth/roles";
import { hashPassword } from "../auth/password";
import * as sessionsDb from "../db/sessions";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { jsonBody } from "../middleware/json-body";
import { allowOnly } from "../middleware/method-not-allowed";
import { admit, operation } from "../middleware/operation";
import { validationHook } from "../middleware/validate";
import {
  PROFILE_EXAMPLE,
  ProfileResponse,
  SESSION_LIST_EXAMPLE,
  SessionListResponse,
  TokenIdParams,
  UpdateOwnAccountBody,
} from "../schemas/account";
import { errorResponse, idParams, noQuery } from "../schemas/common";
import {
  actionResponse,
  bearer,
  bodyErrorResponses,
  errorResponses,
  jsonBodyOf,
  jsonContent,
  methodNotAllowed,
} from "../schemas/envelope";

// The caller's own account: every member may list and end their own sessions and read their profile.

export const account = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const LIST_SESSIONS = operation("listSessions");
const REVOKE_SESSION = operation("revokeSession");
const GET_PROFILE = operation("getProfile");
const UPDATE_OWN_ACCOUNT = operation("updateOwnAccount");
const ownErrors = errorResponses(MESSAGES.emailNotVerified, "Never for the role (every member may)");

const TOKENS = "/token";
const TOKEN = "/token/{tokenId}";
const PROFILE = "/user/profile";

const listRoute = createRoute({
  method: "get",
  operationId: "listSessions",
  path: TOKENS,
  tags: ["Sessions"],
  summary: "The caller's live sessions",
  description: "Any member. Each sign-in opens one; the list never holds a token.",
  security: bearer,
  ...LIST_SESSIONS.documented,
  middleware: LIST_SESSIONS.middleware,
  request: { query: noQuery },
  responses: {
    200: jsonContent(SessionListResponse, "The caller's live sessions, newest first", SESSION_LIST_EXAMPLE),
    ...ownErrors,
    405: methodNotAllowed(["GET"]),
  },
});

account.openapi(listRoute, async (c) => {
  const caller = c.get("caller");
  const { verdict, rows } = await sessionsDb.listSessions(c.var.db, LIST_SESSIONS.policy, { caller }, new Date());
  admit(c, LIST_SESSIONS, verdict);
  return c.json(
    {
      success: true as const,
      tokens: rows.map((row) => ({
        ...row,
        deviceInfo: row.deviceInfo === null ? null : (JSON.parse(row.deviceInfo) as Record<string, unknown>),
        current: row.id === caller.sessionId,
      })),
    },
    200,
  );
});

allowOnly(account, TOKENS, ["GET"]);

const revokeRoute = createRoute({
  method: "delete",
  operationId: "revokeSession",
  path: TOKEN,
  tags: ["Sessions"],
  summary: "End one of the caller's sessions",
  description: "Any member, for their own sessions only (anyone else's is 404). Its tokens are refused from the next request on.",
  security: bearer,
  ...REVOKE_SESSION.documented,
  middleware: REVOKE_SESSION.middleware,
  request: { params: TokenIdParams, query: noQuery },
  responses: {
    200: actionResponse("Ended", MESSAGES.sessionEnded),
    ...ownErrors,
    404: errorResponse("No live session of the caller's with this id", "not_found", MESSAGES.sessionNotFound),
    405: methodNotAllowed(["DELETE"]),
  },
});

account.openapi(revokeRoute, async (c) => {
  const { tokenId } = c.req.valid("param");
  const outcome = await sessionsDb.endOwnSession(
    c.var.db,
    REVOKE_SESSION.policy,
    { caller: c.get("caller") },
    tokenId,
    new Date(),
  );
  admit(c, REVOKE_SESSION, outcome.verdict);
  if (!outcome.ended) throw new ApiError("not_found", MESSAGES.sessionNotFound);
  return c.json({ success: true as const, message: MESSAGES.sessionEnded }, 200);
});

allowOnly(account, TOKEN, ["DELETE"]);

const profileRoute = createRoute({
  method: "get",
  operationId: "getProfile",
  path: PROFILE,
  tags: ["Sessions"],
  summary: "The caller's own profile",
  description: "Any member.",
  security: bearer,
  ...GET_PROFILE.documented,
  middleware: GET_PROFILE.middleware,
  request: { query: noQuery },
  responses: {
    200: jsonContent(ProfileResponse, "The caller", PROFILE_EXAMPLE),
    ...ownErrors,
    405: methodNotAllowed(["GET"]),
  },
});

account.openapi(profileRoute, async (c) => {
  const { verdict, user, organization } = await sessionsDb.readOwnAccount(c.var.db, GET_PROFILE.policy, {
    caller: c.get("caller"),
  });
  admit(c, GET_PROFILE, verdict);
  if (!user || !organization) throw new ApiError("not_found", MESSAGES.userNotFound);
  const orgRole = isRole(user.orgRole) ? user.orgRole : ROLE.USER;
  return c.json(
    {
      success: true as const,
      data: {
        id: user.id,
        name: user.firstName,
        lastName: user.lastName,
        email: user.email,
        orgId: user.orgId,
        orgRole,
        orgRoleDescription: roleDescription(orgRole),
        orgRoles: rolesUpTo(orgRole),
        validated: user.validated,
        mfaRequired: organization.mfaEnforced,
        isBusiness: organization.isBusiness,
      },
    },
    200,
  );
});

allowOnly(account, PROFILE, ["GET"]);

// After /user/profile and the sign-in routes, which would otherwise be taken for a user id.
const OWN_RECORD = "/user/{userId}";

const updateOwnRoute = createRoute({
  method: "put",
  operationId: "updateOwnAccount",
  path: OWN_RECORD,
  tags: ["Sessions"],
  summary: "Update one's own name, last name or password",
  description:
    "Any member, for their own record only (Flashback's rule: only one's own password); others' records are under `/organization/users`. A new password ends every other session of the caller; the one making the change stays signed in.",
  security: bearer,
  ...UPDATE_OWN_ACCOUNT.documented,
  middleware: [...UPDATE_OWN_ACCOUNT.middleware, jsonBody],
  request: { params: idParams, query: noQuery, body: jsonBodyOf(UpdateOwnAccountBody) },
  responses: {
    200: actionResponse("Updated", MESSAGES.userUpdated),
    ...ownErrors,
    403: errorResponse(
      "Not the caller's own record; or (`email_not_verified`) the caller has not verified their address",
      "forbidden",
      MESSAGES.ownAccountOnly,
    ),
    405: methodNotAllowed(["PUT"]),
    ...bodyErrorResponses,
  },
});

account.openapi(updateOwnRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const body = c.req.valid("json");
  const caller = c.get("caller");
  const outcome = await sessionsDb.updateOwnAccount(
    c.var.db,
    UPDATE_OWN_ACCOUNT.policy,
    { caller, targetId: userId },
    {
      firstName: body.name,
      lastName: body.lastName,
      // Someone else's record is refused whatever the password: no hash is spent on it.
      passwordHash: body.password !== undefined && userId === caller.id ? await hashPassword(body.password) : undefined,
    },
    new Date(),
  );
  admit(c, UPDATE_OWN_ACCOUNT, outcome.verdict);
  if (!outcome.updated) throw new ApiError("not_found", MESSAGES.userNotFound);
  return c.json({ success: true as const, message: MESSAGES.userUpdated }, 200);
});

allowOnly(account, OWN_RECORD, ["PUT"]);
