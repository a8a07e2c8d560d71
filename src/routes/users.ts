import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import * as z from "../lib/zod";
import { hashPassword } from "../auth/password";
import { isUniqueViolation } from "../db/constraint";
import * as invitationsDb from "../db/invitations";
import * as usersDb from "../db/users";
import type { AppEnv } from "../env";
import { ApiError, fieldProblem, MESSAGES } from "../errors";
import { decodeCursor, encodeCursor, nextPageLink } from "../lib/cursor";
import { enqueueInvitation } from "../invitations/enqueue";
import { tooManyInvitations } from "../invitations/limit";
import { jsonBody } from "../middleware/json-body";
import { idempotencyOf, replayOf } from "../middleware/idempotency";
import { ifMatchOf, tagAnswer } from "../middleware/preconditions";
import { allowOnly } from "../middleware/method-not-allowed";
import { admit, operation } from "../middleware/operation";
import { validationHook } from "../middleware/validate";
import {
  errorResponse,
  etagHeader,
  idempotencyHeaders,
  idempotencyResponses,
  idParams,
  ifMatchHeaders,
  ifNoneMatchHeaders,
  noQuery,
  nextLinkHeader,
  notModified,
  preconditionResponses,
  replayedHeader,
  wire,
} from "../schemas/common";
import {
  actionResponse,
  bearer,
  bodyErrorResponses,
  errorResponses,
  invitationsLimited,
  jsonBodyOf,
  jsonContent,
  methodNotAllowed,
  successResponse,
} from "../schemas/envelope";
import {
  CreateUserBody,
  GetUserQuery,
  ListUsersQuery,
  OrgUserSchema,
  toOrgUser,
  UpdateUserBody,
  USER_EXAMPLE,
  UserPageSchema,
  DEFAULT_PAGE_SIZE,
} from "../schemas/users";

export const users = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const LIST_USERS = operation("listUsers");
const CREATE_USER = operation("createUser");
const GET_USER = operation("getUser");
const UPDATE_USER = operation("updateUser");
const DELETE_USER = operation("deleteUser");
const ACTIVATE_USER = operation("activateUser");
const RESEND_INVITATION = operation("resendInvitation");
const COLLECTION = "/organization/users";
const COLLECTION_METHODS = ["GET", "POST"];
const ITEM = "/organization/users/{userId}";
const ITEM_METHODS = ["GET", "PUT", "DELETE"];

/**
 * The 409 of an address taken. The hint only where the caller can act on it: their own
 * organization's soft-deleted user, which can be reactivated. Any other holder gets one answer, so
 * the address reveals nothing about other organizations.
 */
function emailTaken(holder: usersDb.AddressHolder): ApiError {
  return new ApiError("conflict", holder === "deleted" ? MESSAGES.emailTakenDeleted : MESSAGES.emailTaken);
}

const listRoute = createRoute({
  method: "get",
  operationId: "listUsers",
  path: COLLECTION,
  tags: ["Users"],
  summary: "List the users of the caller's organization",
  description: "WORKSPACES or higher. Keyset-paginated by creation time.",
  security: bearer,
  ...LIST_USERS.documented,
  middleware: LIST_USERS.middleware,
  request: { query: ListUsersQuery },
  responses: {
    200: jsonContent(
      UserPageSchema,
      "A page of users",
      { success: true, data: [USER_EXAMPLE], total: 1, nextCursor: null },
      nextLinkHeader("/organization/users?cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiXQ"),
    ),
    ...errorResponses(MESSAGES.viewUsersRole),
    405: methodNotAllowed(COLLECTION_METHODS),
  },
});

