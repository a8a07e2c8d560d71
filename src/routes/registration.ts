import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { hashPassword } from "../auth/password";
import { INVITATIONS_PER_WINDOW } from "../db/invitations";
import * as registrationDb from "../db/registration";
import type { AppEnv, Bindings } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { enqueueInvitation } from "../invitations/enqueue";
import { tooManyInvitations } from "../invitations/limit";
import { jsonBody } from "../middleware/json-body";
import { allowOnly } from "../middleware/method-not-allowed";
import { limitCredentialsByClient } from "../middleware/rate-limit";
import { refuseEmptyParameterNames, validationHook } from "../middleware/validate";
import { errorResponse, noQuery } from "../schemas/common";
import {
  actionResponse,
  bodyErrorResponses,
  invitationsLimited,
  jsonBodyOf,
  jsonContent,
  methodNotAllowed,
  rateLimited,
} from "../schemas/envelope";
import { REGISTER_EXAMPLE, RegisterBody, RegisterResponse, VerificationIdParams } from "../schemas/registration";
import { toSignedInUser } from "../schemas/sessions";

// Self-registration: a fresh deployment's first organization, and every one after it, unless the
// deployment provisions organizations itself (OPEN_REGISTRATION=false).

export const registration = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const REGISTER = "/user/register";
const RESEND = "/user/resend-verification/{verificationTokenId}";

const registrationOpen = (env: Bindings) => env.OPEN_REGISTRATION?.trim().toLowerCase() !== "false";

// Before the body is read: a closed registration answers the same whatever was sent.
const refuseWhenClosed = createMiddleware<AppEnv>(async (c, next) => {
  if (!registrationOpen(c.env)) throw new ApiError("forbidden", MESSAGES.registrationClosed);
  await next();
});

const closed = errorResponse("Registration is closed (OPEN_REGISTRATION=false)", "forbidden", MESSAGES.registrationClosed);
const common = {
  429: rateLimited,
  500: errorResponse("Unexpected failure; nothing was written", "internal_error", MESSAGES.internal),
};

const registerRoute = createRoute({
  method: "post",
  operationId: "register",
  path: REGISTER,
  tags: ["Sessions"],
  summary: "Register a new organization and its first owner",
  description:
    "No authentication; limited per client address. Creates the organization and its OWNER (address not yet verified) in one batch and sends the verification email; the owner signs in after verifying.",
  security: [],
  middleware: [limitCredentialsByClient, refuseWhenClosed, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(RegisterBody) },
  responses: {
    201: jsonContent(RegisterResponse, "Registered; the verification email is on its way", REGISTER_EXAMPLE),
    400: errorResponse("Invalid input", "validation_failed", "Validation failed: companyName: Required"),
    403: closed,
    405: methodNotAllowed(["POST"]),
    409: errorResponse("A verified account holds the address", "conflict", MESSAGES.emailTaken),
    429: invitationsLimited(
      `Too many requests from this client address, or ${INVITATIONS_PER_WINDOW} verification emails to this address in the past hour`,
    ),
    500: common[500],
    ...bodyErrorResponses,
  },
});

registration.openapi(registerRoute, async (c) => {
  const body = c.req.valid("json");
  const now = new Date();
  const outcome = await registrationDb.registerOrganization(
    c.var.db,
    {
      organization: {
        name: body.companyName,
        address1: body.address1 ?? null,
        address2: body.address2 ?? null,
        city: body.city ?? null,
        zipcode: body.zipcode ?? null,
        phone: body.phone ?? null,
        state: body.state ?? null,
        country: body.country ?? null,
        website: body.companyWebsite ?? body.website ?? null,
        isBusiness: body.isBusiness,
      },
      owner: {
        email: body.email,
        firstName: body.firstName,
        lastName: body.lastName,
        passwordHash: await hashPassword(body.password),
      },
    },
    now,
  );
  const registered = outcome.registered;
  if (!registered) {
    if (outcome.recent.count >= INVITATIONS_PER_WINDOW) throw tooManyInvitations(outcome.recent.oldest, now);
    throw new ApiError("conflict", MESSAGES.emailTaken);
  }
  await enqueueInvitation(c.env, registered.invitationId, c.get("requestId"));
  return c.json(
    {
      success: true as const,
      message: MESSAGES.registered,
      verificationTokenId: registered.invitationId,
      user: toSignedInUser(registered.user),
    },
    201,
  );
});

allowOnly(registration, REGISTER, ["POST"]);

const resendRoute = createRoute({
  method: "post",
  operationId: "resendVerification",
  path: RESEND,
  tags: ["Verification"],
  summary: "Send the verification email of a registration again",
  description: `No authentication; limited per client address. For the \`verificationTokenId\` registration answered: a new link, every earlier one void. At most ${INVITATIONS_PER_WINDOW} per user per hour, the first included. Takes no body.`,
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames],
  request: { params: VerificationIdParams, query: noQuery },
  responses: {
    200: actionResponse("Queued for sending", MESSAGES.verificationSent),
    400: errorResponse(
      "Malformed id, or the address is already verified (`already_verified`)",
      "already_verified",
      MESSAGES.alreadyVerified,
    ),
    404: errorResponse("No such verification, or its user is gone", "not_found", MESSAGES.verificationNotFound),
    405: methodNotAllowed(["POST"]),
    409: errorResponse("A verified account holds the address", "conflict", MESSAGES.emailTaken),
    429: invitationsLimited(
      "Too many requests from this client address, or too many verification emails for this user or to this address in the past hour",
    ),
    500: common[500],
  },
});

registration.openapi(resendRoute, async (c) => {
  const { verificationTokenId } = c.req.valid("param");
  const now = new Date();
  const outcome = await registrationDb.resendVerification(c.var.db, verificationTokenId, now);
  if (!outcome.invitationId) {
    const user = outcome.user;
    if (!user || user.deletedAt !== null) throw new ApiError("not_found", MESSAGES.verificationNotFound);
    if (user.validated) throw new ApiError("already_verified", MESSAGES.alreadyVerified);
    if (outcome.held) throw new ApiError("conflict", MESSAGES.emailTaken);
    for (const recent of [outcome.recent, outcome.addressRecent]) {
      if (recent.count >= INVITATIONS_PER_WINDOW) throw tooManyInvitations(recent.oldest, now);
    }
    // Its organization was deleted.
    throw new ApiError("not_found", MESSAGES.verificationNotFound);
  }
  await enqueueInvitation(c.env, outcome.invitationId, c.get("requestId"));
  return c.json({ success: true as const, message: MESSAGES.verificationSent }, 200);
});

allowOnly(registration, RESEND, ["POST"]);
