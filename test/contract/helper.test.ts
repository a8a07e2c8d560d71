import { describe, expect, it } from "vitest";
import document from "../../openapi.json";
import { expectContract, templateOf } from "../helpers/contract";

// The contract check itself, on hand-made responses: what it accepts and what it refuses.

const JSON_TYPE = "application/json; charset=utf-8";
const PROBLEM_TYPE = "application/problem+json";

const REQUEST_ID = "0196f1b2-7c3a-4d4e-8f10-2a3b4c5d6e7f";

function response(status: number, body: unknown, contentType: string | null = JSON_TYPE, extra: Record<string, string> = {}) {
  // Every error answer says that its form follows Accept; a 200 that shows a row carries its ETag
  // (a header the document does not list for an answer is not checked).
  const standard: Record<string, string> = status >= 400 ? { Vary: "Accept" } : status === 200 ? { ETag: '"1"' } : {};
  const headers = new Headers({ "X-Request-Id": REQUEST_ID, ...standard, ...extra });
  if (contentType) headers.set("Content-Type", contentType);
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status, headers, body: parsed, text };
}

const USER = {
  id: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f",
  email: "ada@acme.example",
  name: "Ada",
  lastName: "Lovelace",
  orgId: "0196f1b2-0000-7000-8000-000000000001",
  orgRole: 2,
  validated: true,
  deletedAt: null,
  orgRoleDescription: "WORKSPACES",
  orgRoles: [0, 1, 2],
};
const ERROR = { success: false, data: null, message: "Not found", code: "not_found", requestId: REQUEST_ID };
const ALLOW = { Allow: "GET, POST, HEAD" };
const ITEM = `/organization/users/${USER.id}`;

describe("the contract check", () => {
  it("matches a path to its template, literal segments first", () => {
    expect(templateOf("/organization/users")).toBe("/organization/users");
    expect(templateOf(`/organization/${USER.orgId}`)).toBe("/organization/{orgId}");
    expect(templateOf(ITEM)).toBe("/organization/users/{userId}");
    expect(templateOf(`${ITEM}/activate`)).toBe("/organization/users/{userId}/activate");
    expect(templateOf("/organization/users/")).toBeUndefined();
    expect(templateOf("/openapi.json")).toBeUndefined();
  });

  it("accepts a documented answer, from a path or an absolute URL", () => {
    expectContract("GET", ITEM, response(200, USER));
    expectContract("GET", `https://api.test${ITEM}?includeDeleted=true`, response(200, USER));
    expectContract(
      "GET",
      "/organization/users?limit=1",
      response(200, { success: true, data: [USER], total: 1, nextCursor: null }),
    );
  });

  it("refuses an undocumented status", () => {
    expect(() => expectContract("GET", "/organization/users", response(418, ERROR))).toThrow(
      "undocumented status 418 for GET /organization/users",
    );
    // 404 is documented on the item, not on the collection.
    expect(() => expectContract("GET", "/organization/users", response(404, ERROR))).toThrow(/undocumented status 404/);
  });

  it("refuses a renamed, missing or mistyped field", () => {
    const { lastName, ...rest } = USER;
    expect(() => expectContract("GET", ITEM, response(200, { ...rest, surname: lastName }))).toThrow(
      /does not match the document's schema[\s\S]*lastName/,
    );
    expect(() => expectContract("GET", ITEM, response(200, { ...USER, orgRole: "2" }))).toThrow(/\/orgRole/);
    expect(() =>
      expectContract("GET", "/organization/users", response(200, { success: true, data: [{ ...USER, validated: 1 }], total: 1 })),
    ).toThrow(/nextCursor|validated/);
    expect(() => expectContract("DELETE", ITEM, response(404, { ...ERROR, code: "gone" }))).toThrow(/\/code/);
  });

  it("requires the documented JSON Content-Type and a JSON body", () => {
    expect(() => expectContract("GET", ITEM, response(200, USER, "text/plain"))).toThrow(/Content-Type/);
    expect(() => expectContract("GET", ITEM, response(200, USER, null))).toThrow(/Content-Type/);
    expect(() => expectContract("GET", ITEM, response(500, "Internal Server Error"))).toThrow(/not JSON/);
  });

  it("checks problem details against the Problem schema, by their media type", () => {
    const problem = {
      type: "about:blank",
      title: "Not Found",
      status: 404,
      detail: "Not found",
      instance: REQUEST_ID,
      code: "not_found",
    };
    expectContract("DELETE", ITEM, response(404, problem, PROBLEM_TYPE));
    expectContract("GET", "/nothing-here", response(404, problem, PROBLEM_TYPE));
    expect(() => expectContract("DELETE", ITEM, response(404, { ...problem, status: "404" }, PROBLEM_TYPE))).toThrow(/\/status/);
    // The envelope is not problem details, nor the other way round.
    expect(() => expectContract("DELETE", ITEM, response(404, ERROR, PROBLEM_TYPE))).toThrow(/does not match/);
    expect(() => expectContract("DELETE", ITEM, response(404, problem))).toThrow(/does not match/);
    expect(() => expectContract("GET", "/nothing-here", response(404, ERROR, PROBLEM_TYPE))).toThrow(/does not match/);
  });

  it("checks only the Error envelope of 404 and 405 outside the operations", () => {
    expectContract("GET", "/nothing-here", response(404, ERROR));
    expectContract("GET", "/openapi.json", response(200, { openapi: "3.1.0" }));
    expectContract("GET", "/docs", response(200, "<!doctype html>", "text/html"));
    expectContract("PATCH", "/organization/users", response(405, { ...ERROR, code: "method_not_allowed" }, JSON_TYPE, ALLOW));
    expect(() => expectContract("GET", "/nothing-here", response(404, "Not Found", "text/plain"))).toThrow(/Content-Type/);
    expect(() => expectContract("PATCH", "/organization/users", response(405, { error: "nope" }, JSON_TYPE, ALLOW))).toThrow(
      /does not match/,
    );
    expect(() => expectContract("PATCH", "/organization/users", response(200, {}))).toThrow(/not a documented operation/);
  });

  it("requires X-Request-Id on every answer, and each documented header within its schema", () => {
    const bare = response(404, ERROR);
    bare.headers.delete("X-Request-Id");
    expect(() => expectContract("GET", "/nothing-here", bare)).toThrow(/X-Request-Id/);
    const unauthorized = { ...ERROR, message: "Authentication required", code: "unauthorized" };
    expect(() => expectContract("GET", ITEM, response(401, unauthorized))).toThrow(/WWW-Authenticate is missing/);
    expectContract("GET", ITEM, response(401, unauthorized, JSON_TYPE, { "WWW-Authenticate": "Bearer" }));
    const limited = { ...ERROR, message: "Too many requests", code: "rate_limited" };
    expect(() => expectContract("GET", ITEM, response(429, limited, JSON_TYPE, { "Retry-After": "soon" }))).toThrow(
      /Retry-After.*not an integer/,
    );
    expect(() => expectContract("GET", ITEM, response(429, limited, JSON_TYPE, { "Retry-After": "0" }))).toThrow(/below 1/);
    expect(() => expectContract("PATCH", "/organization/users", response(405, { ...ERROR, code: "method_not_allowed" }))).toThrow(
      /Allow is missing/,
    );
  });

  it("checks a HEAD answer's status against the GET operation, without a body", () => {
    expectContract("HEAD", "/organization/users", response(200, undefined));
    expect(() => expectContract("HEAD", "/organization/users", response(418, undefined))).toThrow(/undocumented status 418/);
  });
});