users.openapi(listRoute, async (c) => {
  const query = c.req.valid("query");
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (after === null)
    throw new ApiError("bad_request", MESSAGES.invalidCursor, [fieldProblem("query", "cursor", "Not a cursor from this API")]);
  const page = await usersDb.listUsers(
    c.var.db,
    LIST_USERS.policy,
    { caller: c.get("caller") },
    { includeDeleted: query.includeDeleted ?? false, role: query.role, q: query.q },
    { limit: query.limit ?? DEFAULT_PAGE_SIZE, after },
  );
  admit(c, LIST_USERS, page.verdict);
  const nextCursor = page.next && encodeCursor(page.next);
  if (nextCursor) c.header("Link", nextPageLink(c.req.url, nextCursor));
  return c.json(
    {
      success: true as const,
      data: page.items.map(toOrgUser),
      total: page.total,
      nextCursor,
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
  ...CREATE_USER.documented,
  middleware: [...CREATE_USER.middleware, jsonBody],
  request: { query: noQuery, headers: idempotencyHeaders, body: jsonBodyOf(CreateUserBody) },
  responses: {
    201: {
      ...successResponse("Created", OrgUserSchema, { ...USER_EXAMPLE, validated: false }, MESSAGES.userCreatedInvited, {
        Location: wire
          .text(100)
          .openapi({ description: "The new user's path", example: `/organization/users/${USER_EXAMPLE.id}` }),
        ...replayedHeader,
      }),
      // For clients and tools that chain operations: the new id is every user operation's `userId`.
      links: Object.fromEntries(
        ["getUser", "updateUser", "deleteUser", "activateUser"].map((operationId) => [
          operationId,
          { operationId, parameters: { userId: "$response.body#/data/id" } },
        ]),
      ),
    },
    ...errorResponses(MESSAGES.createUsersRole),
    405: methodNotAllowed(COLLECTION_METHODS),
    409: errorResponse(
      "The address is taken: by a user of this organization (deleted or not), or by a verified account of any organization",
      "conflict",
      MESSAGES.emailTaken,
    ),
    ...idempotencyResponses,
    ...bodyErrorResponses,
  },
});

users.openapi(createUserRoute, async (c) => {
  const body = c.req.valid("json");
  const { password, ...compared } = body;
  const idempotency = await idempotencyOf(c, compared);
  // Hashed before the batch that judges the caller: the request's one round trip carries the hash.
  const passwordHash = await hashPassword(password);
  let written;
  try {
    written = await usersDb.insertUser(
      c.var.db,
      CREATE_USER.policy,
      { caller: c.get("caller"), idempotency },
      {
        email: body.email,
        firstName: body.firstName,
        lastName: body.lastName,
        orgRole: body.orgRole,
        passwordHash,
        provider: body.provider || undefined,
        authMethod: body.authMethod,
      },
      body.sendInvite,
    );
  } catch (error) {
    // The batch reads the holder before inserting; a unique violation is a holder it could not see.
    if (!isUniqueViolation(error)) throw error;
    c.set("judged", true);
    throw emailTaken("live");
  }
  admit(c, CREATE_USER, written.verdict);
  const row = replayOf(c, idempotency, written.replay)?.row ?? written.row;
  if (!row) throw emailTaken(written.holder);
  if (written.invitationId) await enqueueInvitation(c.env, written.invitationId, c.get("requestId"));
  c.header("Location", `/organization/users/${row.id}`);
  const message = body.sendInvite ? MESSAGES.userCreatedInvited : MESSAGES.userCreated;
  return c.json({ success: true as const, data: toOrgUser(row), message }, 201);
});

allowOnly(users, COLLECTION, COLLECTION_METHODS);

const getUserRoute = createRoute({
  method: "get",
  operationId: "getUser",
  path: ITEM,
  tags: ["Users"],
  summary: "Get a user",
  description:
    "WORKSPACES or higher. Answered bare (the user object itself, not enveloped and without `success`), as Flashback documents it and its client reads it.",
  security: bearer,
  ...GET_USER.documented,
  middleware: GET_USER.middleware,
  request: { params: idParams, query: GetUserQuery, headers: ifNoneMatchHeaders },
  responses: {
    200: jsonContent(OrgUserSchema, "The user", USER_EXAMPLE, etagHeader),
    304: notModified,
    ...errorResponses(MESSAGES.viewUsersRole),
    405: methodNotAllowed(ITEM_METHODS),
    404: errorResponse("No such user in the caller's organization", "not_found", MESSAGES.userNotFound),
  },
});

users.openapi(getUserRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const { includeDeleted } = c.req.valid("query");
  const read = await usersDb.readUser(c.var.db, GET_USER.policy, {
    caller: c.get("caller"),
    targetId: userId,
    includeDeleted: includeDeleted ?? false,
  });
  admit(c, GET_USER, read.verdict);
  if (!read.row) throw new ApiError("not_found", MESSAGES.userNotFound);
  if (tagAnswer(c, read.row.version)) return c.body(null, 304);
  return c.json(toOrgUser(read.row), 200);
});

const updateUserRoute = createRoute({
  method: "put",
  operationId: "updateUser",
  path: ITEM,
  tags: ["Users"],
  summary: "Update a user's name or role",
  description: "WORKSPACES or higher; ceiling and last-owner rules apply.",
  security: bearer,
  ...UPDATE_USER.documented,
  middleware: [...UPDATE_USER.middleware, jsonBody],
  request: { params: idParams, query: noQuery, headers: ifMatchHeaders, body: jsonBodyOf(UpdateUserBody) },
  responses: {
    200: successResponse("Updated", OrgUserSchema, USER_EXAMPLE, MESSAGES.userUpdated, etagHeader),
    ...preconditionResponses,
    ...errorResponses(MESSAGES.updateUsersRole),
    405: methodNotAllowed(ITEM_METHODS),
    404: errorResponse("No such live user in the caller's organization", "not_found", MESSAGES.userNotFound),
    409: errorResponse("Would leave the organization without an owner", "last_owner", MESSAGES.lastOwner),
    ...bodyErrorResponses,
  },
});

users.openapi(updateUserRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const body = c.req.valid("json");
  const { verdict, row } = await usersDb.updateUser(
    c.var.db,
    UPDATE_USER.policy,
    { caller: c.get("caller"), targetId: userId, ifMatch: ifMatchOf(c) },
    { firstName: body.name, lastName: body.lastName, orgRole: body.orgRole },
  );
  admit(c, UPDATE_USER, verdict);
  if (!row) throw new ApiError("not_found", MESSAGES.userNotFound);
  tagAnswer(c, row.version);
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
  ...DELETE_USER.documented,
  middleware: DELETE_USER.middleware,
  request: { params: idParams, query: noQuery },
  responses: {
    200: successResponse("Deleted", z.null(), null, MESSAGES.userDeleted),
    ...errorResponses(MESSAGES.deleteUsersRole),
    405: methodNotAllowed(ITEM_METHODS),
    404: errorResponse("No such live user in the caller's organization", "not_found", MESSAGES.userNotFound),
    409: errorResponse(
      "Listed as Flashback lists it; not answered here: deleting an owner takes a live owner, so another one remains (the rule is still enforced)",
      "last_owner",
      MESSAGES.lastOwner,
    ),
  },
});

