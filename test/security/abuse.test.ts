import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";
import { snapshot } from "../helpers/snapshot";

// Abuse limits: per-caller rate limiting through the Workers rate-limiting binding (Miniflare's
// real implementation; TIGHT_RATE_LIMITER allows one request per key and minute), security
// headers on every answer, and CORS that is off unless configured.

const tight = { RATE_LIMITER: env.TIGHT_RATE_LIMITER };

describe("rate limiting", () => {
  it("is wired to the RATE_LIMITER binding declared in wrangler.toml", () => {
    expect(typeof env.RATE_LIMITER?.limit).toBe("function");
  });

  it("answers 429 in the envelope with Retry-After once a user is over the limit, and writes nothing", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const first = await callWith(tight, "PUT", `/organization/${org.id}`, { token, body: { name: "First" } });
    expect(first.status, first.text).toBe(200);

    const before = await snapshot();
    const second = await callWith(tight, "PUT", `/organization/${org.id}`, { token, body: { name: "Second" } });
    expectError(second, 429, "rate_limited");
    expect(second.headers.get("Retry-After")).toBe("60");
    expect(await snapshot()).toEqual(before);
  });

  it("counts each user separately", async () => {
    const org = await createOrg();
    await callWith(tight, "GET", `/organization/${org.id}`, { token: org.users.USER.token });
    expectError(await callWith(tight, "GET", `/organization/${org.id}`, { token: org.users.USER.token }), 429, "rate_limited");
    const other = await callWith(tight, "GET", `/organization/${org.id}`, { token: org.users.BILLING.token });
    expect(other.status, other.text).toBe(200);
  });

  it("counts callers without a valid token by client address, bad tokens included", async () => {
    const org = await createOrg();
    // Fresh addresses per run: the limiter's window outlives a single test.
    const [address, elsewhere] = [crypto.randomUUID(), crypto.randomUUID()].map((id) => `2001:db8::${id.slice(0, 4)}`);
    const from = (ip: string, token?: string) =>
      callWith(tight, "GET", `/organization/${org.id}`, { headers: { "CF-Connecting-IP": ip }, ...(token ? { token } : {}) });
    expectError(await from(address as string), 401, "unauthorized");
    expectError(await from(address as string, "not-a-token"), 429, "rate_limited");
    expectError(await from(elsewhere as string), 401, "unauthorized");
    // A valid token is counted against its user, not the address.
    const res = await from(address as string, org.users.USER.token);
    expect(res.status, res.text).toBe(200);
  });

  it("announces the quota on every answer it counted, and on a refusal that nothing remains and when to retry", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const first = await callWith(tight, "GET", `/organization/${org.id}`, { token });
    expect(first.status).toBe(200);
    expect(first.headers.get("RateLimit-Policy")).toBe('"requests";q=600;w=60');
    // The binding does not say what remains, so a counted answer claims nothing about it.
    expect(first.headers.get("RateLimit")).toBeNull();
    const refused = await callWith(tight, "GET", `/organization/${org.id}`, { token });
    expectError(refused, 429, "rate_limited");
    expect(refused.headers.get("RateLimit-Policy")).toBe('"requests";q=600;w=60');
    expect(refused.headers.get("RateLimit")).toBe('"requests";r=0;t=60');
    expect(refused.headers.get("Retry-After")).toBe("60");
    // Refusals after the count carry the policy too; a method the path does not offer is refused before it.
    expect((await call("GET", `/organization/${crypto.randomUUID()}`, { token })).headers.get("RateLimit-Policy")).toBe(
      '"requests";q=600;w=60',
    );
    expect((await call("PATCH", `/organization/${org.id}`, { token })).headers.get("RateLimit-Policy")).toBeNull();
  });

  it("lists every limit a credential route counts the request against", async () => {
    const res = await call("POST", "/user/verify-email", { body: { token: "x".repeat(43) } });
    expect(res.headers.get("RateLimit-Policy")).toBe('"requests";q=600;w=60, "credentials";q=20;w=60');
    const limited = { AUTH_RATE_LIMITER: env.TIGHT_RATE_LIMITER } as unknown as Partial<Env>;
    const headers = { "CF-Connecting-IP": `2001:db8::${crypto.randomUUID().slice(0, 4)}` };
    await callWith(limited, "POST", "/user/verify-email", { body: { token: "x".repeat(43) }, headers });
    const refused = await callWith(limited, "POST", "/user/verify-email", { body: { token: "x".repeat(43) }, headers });
    expectError(refused, 429, "rate_limited");
    expect(refused.headers.get("RateLimit")).toBe('"credentials";r=0;t=60');
  });
});

describe("security headers", () => {
  it.each([
    ["a success", "GET", (orgId: string) => `/organization/${orgId}`, true, 200],
    ["an error", "GET", () => "/organization/users/not-a-uuid", true, 400],
    ["an unauthenticated error", "GET", () => "/organization/users", false, 401],
    ["an unknown path", "GET", () => "/nowhere", false, 404],
    ["an unsupported method", "PATCH", () => "/organization/users", false, 405],
  ] as const)("are on %s, with Cache-Control: no-store and no framework banner", async (_name, method, path, auth, status) => {
    const org = await createOrg();
    const res = await call(method, path(org.id), auth ? { token: org.users.OWNER.token } : {});
    expect(res.status).toBe(status);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(res.headers.get("Strict-Transport-Security")).toMatch(/max-age=\d+/);
    expect(res.headers.get("X-Frame-Options")).toBe("SAMEORIGIN");
    expect(res.headers.get("X-Powered-By")).toBeNull();
    expect(res.headers.get("Server")).toBeNull();
  });
});

describe("CORS", () => {
  const ORIGIN = "https://app.example";
  const preflight = {
    Origin: ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization,content-type",
  };

  it("is off by default: no CORS headers, and a preflight is an unsupported method", async () => {
    const org = await createOrg();
    const res = await call("GET", `/organization/${org.id}`, { token: org.users.USER.token, headers: { Origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const pre = await call("OPTIONS", `/organization/${org.id}`, { headers: preflight });
    expectError(pre, 405, "method_not_allowed");
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("answers preflights and marks answers for the configured origins only", async () => {
    const org = await createOrg();
    const config = { CORS_ORIGINS: `${ORIGIN}, https://admin.example` };
    const pre = await callWith(config, "OPTIONS", `/organization/${org.id}`, { headers: preflight });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(pre.headers.get("Access-Control-Allow-Methods")).toContain("PUT");
    expect(pre.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");

    const res = await callWith(config, "GET", `/organization/${org.id}`, {
      token: org.users.USER.token,
      headers: { Origin: ORIGIN },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(res.headers.get("Vary")).toContain("Origin");
    // A browser client may read the request id, follow a list's next page and see its limits.
    expect(res.headers.get("Access-Control-Expose-Headers")?.split(/,\s*/)).toEqual(
      expect.arrayContaining([
        "Location",
        "Retry-After",
        "WWW-Authenticate",
        "X-Request-Id",
        "Link",
        "RateLimit",
        "RateLimit-Policy",
        "ETag",
        "x-d1-bookmark",
      ]),
    );

    const foreign = await callWith(config, "GET", `/organization/${org.id}`, {
      token: org.users.USER.token,
      headers: { Origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
