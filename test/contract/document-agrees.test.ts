import { Validator, type Schema } from "@cfworker/json-schema";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import document from "../../openapi.json";
import { CreateUserBody, EMAIL_PATTERN, PASSWORD_PATTERN } from "../../src/schemas/users";
import { call, expectError } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { checkProperty } from "../helpers/property";

// The published document states exactly what the server enforces: a client built from
// openapi.json is refused nothing the document allows, and allowed nothing it refuses.

type Components = { schemas: Record<string, { properties?: Record<string, Schema>; minProperties?: number; example?: unknown }> };
const schemas = (document as unknown as { components: Components }).components.schemas;
const property = (schema: string, name: string) => schemas[schema]!.properties![name]!;

/** Whether the document's schema for the field accepts `value`, formats asserted (as a generated client or fuzzer would). */
const documentAccepts = (schema: Schema) => {
  const validator = new Validator(schema, "2020-12", false);
  return (value: unknown) => validator.validate(value).valid;
};
const serverAccepts = (field: "email" | "password") => (value: unknown) => CreateUserBody.shape[field].safeParse(value).success;

const atext = fc.constantFrom(..."abcXYZ019!#$%&'*+/=?^_`{|}~-".split(""));
const label = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?$/);
// Addresses near the edge of the accepted form: quoted and dotted local parts, single-label and
// literal hosts, hyphens at label edges, long parts, non-ASCII.
const emailLike = fc.oneof(
  fc.emailAddress(),
  fc
    .tuple(
      fc.array(fc.string({ unit: atext, minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
      fc.array(label, { minLength: 1, maxLength: 3 }),
    )
    .map(([local, host]) => `${local.join(".")}@${host.join(".")}`),
  fc.constantFrom(
    "a=k@acme.example",
    "a@localhost",
    "a@example.c",
    "a@example.123",
    "a@xn--80ak6aa92e.xn--p1ai",
    "a@[127.0.0.1]",
    '"quoted"@acme.example',
    ".a@acme.example",
    "a.@acme.example",
    "a..b@acme.example",
    "a@-acme.example",
    "a@acme-.example",
    "a@acme..example",
    `${"a".repeat(64)}@acme.example`,
    `${"a".repeat(65)}@acme.example`,
    `a@${"b".repeat(63)}.example`,
    `a@${"b".repeat(64)}.example`,
    "ä@acme.example",
    "a@acme.exämple",
    "a b@acme.example",
    "a@acme.example ",
  ),
  fc.string({ maxLength: 30 }),
);

describe("the document's own schema examples", () => {
  // Spectral reads patterns without Unicode semantics (see .spectral.yaml); JSON Schema reads them with.
  it.each(Object.entries(schemas).filter(([, schema]) => schema.example !== undefined))(
    "%s has an example that satisfies it",
    (_name, schema) => {
      const { example, ...rest } = schema;
      const result = new Validator({ ...(rest as Schema), $defs: {} }, "2020-12", false).validate(example);
      expect(result.errors).toEqual([]);
    },
  );
});

describe("the document and the server accept the same values", () => {
  it("email: the document's pattern is the server's check, and the two accept exactly the same addresses", async () => {
    const documented = property("CreateUser", "email");
    expect(documented).toMatchObject({ format: "email", pattern: EMAIL_PATTERN, maxLength: 254 });
    const byDocument = documentAccepts(documented);
    const byServer = serverAccepts("email");
    await checkProperty(
      fc.asyncProperty(emailLike, async (value) => {
        expect(byServer(value), JSON.stringify(value)).toBe(byDocument(value));
      }),
      2000,
    );
    // The findings that started this: now accepted by both, or refused by both.
    expect(byServer("a=k@acme.example")).toBe(true);
    expect(byDocument("a@localhost")).toBe(false);
  });

  it("password: the document states the letter and digit rule the server enforces, for letters of any script", async () => {
    const documented = property("CreateUser", "password");
    expect(documented).toMatchObject({ pattern: PASSWORD_PATTERN, minLength: 8, maxLength: 256 });
    const byDocument = documentAccepts(documented);
    const byServer = serverAccepts("password");
    const passwordLike = fc.oneof(
      fc.string({ minLength: 6, maxLength: 20 }),
      fc.string({ unit: fc.constantFrom("a", "B", "7", "ß", "Ж", "ж", "٣", " ", "\n", "-"), minLength: 6, maxLength: 14 }),
      fc.constantFrom("Пароль12", "password1", "PASSWORD1", "Password", "Pass1", "Passw0rd-ok", "𝐀𝐚𝟏𝐀", "Aa1𝐀𝐀𝐀𝐀𝐀"),
      // Characters outside the Basic Multilingual Plane: two UTF-16 units, one code point each.
      fc
        .tuple(fc.string({ unit: fc.constantFrom("𝐀", "😀", "A", "a", "1"), minLength: 3, maxLength: 9 }), fc.nat({ max: 260 }))
        .map(([s, n]) => s + "😀".repeat(n)),
    );
    await checkProperty(
      fc.asyncProperty(passwordLike, async (value) => {
        expect(byServer(value), JSON.stringify(value)).toBe(byDocument(value));
      }),
      2000,
    );
  });

  it("partial updates: the document requires a field (minProperties 1) and the server refuses {} with 400", async () => {
    expect(schemas.UpdateUser?.minProperties).toBe(1);
    expect(schemas.UpdateOrganization?.minProperties).toBe(1);
    const org = await createOrg();
    const token = org.users.OWNER.token;
    expectError(
      await call("PUT", `/organization/${org.id}`, { token, body: {} }),
      400,
      "bad_request",
      "No valid fields to update",
    );
    expectError(
      await call("PUT", `/organization/users/${org.users.USER.id}`, { token, body: {} }),
      400,
      "bad_request",
      "No valid fields to update",
    );
  });

  it("ids: every well-formed UUID the document allows is an id (v1, nil, max): not found, never 400", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    for (const id of [
      "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
      "00000000-0000-0000-0000-000000000000",
      "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      "6ba7b811-9dad-31d1-c0b4-00c04fd430c8",
    ]) {
      expectError(await call("GET", `/organization/users/${id}`, { token }), 404, "not_found");
      expectError(await call("DELETE", `/organization/users/${id}`, { token }), 404, "not_found");
      expectError(await call("GET", `/organization/${id}`, { token }), 403, "forbidden");
    }
  });

  it("query parameters: one with an empty name is refused like any unknown one, on every operation", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const user = `/organization/users/${org.users.USER.id}`;
    const operations: [string, string, unknown?][] = [
      ["GET", `/organization/${org.id}`],
      ["PUT", `/organization/${org.id}`, { city: "Porto" }],
      ["GET", "/organization/users"],
      [
        "POST",
        "/organization/users",
        { email: "empty-name@acme.example", password: "Passw0rd-ok", firstName: "E", lastName: "N" },
      ],
      ["GET", user],
      ["PUT", user, { name: "Renamed" }],
      ["DELETE", user],
      ["POST", `/organization/users/${org.deleted.id}/activate`],
      ["GET", "/health"],
    ];
    for (const [method, path, body] of operations) {
      for (const query of ["?=x", "?=", "?limit=1&=x"]) {
        const res = await call(method, `${path}${query}`, { token, body });
        expectError(res, 400, "validation_failed");
        expect(res.body.details).toEqual([{ path: "", message: "Unknown field" }]);
      }
    }
    // Nothing was written by any of them.
    expect((await call("GET", user, { token })).body).toMatchObject({ name: "Ada", deletedAt: null });
  });
});