users.openapi(deleteUserRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const { verdict, row } = await usersDb.softDeleteUser(c.var.db, DELETE_USER.policy, {
    caller: c.get("caller"),
    targetId: userId,
  });
  admit(c, DELETE_USER, verdict);
  if (!row) throw new ApiError("not_found", MESSAGES.userNotFound);
  return c.json({ success: true as const, data: null, message: MESSAGES.userDeleted }, 200);
});

allowOnly(users, ITEM, ITEM_METHODS);

const ACTIVATE = "/organization/users/{userId}/activate";
const ACTIVATE_METHODS = ["POST"];

const activateUserRoute = createRoute({
  method: "post",
  operationId: "activateUser",
  path: ACTIVATE,
  tags: ["Users"],
  summary: "Reactivate a soft-deleted user",
  description: "WORKSPACES or higher. Takes no body.",
  security: bearer,
  ...ACTIVATE_USER.documented,
  middleware: ACTIVATE_USER.middleware,
  request: { params: idParams, query: noQuery, headers: idempotencyHeaders },
  responses: {
    200: successResponse("Reactivated", OrgUserSchema, USER_EXAMPLE, MESSAGES.userActivated, replayedHeader),
    ...idempotencyResponses,
    ...errorResponses(MESSAGES.activateUsersRole),
    405: methodNotAllowed(ACTIVATE_METHODS),
    404: errorResponse("No such user in the caller's organization", "not_found", MESSAGES.userNotFound),
  },
});