describe("the document's own examples", () => {
  type Documented = {
    content?: Record<string, { example?: unknown }>;
    headers?: Record<string, { required?: boolean; schema?: { type?: string; example?: unknown } }>;
  };
  const paths = (document as { paths: Record<string, Record<string, { responses: Record<string, Documented> }>> }).paths;
  // A value for each required header: its example, or the least its schema allows.
  const headersOf = (documented: Documented) =>
    Object.fromEntries(
      Object.entries(documented.headers ?? {})
        .filter(([, header]) => header.required)
        .map(([name, header]) => [name, String(header.schema?.example ?? (header.schema?.type === "integer" ? 1 : "x"))]),
    );
  // One case per documented media type of each answer; an answer without a body (304) is one case with none.
  const cases = Object.entries(paths).flatMap(([path, item]) =>
    Object.entries(item).flatMap(([method, operation]) =>
      Object.entries(operation.responses).flatMap(([status, documented]) => {
        const base = {
          method: method.toUpperCase(),
          path: path.replace(/\{\w+\}/g, "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f"),
          status: Number(status),
          headers: headersOf(documented),
        };
        const types: [string, { example?: unknown }][] = Object.entries(documented.content ?? {});
        if (types.length === 0)
          return [
            { ...base, name: `${method.toUpperCase()} ${path} ${status}`, type: null as string | null, example: "" as unknown },
          ];
        return types.map(([type, media]) => ({
          ...base,
          name: `${method.toUpperCase()} ${path} ${status} ${type}`,
          type: type === "application/json" ? JSON_TYPE : type,
          example: media.example,
        }));
      }),
    ),
  );

  it.each(cases)("$name has an example that satisfies its own schema", ({ method, path, status, type, example, headers }) => {
    expect(example).toBeDefined();
    expectContract(method, path, response(status, type === null ? undefined : example, type, headers));
  });
});
