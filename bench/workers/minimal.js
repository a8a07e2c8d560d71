// Baseline (2): the API's reads and writes written by hand, with no framework, router, validator or
// ORM, at the least cost: it verifies the same HS256 bearer token with Web Crypto (key imported once
// per isolate; exp required), then runs the very statements the API sent for the same request, as
// bench/run.ts recorded them through the probe (POST /statements: their SQL and bound values), in
// one D1 round trip, and shapes the same answer from the rows by hand: GET /organization/{id}, GET
// and PUT /organization/users/{id}, and the first and a deep page of GET /organization/users. A
// verdict other than `ok` (or none) is answered 401/403 as the API would. Its answers are the API's,
// headers included: the same security and cache headers, a request id, the list's `Link`; and it
// writes the API's one log line per request (src/log.ts). Like the API, it runs each request in a
// D1 session (from the client's x-d1-bookmark, or first-unconstrained) and answers its bookmark,
// and tags a row it shows with its version (ETag). What it leaves out is what the API is measured
// for: the framework, the router, the validator, the ORM and jose.
//
// Also serves POST /pbkdf2: the password hash of POST /organization/users alone (PBKDF2-SHA256,
// the same iterations, salt and output length as src/auth/password.ts), to report its share.

const encoder = new TextEncoder();
const JSON_TYPE = { "Content-Type": "application/json; charset=utf-8" };
const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const ORG_PATH = new RegExp(`^/organization/(${UUID})$`);
const USER_PATH = new RegExp(`^/organization/users/(${UUID})$`);
const ROLE_NAMES = { 0: "USER", 1: "BILLING", 2: "WORKSPACES", 254: "ADMINISTRATORS", 255: "OWNER" };
const ROLES = [0, 1, 2, 254, 255];

/** Per request name, the statements the API sent for it: [{ sql, params }] (POST /statements, or the STATEMENTS binding). */
let recorded;

let key; // Promise<CryptoKey>, once per isolate

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// As the API answers (src/middleware/security-headers.ts: hono's secureHeaders defaults, no-store).
const ANSWER_HEADERS = [
  ["Content-Type", "application/json; charset=utf-8"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "SAMEORIGIN"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
  ["Cache-Control", "no-store"],
];

/** The answer, with the API's headers (and `extra`), and the API's log line for it. */
function json(status, body, extra = [], at = { method: "GET", route: null }) {
  const requestId = crypto.randomUUID();
  const started = Date.now();
  const response = new Response(JSON.stringify(body), {
    status,
    headers: [...ANSWER_HEADERS, ...extra, ["X-Request-Id", requestId]],
  });
  console.log(JSON.stringify({ level: "info", event: "request", requestId, ...at, status, durationMs: Date.now() - started }));
  return response;
}
const refuse = (status, code, message) => json(status, { success: false, data: null, message, code });

async function verify(header, secret) {
  const match = /^Bearer (\S+)$/.exec(header ?? "");
  const parts = match ? match[1].split(".") : [];
  if (parts.length !== 3) return null;
  try {
    const head = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[0])));
    if (head.alg !== "HS256") return null;
    key ??= crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    const ok = await crypto.subtle.verify("HMAC", await key, fromBase64Url(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return null;
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1])));
    if (typeof claims.exp !== "number" || claims.exp + 60 < Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

async function pbkdf2(iterations) {
  const started = performance.now();
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const material = await crypto.subtle.importKey("raw", encoder.encode("Str0ng-pass-bench"), "PBKDF2", false, ["deriveBits"]);
  await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, 256);
  return performance.now() - started;
}

function orgUser(row) {
  return {
    id: row.id,
    email: row.email,
    name: row.first_name,
    lastName: row.last_name,
    orgId: row.org_id,
    orgRole: row.org_role,
    validated: row.validated === 1,
    deletedAt: row.deleted_at,
    orgRoleDescription: ROLE_NAMES[row.org_role],
    orgRoles: ROLES.filter((role) => role <= row.org_role),
  };
}

function organization(row) {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    address1: row.address1,
    address2: row.address2,
    city: row.city,
    zipcode: row.zipcode,
    phone: row.phone,
    state: row.state,
    country: row.country,
    deletedAt: row.deleted_at,
    reposDisabled: row.repos_disabled === 1,
    website: row.website,
    is_business: row.is_business === 1,
    mfaEnforced: row.mfa_enforced === 1,
  };
}

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/**
 * The recorded statements of `name`, in one round trip (one statement alone, several as a batch),
 * in the request's D1 session; with the session's bookmark header.
 */
