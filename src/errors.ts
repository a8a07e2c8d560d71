import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./env";
import { summarizeError } from "./log";

export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  invalid_token: 400,
  already_verified: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  email_not_verified: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  last_owner: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  service_unavailable: 503,
  internal_error: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

// Every client-visible message lives here; Flashback's exact strings are kept verbatim.
export const MESSAGES = {
  unauthorized: "Authentication required",
  invalidToken: "Invalid or expired token",
  notFound: "Not found",
  methodNotAllowed: "Method not allowed",
  internal: "Internal server error",
  rateLimited: "Too many requests; retry after the period in Retry-After",
  serviceUnavailable: "Service temporarily unavailable; retry after the period in Retry-After",
  validation: "Validation failed",
  malformedJson: "Malformed JSON in request body",
  bodyNotObject: "Request body must be a JSON object",
  payloadTooLarge: "Request body exceeds 65536 bytes",
  badContentLength: "Invalid Content-Length header",
  unsupportedMediaType: "Content-Type must be application/json",
  invalidRole: "Invalid role combination",
  noFields: "No valid fields to update",
  malformedId: "Malformed id: expected a UUID",
  invalidCursor: "Invalid cursor",
  viewOrgDenied: "Access denied: you can only view your own organization",
  modifyOrgDenied: "Access denied: you can only modify your own organization",
  modifyOrgRole: "Insufficient permissions: only OWNER and ADMINISTRATOR roles can modify organization",
  orgNotFound: "Organization not found",
  viewUsersRole: "Insufficient permissions to view users",
  createUsersRole: "Insufficient permissions to create users",
  updateUsersRole: "Insufficient permissions to update users",
  deleteUsersRole: "Insufficient permissions to delete users",
  activateUsersRole: "Insufficient permissions to activate users",
  userNotFound: "User not found",
  emailTaken: "A user with this email already exists",
  emailTakenDeleted: "A deactivated user with this email already exists; reactivate that user instead",
  roleAboveOwn: "Insufficient permissions: you cannot assign a role above your own",
  targetAboveOwn: "Insufficient permissions: you cannot modify a user with a higher role than your own",
  lastOwner: "An organization must keep at least one owner",
  deleteSelf: "Cannot delete yourself",
  notDeleted: "User is not deleted",
  userCreated: "User created successfully",
  userCreatedInvited: "User created successfully. Verification email sent.",
  userUpdated: "User updated successfully",
  userDeleted: "User deleted successfully",
  userActivated: "User activated successfully",
  orgUpdated: "Organization updated successfully",
  emailNotVerified: "Email address not verified: follow the link in the verification email first",
  resendUsersRole: "Insufficient permissions to resend invitations",
  alreadyVerified: "User has already verified their email address",
  invitationSent: "Invitation sent",
  tooManyInvitations: "Too many invitations for this user; retry after the period in Retry-After",
  invalidVerificationToken: "Invalid or expired verification token",
  verificationTokenValid: "Verification token is valid",
  emailVerified: "Email verified successfully",
  passwordRequired: "A password is required to activate this account",
  invalidCredentials: "Invalid email or password",
  invalidRefreshToken: "Invalid or expired refresh token",
  signInDisabled: "Sign-in is not offered here: tokens come from the identity provider",
  signedOut: "Signed out",
  sessionNotFound: "Session not found",
  sessionEnded: "Session ended",
  membersOnly: "Every member may",
  registrationPasswordRequired: "Give the password chosen at registration to confirm this address",
  registrationClosed: "Registration is closed: organizations are provisioned by the operator",
  registered: "Registration successful. Verification email sent.",
  verificationSent: "Verification email sent",
  verificationNotFound: "Verification not found",
  ownAccountOnly: "You can only update your own account; other users are under /organization/users",
} as const;

export type FieldProblem = { path: string; message: string };

/** At most this many field problems are listed, so a body of many bad fields gets a bounded answer. */
export const MAX_DETAILS = 50;

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }
}

/** 503 with the seconds after which a retry can succeed: a dependency (D1, the key set) is not there yet. */
export function unavailableFor(seconds: number): ApiError {
  return new ApiError("service_unavailable", MESSAGES.serviceUnavailable, undefined, { "Retry-After": String(seconds) });
}

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: FieldProblem[]) {
  return {
    success: false as const,
    data: null,
    message,
    code,
    requestId,
    ...(details ? { details: details.slice(0, MAX_DETAILS) } : {}),
  };
}

function render(c: Context<AppEnv>, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
  c.set("errorCode", error.code);
  // Set by the request log middleware, which runs first; a fresh id should it ever have not.
  const requestId = c.get("requestId") ?? crypto.randomUUID();
  return c.json(errorBody(error.code, error.message, requestId, error.details), error.status);
}

// Hono's own failures (body parsing, body limit) arrive as HTTPException with plain text;
// they are re-expressed in the envelope here.
function fromHttpException(error: HTTPException): ApiError {
  switch (error.status) {
    case 400:
      return new ApiError("bad_request", /JSON/i.test(error.message) ? MESSAGES.malformedJson : error.message || "Bad request");
    case 401:
      return new ApiError("unauthorized", MESSAGES.unauthorized, undefined, { "WWW-Authenticate": "Bearer" });
    case 413:
      return new ApiError("payload_too_large", MESSAGES.payloadTooLarge);
    case 415:
      return new ApiError("unsupported_media_type", MESSAGES.unsupportedMediaType);
    default:
      return new ApiError("internal_error", MESSAGES.internal);
  }
}

export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ApiError) return render(c, error);
  if (error instanceof HTTPException) return render(c, fromHttpException(error));
  // The request's log line carries the cause for operators, without its bound values; the client
  // sees a fixed sentence, never driver text.
  c.set("failure", summarizeError(error));
  return render(c, new ApiError("internal_error", MESSAGES.internal));
}

export function onNotFound(c: Context<AppEnv>): Response {
  return render(c, new ApiError("not_found", MESSAGES.notFound));
}