users.openapi(activateUserRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const idempotency = await idempotencyOf(c);
  const written = await usersDb.reactivateUser(c.var.db, ACTIVATE_USER.policy, {
    caller: c.get("caller"),
    targetId: userId,
    idempotency,
  });
  admit(c, ACTIVATE_USER, written.verdict);
  const row = replayOf(c, idempotency, written.replay)?.row ?? written.row;
  // The one rule left once the verdict allows it: only a deleted user can be reactivated.
  if (!row) throw new ApiError("bad_request", MESSAGES.notDeleted);
  return c.json({ success: true as const, data: toOrgUser(row), message: MESSAGES.userActivated }, 200);
});

allowOnly(users, ACTIVATE, ACTIVATE_METHODS);

const RESEND = "/organization/users/{userId}/resend-invitation";
const RESEND_METHODS = ["POST"];

const resendInvitationRoute = createRoute({
  method: "post",
  operationId: "resendInvitation",
  path: RESEND,
  tags: ["Users"],
  summary: "Send a user a new verification email",
  description: `WORKSPACES or higher, over a user ranked no higher than the caller. Only for a user whose address is not verified; every earlier verification link of theirs stops working. At most ${invitationsDb.INVITATIONS_PER_WINDOW} invitations per user per hour, the first included. Takes no body.`,
  security: bearer,
  ...RESEND_INVITATION.documented,
  middleware: RESEND_INVITATION.middleware,
  request: { params: idParams, query: noQuery, headers: idempotencyHeaders },
  responses: {
    200: actionResponse("Queued for sending", MESSAGES.invitationSent, replayedHeader),
    ...idempotencyResponses,
    ...errorResponses(MESSAGES.resendUsersRole),
    400: errorResponse(
      "Invalid input, or the user's address is already verified (`already_verified`)",
      "already_verified",
      MESSAGES.alreadyVerified,
    ),
    404: errorResponse("No such live user in the caller's organization", "not_found", MESSAGES.userNotFound),
    405: methodNotAllowed(RESEND_METHODS),
    409: errorResponse("A verified account of another organization holds the address", "conflict", MESSAGES.emailTaken),
    429: invitationsLimited("Too many requests from this caller, or too many invitations for this user in the past hour"),
  },
});

users.openapi(resendInvitationRoute, async (c) => {
  const { userId } = c.req.valid("param");
  const idempotency = await idempotencyOf(c);
  const now = idempotency?.now ?? new Date();
  const outcome = await invitationsDb.resendInvitation(
    c.var.db,
    RESEND_INVITATION.policy,
    { caller: c.get("caller"), targetId: userId, idempotency },
    now,
  );
  admit(c, RESEND_INVITATION, outcome.verdict);
  if (replayOf(c, idempotency, outcome.replay)) return c.json({ success: true as const, message: MESSAGES.invitationSent }, 200);
  if (!outcome.invitationId) {
    if (outcome.validated) throw new ApiError("already_verified", MESSAGES.alreadyVerified);
    if (outcome.addressHeld) throw new ApiError("conflict", MESSAGES.emailTaken);
    throw tooManyInvitations(outcome.recent.oldest, now);
  }
  await enqueueInvitation(c.env, outcome.invitationId, c.get("requestId"));
  return c.json({ success: true as const, message: MESSAGES.invitationSent }, 200);
});

allowOnly(users, RESEND, RESEND_METHODS);