async function run(env, name, request) {
  recorded ??= JSON.parse(env.STATEMENTS ?? "{}");
  const sent = request.headers.get("x-d1-bookmark");
  const session = env.DB.withSession(sent && BOOKMARK.test(sent) ? sent : "first-unconstrained");
  const statements = (recorded[name] ?? []).map(({ sql, params }) => session.prepare(sql).bind(...params));
  const results =
    statements.length === 1
      ? [(await statements[0].all()).results]
      : (await session.batch(statements)).map((result) => result.results);
  const bookmark = session.getBookmark();
  return { results, headers: bookmark ? [["x-d1-bookmark", bookmark]] : [] };
}

const etag = (row) => [["ETag", `"${row.version}"`]];

/** The answer of a verdict other than `ok`, as the API gives it; undefined for `ok`. */
function refusal(verdict) {
  if (verdict === "ok") return undefined;
  if (verdict === "role") return refuse(403, "forbidden", "Insufficient permissions");
  if (verdict === "missing") return refuse(404, "not_found", "User not found");
  return refuse(401, "unauthorized", "Invalid or expired token");
}

/** A verdict row's first column (the verdict comes first in every statement that reads it). */
const verdictOf = (row) => (row ? Object.values(row)[0] : undefined);

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/pbkdf2" && request.method === "POST") {
      return json(200, {
        success: true,
        data: { iterations: Number(env.PBKDF2_ITERATIONS), ms: await pbkdf2(Number(env.PBKDF2_ITERATIONS)) },
      });
    }
    if (url.pathname === "/statements" && request.method === "POST") {
      recorded = await request.json();
      return json(200, { success: true, data: Object.keys(recorded) });
    }
    const org = ORG_PATH.exec(url.pathname);
    const user = USER_PATH.exec(url.pathname);
    const list = url.pathname === "/organization/users";
    if (!(org && request.method === "GET") && !user && !(list && request.method === "GET")) {
      return refuse(404, "not_found", "Not found");
    }
    const claims = await verify(request.headers.get("Authorization"), env.JWT_SECRET);
    if (!claims) return refuse(401, "unauthorized", "Invalid or expired token");

    if (org) {
      const {
        results: [[row]],
        headers,
      } = await run(env, "getOrg", request);
      const at = { method: "GET", route: "/organization/:orgId", callerId: claims.sub };
      return refusal(verdictOf(row)) ?? json(200, { success: true, data: organization(row) }, [...etag(row), ...headers], at);
    }
    if (user && request.method === "GET") {
      const {
        results: [[row]],
        headers,
      } = await run(env, "getUser", request);
      const at = { method: "GET", route: "/organization/users/:userId", callerId: claims.sub };
      return refusal(verdictOf(row)) ?? json(200, orgUser(row), [...etag(row), ...headers], at);
    }
    if (user && request.method === "PUT") {
      await request.text();
      // The write's batch names its writer for the audit log first (src/db/audit.ts) and clears it last.
      const {
        results: [, [seen], [row]],
        headers,
      } = await run(env, "putUser", request);
      const at = { method: "PUT", route: "/organization/users/:userId", callerId: claims.sub };
      const body = { success: true, data: orgUser(row), message: "User updated successfully" };
      return refusal(verdictOf(seen)) ?? json(200, body, [...etag(row), ...headers], at);
    }
    if (list) {
      const limit = Number(url.searchParams.get("limit"));
      const { results, headers } = await run(env, url.searchParams.has("cursor") ? "listDeep" : "listFirst", request);
      const [[seen], rows, [total]] = results;
      const refused = refusal(verdictOf(seen));
      if (refused) return refused;
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      const nextCursor = rows.length > limit && last ? btoa(JSON.stringify([last.created_at, last.id])).replace(/=+$/, "") : null;
      if (nextCursor) url.searchParams.set("cursor", nextCursor);
      const link = nextCursor ? [["Link", `<${url}>; rel="next"`]] : [];
      const body = { success: true, data: items.map(orgUser), total: Object.values(total)[0], nextCursor };
      return json(200, body, [...link, ...headers], { method: "GET", route: "/organization/users", callerId: claims.sub });
    }
    return refuse(404, "not_found", "Not found");
  },
};
