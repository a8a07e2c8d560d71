import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { hashPassword } from "../auth/password";
import { canActOn, canAssignRole, ROLE } from "../auth/roles";
import { createDb } from "../db/client";
import type { UserRow } from "../db/schema";
import { isUniqueViolation } from "../db/constraint";
import * as usersDb from "../db/users";
import type { AppEnv, Caller } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { authenticate } from "../middleware/authenticate";
import { jsonBody } from "../middleware/json-body";
import { allowOnly } from "../middleware/method-not-allowed";
import { requireRole } from "../middleware/require-role";
import { requiredRole } from "../openapi";
import { validationHook } from "../middleware/validate";
import { errorResponse, idParams, noQuery } from "../schemas/common";
import { bearer, bodyErrorResponses, errorResponses, jsonBodyOf, jsonContent, successResponse } from "../schemas/envelope";
import {
  BareUserSchema,
  CreateUserBody,
  GetUserQuery,
  ListUsersQuery,
  OrgUserSchema,
  toOrgUser,
  UpdateUserBody,
  USER_EXAMPLE,
  UserPageSchema,
} from "../schemas/users";

export const users = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const managers = (message: string) => [authenticate, requireRole(ROLE.WORKSPACES, message)];
const COLLECTION = "/organization/users";
const ITEM = "/organization/users/{userId}";

function notFound() {
  return new ApiError("not_found", MESSAGES.userNotFound);
}

/**
 * Explains why a guarded write changed nothing, from the target as that write saw it (read in
 * the same transaction): gone (404), ranked above the caller (403), or else the operation's own
 * rule (`rule`).
 */
function explainRefusal(caller: Caller, target: UserRow | undefined, rule: ApiError, options?: usersDb.Visibility) {
  if (!target || (target.deletedAt !== null && !options?.includeDeleted)) return notFound();
  if (!canActOn(caller.role, target.orgRole)) return new ApiError("forbidden", MESSAGES.targetAboveOwn);
  return rule;
}

const lastOwner = () => new ApiError("last_owner", MESSAGES.lastOwner);

const listRoute = createRoute({
  method: "get",
  operationId: "listUsers",
  path: COLLECTION,
  tags: ["Users"],
  summary: "List the users of the caller's organization",
  description: "WORKSPACES or higher. Keyset-paginated by creation time.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: managers(MESSAGES.viewUsersRole),
  request: { query: ListUsersQuery },
  responses: {
    200: jsonContent(UserPageSchema, "A page of users", {
      success: true,
      data: [USER_EXAMPLE],
      total: 1,
      nextCursor: null,
    }),
    ...errorResponses(MESSAGES.viewUsersRole),
  },
});

users.openapi(listRoute, async (c) => {
  const caller = c.get("caller");
  const query = c.req.valid("query");
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (after === null)
    throw new ApiError("bad_request", MESSAGES.invalidCursor, [{ path: "cursor", message: "Not a cursor from this API" }]);
  const page = await usersDb.listUsers(
    createDb(c.env.DB),
    caller.orgId,
    { includeDeleted: query.includeDeleted ?? false, role: query.role, q: query.q },
    { limit: query.limit ?? 100, after },
  );
  return c.json(
    {
      success: true as const,
      data: page.items.map(toOrgUser),
      total: page.total,
      nextCursor: page.next && encodeCursor(page.next),
    },
    200,
  );
});

const createUserRoute = createRoute({
  method: "post",
  operationId: "createUser",
  path: COLLECTION,
  tags: ["Users"],
  summary: "Create a user in the caller's organization",
  description: "WORKSPACES or higher; the new role may not exceed the caller's.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: [...managers(MESSAGES.createUsersRole), jsonBody],
  request: { query: noQuery, body: jsonBodyOf(CreateUserBody) },
  responses: {
    201: successResponse("Created", OrgUserSchema, { ...USER_EXAMPLE, validated: false }, MESSAGES.userCreatedInvited),
    ...errorResponses(MESSAGES.createUsersRole),
    409: errorResponse("Email already taken", "conflict", MESSAGES.emailTaken),
    ...bodyErrorResponses,
  },
});

users.openapi(createUserRoute, async (c) => {
  const caller = c.get("caller");
  const body = c.req.valid("json");
  if (!canAssignRole(caller.role, body.orgRole)) throw new ApiError("forbidden", MESSAGES.roleAboveOwn);
  const db = createDb(c.env.DB);
  let row;
  try {
    row = await usersDb.insertUser(
      db,
      {
        orgId: caller.orgId,
        email: body.email,
        firstName: body.firstName,
        lastName: body.lastName,
        orgRole: body.orgRole,
        passwordHash: await hashPassword(body.password),
        provider: body.provider || undefined,
        authMethod: body.authMethod,
      },
      body.sendInvite ? caller.id : undefined,
    );
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const holder = await usersDb.findUserByEmail(db, body.email, { includeDeleted: true });
    throw new ApiError("conflict", holder?.deletedAt ? MESSAGES.emailTakenDeleted : MESSAGES.emailTaken);
  }
  c.header("Location", `/organization/users/${row.id}`);
  const message = body.sendInvite ? MESSAGES.userCreatedInvited : MESSAGES.userCreated;
  return c.json({ success: true as const, data: toOrgUser(row), message }, 201);
});

allowOnly(users, COLLECTION, ["GET", "POST"]);

