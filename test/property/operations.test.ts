// Property-based tests of the eight operations (fast-check): the one suite that sends generated
// input to every operation. Bodies and query values come from openapi.json's request schemas
// (test/helpers/document-arbitraries.ts). Valid ones are accepted with 2xx and stored exactly as
// answered; invalid ones (one broken keyword each: type, enum, length, pattern, format, a missing
// or an unknown field) get 400 naming the field and write nothing; nothing gets a 5xx. Every
// response is also checked against openapi.json by test/helpers/api.ts. Rules pinned to one value
// (a boundary, a named message, an attack string) are example tests in test/security/input.test.ts;
// where such a row is an instance of a property here, it runs as one of the property's examples.
//
// Replay a failure with the seed (and path) it printed:
//   FC_SEED=<seed> FC_PATH=<path> npx vitest run test/property/operations.test.ts -t "<test name>"

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ROLE, ROLE_VALUES, type Role, type RoleName } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { PRINTABLE_PATTERN } from "../../src/schemas/common";
import { call, expectError, type ApiResponse } from "../helpers/api";
import {
  asQueryValue,
  bodySchema,
  documentAccepts,
  invalidBody,
  invalidQueryValue,
  queryParameters,
  validObject,
  validValue,
  type InvalidBody,
  type JsonSchema,
} from "../helpers/document-arbitraries";
import { createTwoOrgs, insertUser, tokenFor, type FixtureUser, type OrgFixture } from "../helpers/fixtures";
import { checkProperty, malformedId, randomCase, reachesRoute, segment, unknownId } from "../helpers/property";
import { matchesQ } from "../helpers/search";
import { expectUnchanged, orgRow, userRow } from "../helpers/snapshot";

const TIMEOUT = 120_000;
const MANAGERS = ["OWNER", "ADMINISTRATOR", "WORKSPACES"] as const satisfies readonly RoleName[];
const ALL_ROLES = ["OWNER", "ADMINISTRATOR", "WORKSPACES", "BILLING", "USER"] as const satisfies readonly RoleName[];

type Json = Record<string, unknown>;

const ORG_BODY = bodySchema("PUT", "/organization/{orgId}");
const CREATE_BODY = bodySchema("POST", "/organization/users");
const UPDATE_BODY = bodySchema("PUT", "/organization/users/{userId}");
const LIST_QUERY = queryParameters("GET", "/organization/users");
const GET_USER_QUERY = queryParameters("GET", "/organization/users/{userId}");

function expectNo5xx(res: ApiResponse) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(200);
  expect(res.status, res.text).toBeLessThan(500);
}

/** A rejected request: 4xx in the error envelope. */
function expectRejected(res: ApiResponse) {
  expectNo5xx(res);
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  expectError(res, res.status, res.body?.code);
}

/** How a request must be refused: status, code, and the field named in `details` or the message, when known. */
type Refusal = { text: string; status: number; code: string; field?: string; message?: string };

function expectRefused(res: ApiResponse, refusal: Refusal) {
  expectNo5xx(res);
  expectError(res, refusal.status, refusal.code, refusal.message);
  if (refusal.field !== undefined) expect(res.body.details?.map((d: { path: string }) => d.path)).toContain(refusal.field);
}

/** A body refused for one field: 400 validation_failed naming it (a role field with the contract's message). */
function fieldRefusal({ text, field }: InvalidBody): Refusal {
  return { text, status: 400, code: "validation_failed", field, message: field === "orgRole" ? MESSAGES.invalidRole : undefined };
}

/** Roles a caller may give: at or below their own. */
const rolesUpTo = (role: Role) => ROLE_VALUES.filter((r) => r <= role);

/** A body that is not a JSON object, or not JSON at all: 400 bad_request, with the message for each. */
const notAnObject: fc.Arbitrary<Refusal> = fc
  .oneof(
    fc
      .oneof(
        fc.array(fc.jsonValue(), { maxLength: 3 }),
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
      )
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 30 }),
    fc.tuple(fc.string({ maxLength: 10 }), fc.nat({ max: 20 })).map(([s, n]) => `{"name":${JSON.stringify(s)}`.slice(0, n + 1)),
    // Near-JSON (the empty body and unquoted keys are rows of test/security/input.test.ts).
    fc.constantFrom("{", '{"name":', '{"name":"x"', '{"name":"x",}', "\u0000", " "),
  )
  .map((text): Refusal | null => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { text, status: 400, code: "bad_request", message: MESSAGES.malformedJson };
    }
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return null;
    return { text, status: 400, code: "bad_request", message: MESSAGES.bodyNotObject };
  })
  .filter((r): r is Refusal => r !== null);

/** Sends a raw JSON text (already serialised) as the body. */
function sendRaw(method: string, path: string, token: string, text: string) {
  return call(method, path, { token, body: text, headers: { "Content-Type": "application/json" } });
}

