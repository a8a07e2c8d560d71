// Baseline (2): GET /organization/{id} written by hand, with no framework, router, validator or
// ORM. It does what the API does for that endpoint at the least cost: verifies the same HS256
// bearer token with Web Crypto (key imported once per isolate; exp required), then runs the same
// single D1 statement as the API (src/db/users.ts findCaller: the live organization joined with
// its live member, the caller, whose token is newer than their watermark and whose session, if any, is live), answers 401 without a row, 403 for an
// unverified caller or another organization's id, and
// otherwise the same envelope.
//
// Also serves POST /pbkdf2: the password hash of POST /organization/users alone (PBKDF2-SHA256,
// the same iterations, salt and output length as src/auth/password.ts), to report its share.

const encoder = new TextEncoder();
const JSON_TYPE = { "Content-Type": "application/json; charset=utf-8" };
const ORG_PATH = /^\/organization\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
// The statement Drizzle sends for findCaller (src/db/users.ts); bench/run.ts checks that the API
// still sends exactly this for GET /organization/{id} (GET /sql answers it).
const SQL =
  'select "caller"."id", "caller"."org_id", "caller"."org_role", "caller"."validated", "caller_org"."id", "caller_org"."name", ' +
  '"caller_org"."domain", "caller_org"."address1", "caller_org"."address2", "caller_org"."city", ' +
  '"caller_org"."zipcode", "caller_org"."phone", "caller_org"."state", "caller_org"."country", ' +
  '"caller_org"."website", "caller_org"."repos_disabled", "caller_org"."is_business", ' +
  '"caller_org"."mfa_enforced", "caller_org"."created_at", "caller_org"."updated_at", ' +
  '"caller_org"."deleted_at" from "organizations" "caller_org" inner join "users" "caller" on "caller"."org_id" = "caller_org"."id" ' +
  'where ("caller"."id" = ? and "caller"."deleted_at" is null and "caller_org"."deleted_at" is null and ' +
  '("caller"."tokens_valid_after" is null or "caller"."tokens_valid_after" < ?) and ' +
  '(? IS NULL or exists (select 1 from "sessions" where ("sessions"."id" = ? and "sessions"."user_id" = "caller"."id" and "sessions"."ended_at" is null))))';

let key; // Promise<CryptoKey>, once per isolate

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: JSON_TYPE });
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

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/pbkdf2" && request.method === "POST") {
      return json(200, {
        success: true,
        data: { iterations: Number(env.PBKDF2_ITERATIONS), ms: await pbkdf2(Number(env.PBKDF2_ITERATIONS)) },
      });
    }
    if (url.pathname === "/sql") return json(200, { success: true, data: [SQL] });
    const match = ORG_PATH.exec(url.pathname);
    if (!match || request.method !== "GET") return refuse(404, "not_found", "Not found");
    const claims = await verify(request.headers.get("Authorization"), env.JWT_SECRET);
    if (!claims) return refuse(401, "unauthorized", "Invalid or expired token");
    const iat = typeof claims.iat === "number" ? claims.iat : null;
    const sid = typeof claims.sid === "string" ? claims.sid : null;
    const [row] = await env.DB.prepare(SQL).bind(String(claims.sub), iat, sid, sid).raw();
    if (!row) return refuse(401, "unauthorized", "Invalid or expired token");
    if (!row[3])
      return refuse(403, "email_not_verified", "Email address not verified: follow the link in the verification email first");
    if (row[1] !== match[1].toLowerCase())
      return refuse(403, "forbidden", "Access denied: you can only view your own organization");
    const [
      ,
      ,
      ,
      ,
      id,
      name,
      domain,
      address1,
      address2,
      city,
      zipcode,
      phone,
      state,
      country,
      website,
      reposDisabled,
      isBusiness,
      mfaEnforced,
      ,
      ,
      deletedAt,
    ] = row;
    return json(200, {
      success: true,
      data: {
        id,
        name,
        domain,
        address1,
        address2,
        city,
        zipcode,
        phone,
        state,
        country,
        deletedAt,
        reposDisabled: reposDisabled === 1,
        website,
        is_business: isBusiness === 1,
        mfaEnforced: mfaEnforced === 1,
      },
    });
  },
};
