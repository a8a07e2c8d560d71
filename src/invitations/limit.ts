import { RESEND_WINDOW_MS } from "../db/invitations";
import { ApiError, MESSAGES } from "../errors";

/** 429 for the hourly allowance of invitations: retry once the oldest of the window (`oldest`) leaves it. */
export function tooManyInvitations(oldest: string | null, now: Date): ApiError {
  const from = Date.parse(oldest ?? now.toISOString());
  const wait = Math.max(1, Math.ceil((from + RESEND_WINDOW_MS - now.getTime()) / 1000));
  return new ApiError("rate_limited", MESSAGES.tooManyInvitations, undefined, { "Retry-After": String(wait) });
}