// The server trims text fields (the printable-pattern strings) before it checks and stores them, and
// stores an empty one as null: valid values are sent padded and expected back as generated.
const BLANKS = fc.constantFrom("", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\ufeff");
const isTrimmed = (schema: JsonSchema | undefined) => schema?.pattern === PRINTABLE_PATTERN;

function sentAndStored(schema: JsonSchema, body: fc.Arbitrary<Json>): fc.Arbitrary<{ body: Json; expected: Json }> {
  return body.chain((fields) => {
    const names = Object.keys(fields);
    return fc.array(fc.tuple(BLANKS, BLANKS), { minLength: names.length, maxLength: names.length }).map((pads) => {
      const sent: Json = {};
      const expected: Json = {};
      names.forEach((name, i) => {
        const value = fields[name];
        const [before, after] = pads[i]!;
        const trimmed = typeof value === "string" && isTrimmed(schema.properties?.[name]);
        sent[name] = trimmed ? before + value + after : value;
        expected[name] = trimmed && value === "" ? null : value;
      });
      return { body: sent, expected };
    });
  });
}

/** A query parameter no operation of the document defines with that name here, with any value. */
function unknownParam(known: readonly string[]): fc.Arbitrary<string> {
  const documented = [...Object.keys(LIST_QUERY), ...Object.keys(GET_USER_QUERY)];
  return fc
    .oneof(
      fc.constantFrom(...documented, "orgId", "offset", "page", "expand", "__proto__"),
      fc.constantFrom(...documented.flatMap((name) => [name.toUpperCase(), `${name} `, name[0]!.toUpperCase() + name.slice(1)])),
      fc.string({ minLength: 1, maxLength: 10 }),
    )
    .filter((name) => !known.includes(name));
}

// ------------------------------------------------------------------------------------------------
// GET and PUT /organization/{orgId}

describe("property: GET /organization/{orgId}", () => {
  it(
    "answers 200 with the stored organization for any member, its id in any letter case",
    async () => {
      const { a, b } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(a, b).chain((org) => fc.tuple(fc.constant(org), randomCase(org.id))),
          fc.constantFrom(...ALL_ROLES),
          async ([org, id], role) => {
            const res = await call("GET", `/organization/${id}`, { token: org.users[role].token });
            expect(res.status, res.text).toBe(200);
            const row = await orgRow(org.id);
            expect(res.body.data).toMatchObject({ id: org.id, name: row?.name, domain: row?.domain, city: row?.city });
          },
        ),
        30,
      );
    },
    TIMEOUT,
  );

  it(
    "GET and PUT /organization/{orgId} refuse a malformed id with 400 bad_request and answer 403 for any other well-formed id, writing nothing; never a 5xx",
    async () => {
      const { a, b } = await createTwoOrgs();
      // GET as any member (a USER, an OWNER); PUT as an OWNER, who may update their own organization only.
      const methods = [
        { method: "GET", token: a.users.USER.token, body: undefined, forbidden: MESSAGES.viewOrgDenied },
        { method: "GET", token: a.users.OWNER.token, body: undefined, forbidden: MESSAGES.viewOrgDenied },
        { method: "PUT", token: a.users.OWNER.token, body: { name: "x" }, forbidden: MESSAGES.modifyOrgDenied },
      ] as const;
      const invalid = malformedId(a.id).filter((s) => reachesRoute(s) && s !== "users");
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(...methods),
          fc.oneof(
            invalid.map((id) => ({ id, ok: false })),
            fc.oneof(unknownId, fc.constant(b.id)).map((id) => ({ id, ok: true })),
          ),
          async ({ method, token, body, forbidden }, { id, ok }) => {
            const res = await expectUnchanged(() => call(method, `/organization/${segment(id)}`, { token, body }));
            if (ok) expectError(res, 403, "forbidden", forbidden);
            else expectError(res, 400, "bad_request", MESSAGES.malformedId);
          },
        ),
        150,
        [
          [methods[1], { id: "123", ok: false }],
          [methods[2], { id: "123", ok: false }],
        ],
      );
    },
    TIMEOUT,
  );
});

const orgUpdate = sentAndStored(ORG_BODY, validObject(ORG_BODY));
const ORG_FIELDS = Object.keys(ORG_BODY.properties ?? {});

