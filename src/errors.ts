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
  precondition_failed: 412,
  idempotency_key_reused: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  precondition_required: 428,
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
  auditLogRole: "Insufficient permissions: only OWNER and ADMINISTRATOR roles can read the audit log",
  idempotencyKeyReused: "This Idempotency-Key was used for a different request; use a new key for a new request",
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
  preconditionFailed: "The resource has changed since the ETag in If-Match was read: read it again, then retry",
  preconditionRequired: "This deployment requires If-Match on updates: send the ETag of the version you read",
  ownAccountOnly: "You can only update your own account; other users are under /organization/users",
} as const;

/**
 * One refused field: `path` as the envelope names it (`a.b`), `pointer` its RFC 6901 JSON Pointer
 * (`/a/b`) within the part of the request named by `in`, as problem details list it.
 */
export type FieldProblem = { path: string; message: string; pointer: string; in: "body" | "query" | "path" | "header" };

/** The problem of one top-level field or parameter, named by `name`. */
export function fieldProblem(part: FieldProblem["in"], name: string, message: string): FieldProblem {
  return { path: name, message, pointer: `/${name}`, in: part };
}

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

function errorBody(code: ErrorCode, message: string, requestId: string, details?: FieldProblem[]) {
  return {
    success: false as const,
    data: null,
    message,
    code,
    requestId,
    ...(details ? { details: details.slice(0, MAX_DETAILS).map(({ path, message }) => ({ path, message })) } : {}),
  };
}

export const PROBLEM_TYPE = "application/problem+json";

/** The reason phrases of RFC 9110 §15, the `title` of a problem whose type is `about:blank`. */
export const STATUS_TITLES: Record<(typeof ERROR_STATUS)[ErrorCode], string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * The same error as RFC 9457 problem details. The type is `about:blank` (the status says what
 * kind of problem it is) and `code` refines it, as in the envelope; `instance` is the request id.
 */
function problemBody(error: ApiError, requestId: string) {
  return {
    type: "about:blank",
    title: STATUS_TITLES[error.status as keyof typeof STATUS_TITLES],
    status: error.status,
    detail: error.message,
    instance: requestId,
    code: error.code,
    ...(error.details
      ? {
          errors: error.details
            .slice(0, MAX_DETAILS)
            .map(({ message, pointer, in: part }) => ({ detail: message, pointer, in: part })),
        }
      : {}),
  };
}

// Whether the client asked for problem details: its Accept ranks application/problem+json above
// application/json, by q, then by specificity (the `application/*` range ranks below an exact
// type), then by the header's order (RFC 9110 §12.5.1); the any-type range names neither. Written
// out rather than hono's `accepts` helper, which costs 1 KB of the bundle's gzip for this one
// comparison; test/http/problem-details.test.ts holds it to these rules.
function wantsProblem(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let best: { problem: boolean; q: number; exact: boolean } | undefined;
  for (const part of accept.split(",")) {
    const [range = "", ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const problem = range === PROBLEM_TYPE;
    if (!problem && range !== "application/json" && range !== "application/*") continue;
    const weight = params.find((param) => param.startsWith("q="));
    const q = weight === undefined ? 1 : Number(weight.slice(2));
    if (!(q > 0)) continue;
    const exact = range !== "application/*";
    // Strictly better only: at equal rank, the entry listed first stays.
    if (!best || q > best.q || (q === best.q && exact && !best.exact)) best = { problem, q, exact };
  }
  return best?.problem ?? false;
}

/** The one error renderer: the Flashback envelope, or problem details for a client that asks for them. */
function render(c: Context<AppEnv>, error: ApiError): Response {
  // RateLimit-Policy is a list to which each limit that counted the request adds its own policy.
  for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value, { append: name === "RateLimit-Policy" });
  c.set("errorCode", error.code);
  // The body's form follows Accept, so a cache must not hand one client's form to another.
  c.header("Vary", "Accept", { append: true });
  // Set by the request log middleware, which runs first; a fresh id should it ever have not.
  const requestId = c.get("requestId") ?? crypto.randomUUID();
  if (wantsProblem(c.req.header("Accept"))) {
    return c.body(JSON.stringify(problemBody(error, requestId)), error.status, { "Content-Type": PROBLEM_TYPE });
  }
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
