import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";

// RFC 9457: a client whose Accept prefers application/problem+json gets every error as problem
// details; every other client keeps the Flashback envelope. Both come from the one renderer.

const PROBLEM = { Accept: "application/problem+json" };

function expectProblem(res: ApiResponse, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  expect(res.headers.get("Vary")).toMatch(/\bAccept\b/);
  expect(res.body).toMatchObject({ type: "about:blank", status, code, instance: res.headers.get("X-Request-Id") });
  expect(typeof res.body.title).toBe("string");
  expect(typeof res.body.detail).toBe("string");
  expect(res.body).not.toHaveProperty("success");
}

describe("problem details", () => {
  it("answers an error as problem details when Accept asks for them, with the envelope's message as detail", async () => {
    const org = await createOrg();
    const asked = await call("GET", `/organization/${crypto.randomUUID()}`, { token: org.users.USER.token, headers: PROBLEM });
    expectProblem(asked, 403, "forbidden");
    expect(asked.body.title).toBe("Forbidden");

    const plain = await call("GET", `/organization/${crypto.randomUUID()}`, { token: org.users.USER.token });
    expectError(plain, 403, "forbidden", asked.body.detail);
    expect(plain.headers.get("Vary")).toMatch(/\bAccept\b/);
  });

  it("lists each refused field with its JSON Pointer and the part of the request it is in", async () => {
    const org = await createOrg();
    const res = await call("POST", "/organization/users", {
      token: org.users.OWNER.token,
      headers: PROBLEM,
      body: { email: "not-an-address", name: "A", lastName: "B", orgRole: 0, "a/b~c": 1 },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { detail: "Unknown field", pointer: "/a~1b~0c", in: "body" },
        expect.objectContaining({ pointer: "/email", in: "body" }),
      ]),
    );
    const query = await call("GET", "/organization/users?limit=0&bogus=1", { token: org.users.OWNER.token, headers: PROBLEM });
    expectProblem(query, 400, "validation_failed");
    expect(query.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: "/limit", in: "query" }),
        { detail: "Unknown field", pointer: "/bogus", in: "query" },
      ]),
    );
    const path = await call("GET", "/organization/users/not-a-uuid", { token: org.users.OWNER.token, headers: PROBLEM });
    expectProblem(path, 400, "bad_request");
    expect(path.body.errors).toEqual([expect.objectContaining({ pointer: "/userId", in: "path" })]);
  });

  it("renders the framework's own refusals, unknown routes and limits the same way", async () => {
    const org = await createOrg();
    expectProblem(await call("GET", "/organization/users", { headers: PROBLEM }), 401, "unauthorized");
    expectProblem(await call("GET", "/nowhere", { headers: PROBLEM }), 404, "not_found");
    expectProblem(
      await call("PATCH", "/organization/users", { token: org.users.OWNER.token, headers: PROBLEM }),
      405,
      "method_not_allowed",
    );
    const raw = await call("POST", "/organization/users", {
      token: org.users.OWNER.token,
      headers: { ...PROBLEM, "Content-Type": "text/plain" },
      body: "x",
    });
    expectProblem(raw, 415, "unsupported_media_type");
    const malformed = await call("POST", "/organization/users", { token: org.users.OWNER.token, headers: PROBLEM, body: "{" });
    expectProblem(malformed, 400, "bad_request");
    const limited = { RATE_LIMITER: env.TIGHT_RATE_LIMITER };
    const init = { token: org.users.OWNER.token, headers: PROBLEM };
    await callWith(limited, "GET", "/organization/users", init);
    const over = await callWith(limited, "GET", "/organization/users", init);
    expectProblem(over, 429, "rate_limited");
    expect(over.headers.get("Retry-After")).toMatch(/^\d+$/);
  });

  it.each([
    ["no Accept", undefined],
    ["application/json", "application/json"],
    ["any type", "*/*"],
    ["application/*", "application/*"],
    ["problem details below JSON", "application/problem+json;q=0.5, application/json"],
    ["JSON listed first at the same weight", "application/json, application/problem+json"],
    ["problem details refused", "application/problem+json;q=0"],
    ["problem details below a range of JSON", "application/problem+json;q=0.8, application/*;q=0.9"],
    ["a malformed weight", "application/problem+json;q=abc"],
  ])("keeps the envelope for %s", async (_, accept) => {
    const res = await call("GET", "/organization/users", accept === undefined ? {} : { headers: { Accept: accept } });
    expectError(res, 401, "unauthorized");
  });

  it.each([
    ["problem details above JSON", "application/json;q=0.9, application/problem+json"],
    ["problem details listed first at the same weight", "application/problem+json, application/json"],
    ["problem details beside a wildcard", "application/problem+json, */*;q=0.1"],
    ["problem details beside a range of JSON at the same weight", "application/*, application/problem+json"],
    ["any case and spacing", "Application/Problem+JSON ; q=0.9 , application/json ; q=0.8"],
  ])("answers problem details for %s", async (_, accept) => {
    expectProblem(await call("GET", "/organization/users", { headers: { Accept: accept } }), 401, "unauthorized");
  });

  it("leaves successes as they are", async () => {
    const org = await createOrg();
    const res = await call("GET", "/organization/users", { token: org.users.OWNER.token, headers: PROBLEM });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect(res.body.success).toBe(true);
  });
});