describe("property: PUT /organization/{orgId}", () => {
  it(
    "accepts any valid partial update from an ADMINISTRATOR or OWNER: 200, stored trimmed exactly as answered, the other organization untouched",
    async () => {
      const { a, b } = await createTwoOrgs();
      const other = await orgRow(b.id);
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom("OWNER", "ADMINISTRATOR") satisfies fc.Arbitrary<RoleName>,
          orgUpdate,
          async (role, { body, expected }) => {
            const before = await orgRow(a.id);
            const res = await call("PUT", `/organization/${a.id}`, { token: a.users[role].token, body });
            expect(res.status, res.text).toBe(200);
            expect(res.body.message).toBe("Organization updated successfully");
            expect(res.body.data).toMatchObject(expected);
            const after = await orgRow(a.id);
            const columns: Record<string, string> = { is_business: "is_business", mfaEnforced: "mfa_enforced" };
            for (const field of ORG_FIELDS) {
              const column = columns[field] ?? field;
              const value = field in expected ? expected[field] : before?.[column];
              expect(after?.[column], field).toEqual(typeof value === "boolean" ? Number(value) : value);
              expect(res.body.data[field], field).toEqual(typeof value === "number" ? value === 1 : value);
            }
            expect(after?.domain).toBe(before?.domain);
            expect(after?.deleted_at).toBe(before?.deleted_at);
          },
        ),
        40,
      );
      expect(await orgRow(b.id)).toEqual(other);
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 (naming the field, or bad_request for a body that is not an object) and changes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const path = `/organization/${a.id}`;
      const token = a.users.OWNER.token;
      const invalid = fc.oneof(invalidBody(ORG_BODY, validObject(ORG_BODY)).map(fieldRefusal), notAnObject);
      await checkProperty(
        fc.asyncProperty(invalid, async (refusal) => {
          const res = await expectUnchanged(() => sendRaw("PUT", path, token, refusal.text));
          expectRefused(res, refusal);
        }),
        150,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// GET /organization/users

type ListQuery = { limit?: number; q?: string; role?: Role; includeDeleted?: boolean };

async function orgUsers(orgId: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, email, first_name, last_name, org_role, deleted_at, created_at FROM users WHERE org_id = ? ORDER BY created_at, id",
  )
    .bind(orgId)
    .all<{
      id: string;
      email: string;
      first_name: string;
      last_name: string;
      org_role: number;
      deleted_at: string | null;
      created_at: string;
    }>();
  return results;
}

describe("property: GET /organization/users", () => {
  it(
    "for any valid query lists exactly the matching users of the caller's organization, page by page, with the true total",
    async () => {
      const { a, b } = await createTwoOrgs();
      // Names that make filtering interesting, in both organizations.
      const names = [
        ["Émile", "Zola"],
        ["100%", "Pure"],
        ["a_b", "O'Brien"],
        ["\u{1F600} Smile", "Ünïcödé"],
        ["İsmail", "ǅemal"],
        ["e\u0301lodie", "Straße"],
      ];
      for (const org of [a, b]) {
        for (const [i, [first, last]] of names.entries()) {
          await insertUser(org.id, ROLE_VALUES[i % 5]!, { firstName: first, lastName: last, deleted: i % 3 === 2 });
        }
      }
      const haystack = (await orgUsers(a.id)).flatMap((u) => [u.email, u.first_name, u.last_name]);
      const needle = fc.oneof(
        // A piece of a stored value, in any case.
        fc
          .tuple(fc.constantFrom(...haystack), fc.nat(), fc.nat())
          .map(([s, i, n]) => {
            const chars = [...s];
            const start = i % chars.length;
            return chars.slice(start, start + 1 + (n % 6)).join("");
          })
          .chain(randomCase),
        validValue(LIST_QUERY.q!) as fc.Arbitrary<string>,
        fc.constantFrom("%", "_", "'", "%%", "a%", "\\", "@", "example", "ADA", "\u{1F600}".repeat(100)),
      );
      const query: fc.Arbitrary<ListQuery> = fc.record(
        {
          // Small pages, so that paging is exercised, and the bounds.
          limit: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constantFrom(1, 1000)),
          q: needle,
          role: validValue(LIST_QUERY.role!) as fc.Arbitrary<Role>,
          includeDeleted: validValue(LIST_QUERY.includeDeleted!) as fc.Arbitrary<boolean>,
        },
        { requiredKeys: [] },
      );
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...MANAGERS), query, async (role, q) => {
          const rows = await orgUsers(a.id);
          const folded = q.q?.toLowerCase();
          const expected = rows.filter(
            (u) =>
              (q.includeDeleted || u.deleted_at === null) &&
              (q.role === undefined || u.org_role === q.role) &&
              (!folded || matchesQ(folded, [u.email, u.first_name.toLowerCase(), u.last_name.toLowerCase()])),
          );
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let page = 0; page < 40; page++) {
            const params = new URLSearchParams();
            for (const [name, value] of Object.entries(q)) params.set(name, asQueryValue(value));
            if (cursor !== null) params.set("cursor", cursor);
            const res = await call("GET", `/organization/users?${params}`, { token: a.users[role].token });
            expect(res.status, res.text).toBe(200);
            expect(res.body.total).toBe(expected.length);
            expect(res.body.data.length).toBeLessThanOrEqual(q.limit ?? 100);
            for (const user of res.body.data) expect(user.orgId).toBe(a.id);
            seen.push(...res.body.data.map((u: { id: string }) => u.id));
            cursor = res.body.nextCursor;
            if (cursor === null) break;
          }
          expect(cursor).toBeNull();
          expect(seen).toEqual(expected.map((u) => u.id));
        }),
        60,
      );
    },
    TIMEOUT,
  );

  it(
    "GET /organization/users and GET /organization/users/{userId} refuse any value their query parameters do not allow with 400 naming it, writing nothing; never a 5xx",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.WORKSPACES.token;
      const operations = [
        { path: "/organization/users", parameters: LIST_QUERY },
        { path: `/organization/users/${a.users.USER.id}`, parameters: GET_USER_QUERY },
      ];
      const documented = fc.constantFrom(...operations).chain(({ path, parameters }) =>
        fc.constantFrom(...Object.entries(parameters)).chain(([name, schema]) =>
          invalidQueryValue(schema).map(({ value }) => ({
            path,
            params: [[name, String(value)]] as [string, string][],
            // A cursor is decoded after validation, so one of the documented form may be bad_request.
            code: name === "cursor" ? undefined : "validation_failed",
          })),
        ),
      );
      // The cursor is opaque: any text that is not a cursor the server issued, of the documented form or not.
      const cursors = fc
        .oneof(
          fc.string({ minLength: 1, maxLength: 40 }),
          fc
            .base64String({ minLength: 4, maxLength: 60 })
            .map((s) => s.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")),
          fc.constantFrom(btoa('["2026-01-01T00:00:00.000Z","x"]').replace(/=+$/, ""), btoa("[]").replace(/=+$/, "")),
        )
        .map((cursor) => ({ path: "/organization/users", params: [["cursor", cursor]] as [string, string][], code: undefined }));
      // A known parameter given twice.
      const twice = fc.constantFrom(...operations).chain(({ path, parameters }) =>
        fc.constantFrom(...Object.keys(parameters)).map((name) => {
          const value = { limit: "5", role: "1", includeDeleted: "true" }[name] ?? "x";
          return {
            path,
            params: [
              [name, value],
              [name, value],
            ] as [string, string][],
            code: undefined,
          };
        }),
      );
      // Forms a lax parser would read as a number or a boolean, and the cursor's bounds: the
      // generators seldom or never produce them (U+0663 is an Arabic-Indic digit), so every run has them.
      const lax: [string, string, string[]][] = [
        ["/organization/users", "limit", [" 1", "1 ", "+1", "-0", "0x10", "1,2", "NaN", "Infinity", "10000", "\u0663"]],
        ["/organization/users", "role", ["1.0", "0x01", " 1", "2 ", "1e0", "255.5"]],
        ["/organization/users", "includeDeleted", ["TRUE", "False", "1", "0", "true ", " false"]],
        [operations[1]!.path, "includeDeleted", ["TRUE", "1", " false"]],
        ["/organization/users", "cursor", ["", "a".repeat(513)]],
      ];
      const examples = lax.flatMap(([path, name, values]) =>
        values.map((value): [{ path: string; params: [string, string][]; code: string | undefined }] => [
          { path, params: [[name, value]], code: name === "cursor" ? undefined : "validation_failed" },
        ]),
      );
      await checkProperty(
        fc.asyncProperty(fc.oneof(documented, cursors, twice), async ({ path, params, code }) => {
          const send = () => call("GET", `${path}?${new URLSearchParams(params)}`, { token });
          // Checked to write nothing, as every item route is; the list as before.
          const res = path === "/organization/users" ? await send() : await expectUnchanged(send);
          expectNo5xx(res);
          expectError(res, 400, code ?? res.body?.code);
          expect(res.body.details?.map((d: { path: string }) => d.path)).toContain(params[0]![0]);
        }),
        200,
        examples,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// POST /organization/users

const EMAIL = CREATE_BODY.properties!.email!;
// Room for the label that makes each generated address unique (createBody): "u" + 20 hex digits + ".".
const UNIQUE_LABEL = 22;

type CreateCase = { role: (typeof MANAGERS)[number]; upper: boolean; body: Json; expected: Json };

const validCreate: fc.Arbitrary<CreateCase> = fc.constantFrom(...MANAGERS).chain((role) =>
  fc
    .tuple(
      sentAndStored(
        CREATE_BODY,
        validObject(CREATE_BODY).filter(
          (body) =>
            (body.orgRole === undefined || (body.orgRole as number) <= ROLE[role]) &&
            (body.email as string).length <= 254 - UNIQUE_LABEL &&
            (body.email as string).split("@")[1]!.length <= 253 - UNIQUE_LABEL,
        ),
      ),
      fc.boolean(),
    )
    .map(([{ body, expected }, upper]) => ({
      role,
      upper,
      body,
      expected: {
        firstName: expected.firstName,
        lastName: expected.lastName,
        // The server's defaults, for the fields left out.
        orgRole: expected.orgRole ?? ROLE.USER,
        sendInvite: expected.sendInvite ?? CREATE_BODY.properties!.sendInvite!.default,
        provider: expected.provider ?? null,
        authMethod: expected.authMethod ?? CREATE_BODY.properties!.authMethod!.default,
      },
    })),
);

/** The request body of a generated case, its address made unique (and upper-cased when asked), and the address stored. */
function createBody(c: CreateCase): { body: Json; email: string } {
  const [local, domain] = (c.body.email as string).split("@");
  const email = `${local}@u${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}.${domain}`;
  if (!documentAccepts(EMAIL, email)) throw new Error(`not a valid address once made unique: ${email}`);
  return { body: { ...c.body, email: c.upper ? email.toUpperCase() : email }, email: email.toLowerCase() };
}

describe("property: POST /organization/users", () => {
  it(
    "creates any valid user (201): stored lower-cased and trimmed as answered, invitation per sendInvite, then readable",
    async () => {
      const { a } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(validCreate, async (c) => {
          const { body, email } = createBody(c);
          const caller = a.users[c.role];
          const res = await call("POST", "/organization/users", { token: caller.token, body });
          expect(res.status, res.text).toBe(201);
          const user = res.body.data;
          expect(user).toMatchObject({
            email,
            name: c.expected.firstName,
            lastName: c.expected.lastName,
            orgId: a.id,
            orgRole: c.expected.orgRole,
            validated: false,
            deletedAt: null,
          });
          expect(res.text).not.toContain(JSON.stringify(body.password).slice(1, -1));
          const row = await userRow(user.id);
          expect(row).toMatchObject({
            org_id: a.id,
            email,
            first_name: c.expected.firstName,
            last_name: c.expected.lastName,
            first_name_folded: (c.expected.firstName as string).toLowerCase(),
            last_name_folded: (c.expected.lastName as string).toLowerCase(),
            org_role: c.expected.orgRole,
            validated: 0,
            provider: c.expected.provider,
            auth_method: c.expected.authMethod,
            deleted_at: null,
          });
          const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM invitations WHERE user_id = ?")
            .bind(user.id)
            .first<{ n: number }>())!;
          expect(n).toBe(c.expected.sendInvite ? 1 : 0);
          const fetched = await call("GET", `/organization/users/${user.id}`, { token: caller.token });
          expect(fetched.body).toEqual(user);
        }),
        25,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 naming the field (bad_request for a body that is not an object, 403 for a role above the caller's), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      type Case = Refusal & { role: (typeof MANAGERS)[number] };
      const invalid: fc.Arbitrary<Case> = fc.oneof(
        validCreate.chain((c) =>
          invalidBody(CREATE_BODY, fc.constant(createBody(c).body)).map((b) => ({ role: c.role, ...fieldRefusal(b) })),
        ),
        fc.tuple(fc.constantFrom(...MANAGERS), notAnObject).map(([role, refusal]) => ({ role, ...refusal })),
        // A valid role above the caller's own: the ceiling.
        fc
          .tuple(
            validCreate.filter((c) => c.role !== "OWNER"),
            fc.constantFrom(ROLE.ADMINISTRATOR, ROLE.OWNER),
          )
          .filter(([c, orgRole]) => orgRole > ROLE[c.role])
          .map(([c, orgRole]) => ({
            role: c.role,
            text: JSON.stringify({ ...createBody(c).body, orgRole }),
            status: 403,
            code: "forbidden",
          })),
      );
      // Each required field left out of an otherwise valid body.
      const complete: Json = { email: "required@example.com", password: "Input-pass-1", firstName: "Grace", lastName: "Hopper" };
      const missing = (CREATE_BODY.required ?? []).map((field): [Case] => {
        const { [field]: _left, ...rest } = complete;
        return [{ role: "OWNER", text: JSON.stringify(rest), status: 400, code: "validation_failed", field }];
      });
      await checkProperty(
        fc.asyncProperty(invalid, async (refusal) => {
          const res = await expectUnchanged(() =>
            sendRaw("POST", "/organization/users", a.users[refusal.role].token, refusal.text),
          );
          expectRefused(res, refusal);
        }),
        150,
        missing,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses an address already taken, in any letter case, by a live or deleted user of either organization (409), writing nothing",
    async () => {
      const { a, b } = await createTwoOrgs();
      const taken = [a.users.USER, a.deleted, b.users.OWNER, b.deleted];
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...taken), validCreate, fc.boolean(), async (holder, c, upper) => {
          const email = upper ? holder.email.toUpperCase() : holder.email;
          const res = await expectUnchanged(() =>
            call("POST", "/organization/users", {
              token: a.users[c.role].token,
              body: { ...createBody(c).body, email, orgRole: 0 },
            }),
          );
          expectNo5xx(res);
          expectError(res, 409, "conflict");
          // The reactivation hint only for a deleted user of the caller's own organization.
          if (holder === a.deleted) expect(res.body.message).toMatch(/reactivat/i);
          else expect(res.body.message).toBe("A user with this email already exists");
        }),
        25,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// GET, PUT, DELETE /organization/users/{userId} and POST .../activate

/** Valid updates a caller of `callerRole` may send: any role given at or below their own. */
const userUpdate = (callerRole: Role) =>
  validObject(UPDATE_BODY).filter((body) => body.orgRole === undefined || (body.orgRole as number) <= callerRole);

/** A fresh live user of `org` that `caller` may act on (its role at or below the caller's). */
async function targetFor(
  org: OrgFixture,
  callerRole: Role,
  pick: number,
  options: { deleted?: boolean } = {},
): Promise<FixtureUser> {
  const roles = rolesUpTo(callerRole);
  return insertUser(org.id, roles[pick % roles.length]!, options);
}

const ITEM_ROUTES = [
  { method: "GET", suffix: "" },
  { method: "PUT", suffix: "" },
  { method: "DELETE", suffix: "" },
  { method: "POST", suffix: "/activate" },
] as const;

describe("property: GET /organization/users/{userId}", () => {
  it(
    "answers 200 with the stored user for any user of the caller's organization (id in any case), 404 for a deleted one unless includeDeleted=true",
    async () => {
      const { a } = await createTwoOrgs();
      const targets = [...Object.values(a.users), a.deleted];
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(...MANAGERS),
          fc.constantFrom(...targets).chain((t) => fc.tuple(fc.constant(t), randomCase(t.id))),
          fc.option(fc.boolean(), { nil: undefined }),
          async (role, [target, id], includeDeleted) => {
            const query = includeDeleted === undefined ? "" : `?includeDeleted=${includeDeleted}`;
            const res = await call("GET", `/organization/users/${id}${query}`, { token: a.users[role].token });
            if (target.deleted && !includeDeleted) return expectError(res, 404, "not_found", "User not found");
            expect(res.status, res.text).toBe(200);
            const row = await userRow(target.id);
            expect(res.body).not.toHaveProperty("success");
            expect(res.body).toMatchObject({
              id: target.id,
              email: row?.email,
              orgId: a.id,
              orgRole: row?.org_role,
              deletedAt: row?.deleted_at,
            });
          },
        ),
        40,
      );
    },
    TIMEOUT,
  );
});

describe("property: malformed ids and unknown query parameters, on every operation", () => {
  it(
    "every item route answers a malformed user id with 400 bad_request (any segment that reaches the route), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      const [get, put, del, activate] = ITEM_ROUTES;
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...ITEM_ROUTES), malformedId(a.users.USER.id), async (route, id) => {
          const path = `/organization/users/${segment(id)}${route.suffix}`;
          const body = route.method === "PUT" ? { name: "Grace" } : undefined;
          const res = await expectUnchanged(() => call(route.method, path, { token, body }));
          if (reachesRoute(id)) expectError(res, 400, "bad_request", MESSAGES.malformedId);
          else expectRejected(res);
        }),
        120,
        [
          [get, "not-a-uuid"],
          [put, "not-a-uuid"],
          [del, "not-a-uuid"],
          [activate, "not-a-uuid"],
          [get, "00000000-0000-4000-8000-00000000000g"],
          [del, "' OR 1=1 --"],
        ],
      );
    },
    TIMEOUT,
  );

  it(
    "every operation refuses unknown query parameters with 400 validation_failed naming each, writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      type Operation = {
        route: string;
        method: string;
        path(target: FixtureUser): string;
        body?(): Json;
        target?: "live" | "deleted";
      };
      const operations: Operation[] = [
        { route: "/organization/{orgId}", method: "GET", path: () => `/organization/${a.id}` },
        { route: "/organization/{orgId}", method: "PUT", path: () => `/organization/${a.id}`, body: () => ({ name: "Acme" }) },
        { route: "/organization/users", method: "GET", path: () => "/organization/users" },
        {
          route: "/organization/users",
          method: "POST",
          path: () => "/organization/users",
          body: () => ({
            email: `query-${crypto.randomUUID()}@example.com`,
            password: "Input-pass-1",
            firstName: "Grace",
            lastName: "Hopper",
          }),
        },
        ...ITEM_ROUTES.map((r): Operation => ({
          route: `/organization/users/{userId}${r.suffix}`,
          method: r.method,
          path: (t) => `/organization/users/${t.id}${r.suffix}`,
          body: r.method === "PUT" ? () => ({ name: "Grace" }) : undefined,
          // A target each write would otherwise act on (activate: a deleted user).
          target: r.suffix ? "deleted" : "live",
        })),
      ];
      const request = fc.constantFrom(...operations).chain((op) =>
        fc.tuple(
          fc.constant(op),
          fc.uniqueArray(
            fc.tuple(unknownParam(Object.keys(queryParameters(op.method, op.route))), fc.string({ maxLength: 10 })),
            {
              minLength: 1,
              maxLength: 2,
              selector: ([name]) => name,
            },
          ),
        ),
      );
      const byName = (method: string, route: string) => operations.find((op) => op.method === method && op.route === route)!;
      const examples: [Operation, [string, string][]][] = [
        ...operations
          .filter(
            (op) => !(op.method === "GET" && (op.route === "/organization/users" || op.route === "/organization/users/{userId}")),
          )
          .map((op): [Operation, [string, string][]] => [
            op,
            [
              ["orgId", a.id],
              ["dryRun", "1"],
            ],
          ]),
        [byName("GET", "/organization/users/{userId}"), [["expand", "password"]]],
      ];
      await checkProperty(
        fc.asyncProperty(request, async ([op, params]) => {
          const target = op.target ? await insertUser(a.id, ROLE.USER, { deleted: op.target === "deleted" }) : a.users.USER;
          const path = `${op.path(target)}?${new URLSearchParams(params)}`;
          const res = await expectUnchanged(() => call(op.method, path, { token, body: op.body?.() }));
          expectError(res, 400, "validation_failed");
          const named = res.body.details?.map((d: { path: string }) => d.path);
          for (const [name] of params) expect(named).toContain(name);
        }),
        80,
        examples.map((e) => [e]),
      );
    },
    TIMEOUT,
  );
});

