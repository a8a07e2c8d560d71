import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { expectContract } from "./contract";

export type ApiResponse = { status: number; headers: Headers; body: any; text: string };

export type CallOptions = {
  token?: string;
  /** A value to send as JSON, or a raw string sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
};

/** Calls the worker through its real fetch handler, as a client would. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
  const headers = new Headers(options.headers);
  if (options.token !== undefined && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${options.token}`);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  return send(new Request(`https://api.test${path}`, { method, headers, body }));
}

/**
 * The worker's fetch handler, with every response checked against the committed openapi.json
 * (see contract.ts): one the document does not describe fails. For clients that need a Response.
 */
export async function checkedFetch(request: Request): Promise<Response> {
  const { method, url } = request;
  const response = await exports.default.fetch(request);
  expectContract(method, url, await readResponse(response.clone()));
  return response;
}

/** Sends a hand-built request to the worker's fetch handler; the response is checked as in `checkedFetch`. */
export async function send(request: Request): Promise<ApiResponse> {
  return readResponse(await checkedFetch(request));
}

/** Reads a response once: status, headers, raw text and the parsed JSON (null when not JSON). */
export async function readResponse(response: Response): Promise<ApiResponse> {
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/**
 * The body's text with its request id blanked: the id differs on every answer, so this is what two
 * answers that must be byte-identical (a foreign id and an unknown one, say) are compared by.
 */
export function answerText(response: ApiResponse): string {
  return response.text.replace(/"requestId":"[^"]*"/, '"requestId":""');
}

/** Asserts the error envelope: status, code, message and no internals in the body. */
export function expectError(response: ApiResponse, status: number, code: string, message?: string) {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(response.body).toMatchObject({ success: false, data: null, code, requestId: response.headers.get("X-Request-Id") });
  expect(typeof response.body.message).toBe("string");
  if (message !== undefined) expect(response.body.message).toBe(message);
  expect(response.text).not.toMatch(/SQLITE|D1_ERROR|sqlite|at .*\(.*:\d+:\d+\)|Drizzle|Failed query/);
}

/** The OrgUser fields the contract lists, sorted: written out here, not taken from src. */
export const ORG_USER_FIELDS = [
  "id",
  "email",
  "name",
  "lastName",
  "orgId",
  "orgRole",
  "validated",
  "deletedAt",
  "orgRoleDescription",
  "orgRoles",
].sort();

/** The Organization fields the contract lists, sorted: written out here, not taken from src. */
export const ORGANIZATION_FIELDS = [
  "id",
  "name",
  "domain",
  "address1",
  "address2",
  "city",
  "zipcode",
  "phone",
  "state",
  "country",
  "deletedAt",
  "reposDisabled",
  "website",
  "is_business",
  "mfaEnforced",
].sort();

/**
 * Flashback's client enum `OrgRoles` (flashbacknetwork/FlashbackClient, src/api/types/platform/roles.ts),
 * written out here, not taken from src: `OrgRoles[user.orgRole]` must equal `orgRoleDescription`.
 */
export const FLASHBACK_ORG_ROLES: Record<number, string> = {
  0x00: "USER",
  0x01: "BILLING",
  0x02: "WORKSPACES",
  0xfe: "ADMINISTRATORS",
  0xff: "OWNER",
};
