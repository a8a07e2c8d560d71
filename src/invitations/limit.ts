import { INVITATIONS_PER_WINDOW, RESEND_WINDOW_MS } from "../db/invitations";
import { ApiError, MESSAGES } from "../errors";

/**
 * 429 for the hourly allowance of invitations: retry once the oldest of the window (`oldest`)
 * leaves it. The allowance is a quota policy of its own, announced beside the request limits.
 */
export function tooManyInvitations(oldest: string | null, now: Date): ApiError {
  const from = Date.parse(oldest ?? now.toISOString());
  const wait = Math.max(1, Math.ceil((from + RESEND_WINDOW_MS - now.getTime()) / 1000));
  return new ApiError("rate_limited", MESSAGES.tooManyInvitations, undefined, {
    "Retry-After": String(wait),
    "RateLimit-Policy": `"invitations";q=${INVITATIONS_PER_WINDOW};w=${RESEND_WINDOW_MS / 1000}`,
    RateLimit: `"invitations";r=0;t=${wait}`,
  });
}
