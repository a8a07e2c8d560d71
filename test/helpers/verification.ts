import { MESSAGES } from "../../src/errors";
import { call, expectError, type ApiResponse } from "./api";

// POST /user/pre-verify-email and /user/verify-email: the link's token is the only credential;
// every token that cannot verify gets one answer and writes nothing.

export const preVerify = (token: unknown) => call("POST", "/user/pre-verify-email", { body: { token } });
export const verify = (body: Record<string, unknown>) => call("POST", "/user/verify-email", { body });

/** The one answer to a verification token that is unknown, used, expired or tampered with. */
export function expectInvalidToken(res: ApiResponse) {
  expectError(res, 400, "invalid_token", MESSAGES.invalidVerificationToken);
}