describe("property: PUT /organization/users/{userId}", () => {
  it(
    "applies any valid partial update within the ceiling: 200, stored trimmed exactly as answered, nothing else changed",
    async () => {
      const { a } = await createTwoOrgs();
      // A second owner, so an owner target can be demoted.
      await insertUser(a.id, ROLE.OWNER);
      await checkProperty(
        fc.asyncProperty(
          fc
            .constantFrom(...MANAGERS)
            .chain((role) => fc.tuple(fc.constant(role), fc.nat(), sentAndStored(UPDATE_BODY, userUpdate(ROLE[role])))),
          async ([role, pick, { body, expected }]) => {
            const target = await targetFor(a, ROLE[role], pick);
            const before = await userRow(target.id);
            const res = await call("PUT", `/organization/users/${target.id}`, { token: a.users[role].token, body });
            expect(res.status, res.text).toBe(200);
            const first = (expected.name as string | undefined) ?? (before?.first_name as string);
            const last = (expected.lastName as string | undefined) ?? (before?.last_name as string);
            const orgRole = (expected.orgRole as number | undefined) ?? (before?.org_role as number);
            expect(res.body.data).toMatchObject({
              id: target.id,
              name: first,
              lastName: last,
              orgRole,
              email: before?.email,
              deletedAt: null,
            });
            const after = await userRow(target.id);
            expect(after).toEqual({
              ...before,
              first_name: first,
              first_name_folded: first.toLowerCase(),
              last_name: last,
              last_name_folded: last.toLowerCase(),
              org_role: orgRole,
              updated_at: after?.updated_at,
              version: (before?.version as number) + 1,
            });
          },
        ),
        50,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 naming the field (bad_request for a body that is not an object, 403 for a role above the caller's), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const target = a.users.USER;
      const path = `/organization/users/${target.id}`;
      type Case = Refusal & { role: (typeof MANAGERS)[number] };
      const invalid: fc.Arbitrary<Case> = fc.constantFrom(...MANAGERS).chain((role) => {
        const above = ROLE_VALUES.filter((orgRole) => orgRole > ROLE[role]);
        return fc.oneof(
          invalidBody(UPDATE_BODY, userUpdate(ROLE[role])).map((b) => ({ role, ...fieldRefusal(b) })),
          notAnObject.map((refusal) => ({ role, ...refusal })),
          // A valid role above the caller's own (none is above an OWNER's).
          ...(above.length
            ? [
                fc
                  .constantFrom(...above)
                  .map((orgRole) => ({ role, text: JSON.stringify({ orgRole }), status: 403, code: "forbidden" })),
              ]
            : []),
        );
      });
      await checkProperty(
        fc.asyncProperty(invalid, async (refusal) => {
          const res = await expectUnchanged(() => sendRaw("PUT", path, a.users[refusal.role].token, refusal.text));
          expectRefused(res, refusal);
        }),
        150,
      );
    },
    TIMEOUT,
  );
});

describe("property: DELETE and activate", () => {
  it(
    "soft-deletes any user within the ceiling (200) and reactivates them (200), touching only deleted_at, updated_at and the token watermark",
    async () => {
      const { a } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...MANAGERS), fc.nat(), fc.boolean(), async (role, pick, upper) => {
          const target = await targetFor(a, ROLE[role], pick);
          const id = upper ? target.id.toUpperCase() : target.id;
          const before = await userRow(target.id);
          const del = await call("DELETE", `/organization/users/${id}`, { token: a.users[role].token });
          expect(del.status, del.text).toBe(200);
          const deleted = await userRow(target.id);
          expect(deleted).toEqual({
            ...before,
            deleted_at: expect.any(String),
            updated_at: deleted?.updated_at,
            tokens_valid_after: Math.ceil(Date.parse(deleted?.deleted_at as string) / 1000),
            version: (before?.version as number) + 1,
          });
          const back = await call("POST", `/organization/users/${id}/activate`, { token: a.users[role].token });
          expect(back.status, back.text).toBe(200);
          expect(back.body.data).toMatchObject({ id: target.id, deletedAt: null });
          const after = await userRow(target.id);
          // Reactivation keeps the watermark the deletion set.
          expect(after).toEqual({
            ...before,
            updated_at: after?.updated_at,
            tokens_valid_after: deleted?.tokens_valid_after,
            version: (before?.version as number) + 2,
          });
        }),
        40,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// Check order, for any input: 401 before everything, then the route's role.

type AnyInput = { id: string; query: [string, string][]; body: unknown };

const anyInput = (org: OrgFixture): fc.Arbitrary<AnyInput> =>
  fc.record({
    id: fc.oneof(
      fc.constant(org.users.USER.id),
      fc.constant(org.deleted.id),
      unknownId,
      malformedId(org.id).filter(reachesRoute),
    ),
    query: fc.array(
      fc.tuple(fc.oneof(fc.constantFrom(...Object.keys(LIST_QUERY)), fc.string({ maxLength: 5 })), fc.string({ maxLength: 8 })),
      { maxLength: 2 },
    ),
    body: fc.oneof(fc.jsonValue(), fc.constant({ name: "Grace" }), fc.constant({ orgRole: 255 }), fc.constant({})),
  });

type AnyOperation = {
  name: string;
  minimum: Role | null;
  method: string;
  /** The path with `id` (a path segment, already encoded) where the operation takes one. */
  path(id: string): string;
  body: boolean;
};

const OPERATIONS: AnyOperation[] = [
  { name: "GET org", minimum: null, method: "GET", path: (id) => `/organization/${id === "users" ? "x" : id}`, body: false },
  {
    name: "PUT org",
    minimum: ROLE.ADMINISTRATOR,
    method: "PUT",
    path: (id) => `/organization/${id === "users" ? "x" : id}`,
    body: true,
  },
  { name: "list", minimum: ROLE.WORKSPACES, method: "GET", path: () => "/organization/users", body: false },
  { name: "create", minimum: ROLE.WORKSPACES, method: "POST", path: () => "/organization/users", body: true },
  { name: "get user", minimum: ROLE.WORKSPACES, method: "GET", path: (id) => `/organization/users/${id}`, body: false },
  { name: "update user", minimum: ROLE.WORKSPACES, method: "PUT", path: (id) => `/organization/users/${id}`, body: true },
  { name: "delete user", minimum: ROLE.WORKSPACES, method: "DELETE", path: (id) => `/organization/users/${id}`, body: false },
  {
    name: "activate",
    minimum: ROLE.WORKSPACES,
    method: "POST",
    path: (id) => `/organization/users/${id}/activate`,
    body: false,
  },
];

function requestOf(op: AnyOperation, input: AnyInput, token: string | undefined) {
  const query = input.query.length ? `?${new URLSearchParams(input.query)}` : "";
  return call(op.method, `${op.path(segment(input.id))}${query}`, {
    token,
    body: op.body ? JSON.stringify(input.body) : undefined,
    headers: op.body ? { "Content-Type": "application/json" } : {},
  });
}

describe("property: check order for any input", () => {
  it(
    "answers 401 without a usable token, whatever the operation and input, and writes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const now = Math.floor(Date.now() / 1000);
      const tokens = [
        undefined,
        "",
        "garbage",
        "a.b.c",
        a.users.OWNER.token.slice(0, -2),
        await tokenFor(a.users.OWNER.id, { iat: now - 7200, exp: now - 3600 }),
        a.deleted.token,
        await tokenFor(crypto.randomUUID()),
      ];
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...OPERATIONS), anyInput(a), fc.constantFrom(...tokens), async (op, input, token) => {
          const res = await expectUnchanged(() => requestOf(op, input, token));
          expectError(res, 401, "unauthorized");
          expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
        }),
        100,
        // No token on a malformed id: 401, not 400.
        [[OPERATIONS.find((op) => op.name === "get user")!, { id: "not-a-uuid", query: [], body: null }, undefined]],
      );
    },
    TIMEOUT,
  );

  it(
    "answers 403 to a caller below the route's role, whatever the input, and writes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const guarded = OPERATIONS.filter((op) => op.minimum !== null);
      await checkProperty(
        fc.asyncProperty(
          fc
            .constantFrom(...guarded)
            .chain((op) =>
              fc.tuple(fc.constant(op), fc.constantFrom(...ALL_ROLES.filter((r) => ROLE[r] < (op.minimum as number)))),
            ),
          anyInput(a),
          async ([op, role], input) => {
            const res = await expectUnchanged(() => requestOf(op, input, a.users[role].token));
            expectError(res, 403, "forbidden");
          },
        ),
        100,
        // BILLING on a malformed user id: 403, not 400.
        [[[OPERATIONS.find((op) => op.name === "delete user")!, "BILLING"], { id: "not-a-uuid", query: [], body: null }]],
      );
    },
    TIMEOUT,
  );
});