const getUserRoute = createRoute({
  method: "get",
  operationId: "getUser",
  path: ITEM,
  tags: ["Users"],
  summary: "Get a user",
  description: "WORKSPACES or higher. Answered bare (not enveloped), as Flashback's client expects.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: managers(MESSAGES.viewUsersRole),
  request: { params: idParams, query: GetUserQuery },
  responses: {
    200: jsonContent(BareUserSchema, "The user", { success: true, ...USER_EXAMPLE }),
    ...errorResponses(MESSAGES.viewUsersRole),
    404: errorResponse("No such user in the caller's organization", "not_found", MESSAGES.userNotFound),
  },
});

users.openapi(getUserRoute, async (c) => {
  const caller = c.get("caller");
  const { userId } = c.req.valid("param");
  const { includeDeleted } = c.req.valid("query");
  const row = await usersDb.findUser(createDb(c.env.DB), caller.orgId, userId, { includeDeleted: includeDeleted ?? false });
  if (!row) throw notFound();
  return c.json({ success: true as const, ...toOrgUser(row) }, 200);
});

const updateUserRoute = createRoute({
  method: "put",
  operationId: "updateUser",
  path: ITEM,
  tags: ["Users"],
  summary: "Update a user's name or role",
  description: "WORKSPACES or higher; ceiling and last-owner rules apply.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: [...managers(MESSAGES.updateUsersRole), jsonBody],
  request: { params: idParams, query: noQuery, body: jsonBodyOf(UpdateUserBody) },
  responses: {
    200: successResponse("Updated", OrgUserSchema, USER_EXAMPLE, MESSAGES.userUpdated),
    ...errorResponses(MESSAGES.updateUsersRole),
    404: errorResponse("No such live user in the caller's organization", "not_found", MESSAGES.userNotFound),
    409: errorResponse("Would leave the organization without an owner", "last_owner", MESSAGES.lastOwner),
    ...bodyErrorResponses,
  },
});

users.openapi(updateUserRoute, async (c) => {
  const caller = c.get("caller");
  const { userId } = c.req.valid("param");
  const body = c.req.valid("json");
  if (body.name === undefined && body.lastName === undefined && body.orgRole === undefined) {
    throw new ApiError("bad_request", MESSAGES.noFields);
  }
  const db = createDb(c.env.DB);
  if (body.orgRole !== undefined && !canAssignRole(caller.role, body.orgRole)) {
    // Existence first, so a foreign id is a 404 whatever the body asks for.
    if (!(await usersDb.findUser(db, caller.orgId, userId))) throw notFound();
    throw new ApiError("forbidden", MESSAGES.roleAboveOwn);
  }
  const target = { orgId: caller.orgId, userId, callerRole: caller.role };
  const { row, target: seen } = await usersDb.updateUser(db, target, {
    firstName: body.name,
    lastName: body.lastName,
    orgRole: body.orgRole,
  });
  if (!row) throw explainRefusal(caller, seen, lastOwner());
  return c.json({ success: true as const, data: toOrgUser(row), message: MESSAGES.userUpdated }, 200);
});

const deleteUserRoute = createRoute({
  method: "delete",
  operationId: "deleteUser",
  path: ITEM,
  tags: ["Users"],
  summary: "Soft-delete a user",
  description: "WORKSPACES or higher. The user's tokens stop working at once; the row is kept for reactivation.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: managers(MESSAGES.deleteUsersRole),
  request: { params: idParams, query: noQuery },
  responses: {
    200: successResponse("Deleted", z.null(), null, MESSAGES.userDeleted),
    ...errorResponses(MESSAGES.deleteUsersRole),
    404: errorResponse("No such live user in the caller's organization", "not_found", MESSAGES.userNotFound),
    409: errorResponse("The last owner cannot be deleted", "last_owner", MESSAGES.lastOwner),
  },
});

users.openapi(deleteUserRoute, async (c) => {
  const caller = c.get("caller");
  const { userId } = c.req.valid("param");
  if (userId === caller.id) throw new ApiError("bad_request", MESSAGES.deleteSelf);
  const db = createDb(c.env.DB);
  const { row, target } = await usersDb.softDeleteUser(db, { orgId: caller.orgId, userId, callerRole: caller.role });
  if (!row) throw explainRefusal(caller, target, lastOwner());
  return c.json({ success: true as const, data: null, message: MESSAGES.userDeleted }, 200);
});

allowOnly(users, ITEM, ["GET", "PUT", "DELETE"]);

const ACTIVATE = "/organization/users/{userId}/activate";

const activateUserRoute = createRoute({
  method: "post",
  operationId: "activateUser",
  path: ACTIVATE,
  tags: ["Users"],
  summary: "Reactivate a soft-deleted user",
  description: "WORKSPACES or higher. Takes no body.",
  security: bearer,
  ...requiredRole("WORKSPACES"),
  middleware: managers(MESSAGES.activateUsersRole),
  request: { params: idParams, query: noQuery },
  responses: {
    200: successResponse("Reactivated", OrgUserSchema, USER_EXAMPLE, MESSAGES.userActivated),
    ...errorResponses(MESSAGES.activateUsersRole),
    404: errorResponse("No such user in the caller's organization", "not_found", MESSAGES.userNotFound),
  },
});

users.openapi(activateUserRoute, async (c) => {
  const caller = c.get("caller");
  const { userId } = c.req.valid("param");
  const db = createDb(c.env.DB);
  const { row, target } = await usersDb.reactivateUser(db, { orgId: caller.orgId, userId, callerRole: caller.role });
  if (!row) throw explainRefusal(caller, target, new ApiError("bad_request", MESSAGES.notDeleted), { includeDeleted: true });
  return c.json({ success: true as const, data: toOrgUser(row), message: MESSAGES.userActivated }, 200);
});

allowOnly(users, ACTIVATE, ["POST"]);
