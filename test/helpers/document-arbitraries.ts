import { Validator, type Schema } from "@cfworker/json-schema";
import fc from "fast-check";
import document from "../../openapi.json";

// fast-check arbitraries derived from the published document (openapi.json): its request-body and
// parameter schemas are the one source of the test inputs, so a generator cannot drift from what
// clients are told. No library turns zod 4 or JSON Schema into fast-check 4 arbitraries, so this
// covers the subset the document uses: type, enum, minLength/maxLength, pattern, format (email,
// uri, uuid), minimum/maximum, properties/required/additionalProperties/minProperties.
//
// Valid values satisfy the schema (each is checked by a JSON Schema validator with formats
// asserted); invalid ones break exactly one keyword, named beside the value. Lengths count code
// points, as JSON Schema does. Strings are well-formed Unicode (JSON text carries code points).

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  minProperties?: number;
  default?: unknown;
  $ref?: string;
};

type Operation = {
  parameters?: ({ name: string; in: string; schema: JsonSchema } | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
};
const DOC = document as unknown as Document;

function resolve(schema: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  const target = DOC.components.schemas[name];
  if (!target) throw new Error(`openapi.json has no schema ${name}`);
  return target;
}

function operation(method: string, path: string): Operation {
  const op = DOC.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`openapi.json has no operation ${method} ${path}`);
  return op;
}

/** The JSON request body schema of an operation. */
export function bodySchema(method: string, path: string): JsonSchema {
  const schema = operation(method, path).requestBody?.content["application/json"]?.schema;
  if (!schema) throw new Error(`${method} ${path} takes no JSON body`);
  return resolve(schema);
}

/** The query parameters of an operation, by name. */
export function queryParameters(method: string, path: string): Record<string, JsonSchema> {
  const params = operation(method, path).parameters ?? [];
  return Object.fromEntries(
    params.flatMap((p) => ("in" in p && p.in === "query" ? [[p.name, resolve(p.schema)] as [string, JsonSchema]] : [])),
  );
}

/** Every property name the document uses anywhere: the fields a client may confuse with a body's own. */
export const DOCUMENT_FIELD_NAMES: readonly string[] = [
  ...new Set(Object.values(DOC.components.schemas).flatMap((s) => Object.keys(s.properties ?? {}))),
].sort();

const validators = new WeakMap<JsonSchema, Validator>();

/** Whether the document's schema accepts `value`, formats asserted (as a generated client would check). */
export function documentAccepts(schema: JsonSchema, value: unknown): boolean {
  let validator = validators.get(schema);
  if (!validator) {
    validator = new Validator(schema as Schema, "2020-12", false);
    validators.set(schema, validator);
  }
  return validator.validate(value).valid;
}

// ---------------------------------------------------------------------------------------------
// Characters

/** Length in code points, as JSON Schema's minLength and maxLength count. */
export function codePoints(value: string): number {
  return [...value].length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// Characters that have broken SQL, LIKE, JSON or UTF-16 handling elsewhere, weighted in beside
// random ones: a pattern decides which of them a field may hold.
const SPECIAL = ["'", '"', ";", "%", "_", "\\", "`", "$", "é", "\u0301", "\u202e", "\u{1F600}", "\u{10FFFF}", "\u00a0", "\u0085"];

/** Any one code point (never a lone surrogate). */
const anyChar: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }), weight: 4 },
    { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 3 },
    { arbitrary: fc.constantFrom(...SPECIAL), weight: 2 },
  )
  .filter((c) => !LONE_SURROGATE.test(c));

/** A pattern that is one character class repeated (`^[...]*$`), as the document's text fields use. */
function charClassOf(pattern: string | undefined): RegExp | null {
  const m = pattern && /^\^(\[(?:\\.|[^\]\\])*\])[*+]\$$/.exec(pattern);
  return m ? new RegExp(`^${m[1]}$`, "u") : null;
}

/** The `(?=[\s\S]*X)` assertions a pattern is made of ("contains an X"), or null for another pattern. */
function containsAssertions(pattern: string | undefined): RegExp[] | null {
  if (!pattern) return null;
  const parts = /^\^((?:\(\?=\[\\s\\S\]\*(?:\\p\{\w+\}|\[[^\]]+\]|\\d|\w)\))+)$/.exec(pattern);
  if (!parts) return null;
  return [...parts[1]!.matchAll(/\(\?=\[\\s\\S\]\*(.+?)\)(?=\(|$)/g)].map((m) => new RegExp(`^${m[1]}$`, "u"));
}

const isBlank = (c: string) => /^\s$/u.test(c);

/** A length in [min, max], often exactly at a bound. */
export function lengthIn(min: number, max: number): fc.Arbitrary<number> {
  return fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }));
}

/**
 * `n` code points from `chars`, with no whitespace at either end. The server trims text before it
 * checks it, so a value with blank ends is not stored as sent; tests add blanks on purpose.
 */
function stringOf(chars: fc.Arbitrary<string>, n: number): fc.Arbitrary<string> {
  if (n === 0) return fc.constant("");
  const solid = chars.filter((c) => !isBlank(c));
  if (n === 1) return solid;
  return fc
    .tuple(solid, fc.array(chars, { minLength: n - 2, maxLength: n - 2 }), solid)
    .map(([a, middle, b]) => a + middle.join("") + b);
}

function stringType(schema: JsonSchema): boolean {
  return typesOf(schema).includes("string");
}

function typesOf(schema: JsonSchema): string[] {
  return schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
}

// ---------------------------------------------------------------------------------------------
// Valid values

const DEFAULT_MAX_LENGTH = 40;

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, DEFAULT_MAX_LENGTH);
  let arb: fc.Arbitrary<string>;
  switch (schema.format) {
    // fast-check's own generators for the formats; the other keywords filter them below.
    case "email":
      arb = fc.emailAddress();
      break;
    case "uri":
      // The document's pattern takes http(s) URIs with a host only: generated as such, not filtered.
      arb = fc.webUrl({ validSchemes: ["http", "https"], withQueryParameters: true, withFragments: true });
      break;
    case "uuid":
      arb = fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8] });
      break;
    default: {
      const charClass = charClassOf(schema.pattern);
      const contains = containsAssertions(schema.pattern);
      if (charClass) {
        arb = lengthIn(min, max).chain((n) =>
          stringOf(
            anyChar.filter((c) => charClass.test(c)),
            n,
          ),
        );
      } else if (contains) {
        // Room for one character of each kind the pattern asks for, the rest anything.
        const kinds = contains.map((re) => fc.stringMatching(re));
        arb = lengthIn(Math.max(min, contains.length), max).chain((n) =>
          fc
            .tuple(fc.array(anyChar, { minLength: n - kinds.length, maxLength: n - kinds.length }), fc.tuple(...kinds), fc.nat())
            .map(([rest, required, at]) => {
              const out = [...rest];
              for (const c of required) out.splice(at++ % (out.length + 1), 0, c);
              return out.join("");
            }),
        );
      } else {
        arb = lengthIn(min, max).chain((n) => stringOf(anyChar, n));
      }
    }
  }
  return arb.filter((value) => documentAccepts(schema, value));
}

/** Builds each schema's arbitrary once: generators built inside `chain` would otherwise rebuild it per value. */
function memo<T>(build: (schema: JsonSchema) => fc.Arbitrary<T>): (schema: JsonSchema) => fc.Arbitrary<T> {
  const built = new WeakMap<JsonSchema, fc.Arbitrary<T>>();
  return (schema) => {
    let arb = built.get(schema);
    if (!arb) {
      arb = build(schema);
      built.set(schema, arb);
    }
    return arb;
  };
}

/** Any value the schema accepts. */
export const validValue = memo(buildValidValue);

function buildValidValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const kinds = typesOf(schema).map((type): fc.Arbitrary<unknown> => {
    switch (type) {
      case "null":
        return fc.constant(null);
      case "boolean":
        return fc.boolean();
      case "integer":
        return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 });
      case "string":
        return validString(schema);
      case "object":
        return validObject(schema);
      default:
        throw new Error(`no generator for type ${type}`);
    }
  });
  return fc.oneof(...kinds);
}

/** Objects the schema accepts: its required properties and any of the others. */
export const validObject = memo(buildValidObject) as (schema: JsonSchema) => fc.Arbitrary<Record<string, unknown>>;

function buildValidObject(schema: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  return fc
    .record(Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, validValue(s)])), {
      requiredKeys: schema.required ?? [],
    })
    .filter((value) => Object.keys(value).length >= (schema.minProperties ?? 0)) as fc.Arbitrary<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------------------------
// Invalid values: each breaks one keyword of the schema

export type Violation = { value: unknown; keyword: string };

const OTHER_TYPES: Record<string, fc.Arbitrary<unknown>> = {
  string: fc.string({ maxLength: 5 }),
  integer: fc.integer(),
  number: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
};

const violation =
  (keyword: string) =>
  (value: unknown): Violation => ({ value, keyword });

/** `value` with one character inserted, replaced or removed inside it (its ends kept). */
function nearMiss(value: string, chars: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const units = [...value];
  if (units.length < 2) return fc.tuple(chars).map(([c]) => value + c);
  return fc
    .tuple(fc.integer({ min: 1, max: units.length - 1 }), fc.constantFrom("insert", "replace", "remove"), chars)
    .map(([at, how, c]) => {
      const out = [...units];
      if (how === "insert") out.splice(at, 0, c);
      else if (how === "replace" && at < units.length - 1) out.splice(at, 1, c);
      else if (at < units.length - 1) out.splice(at, 1);
      else out.splice(at, 0, c);
      return out.join("");
    });
}

function invalidStrings(schema: JsonSchema): fc.Arbitrary<Violation>[] {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength;
  const charClass = charClassOf(schema.pattern);
  const allowed = charClass ? anyChar.filter((c) => charClass.test(c)) : anyChar;
  const out: fc.Arbitrary<Violation>[] = [];
  if (max !== undefined) {
    out.push(
      lengthIn(max + 1, max + 40)
        .chain((n) => stringOf(allowed, n))
        .map(violation("maxLength")),
      // Characters outside the Basic Multilingual Plane: one code point, two UTF-16 units each.
      fc
        .integer({ min: max + 1, max: max + 3 })
        .map((n) => "\u{1F600}".repeat(n))
        .map(violation("maxLength")),
    );
  }
  if (min > 0) {
    out.push(
      fc
        .integer({ min: 0, max: min - 1 })
        .chain((n) => stringOf(allowed, n))
        .map(violation("minLength")),
    );
  }
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, "u");
    const refused = anyChar.filter((c) => !pattern.test(c));
    if (charClass && !pattern.test("")) out.push(fc.constant("").map(violation("pattern")));
    if (charClass) {
      // A character the class refuses, inside an otherwise valid value.
      const excluded = fc
        .oneof(
          fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCodePoint(c)),
          anyChar,
        )
        .filter((c) => !charClass.test(c));
      out.push(
        fc
          .tuple(validString({ ...schema, minLength: Math.max(min, 2), maxLength: (max ?? 42) - 1 }), excluded)
          .chain(([value, c]) => nearMiss(value, fc.constant(c)).filter((s) => !pattern.test(s)))
          .map(violation("pattern")),
      );
    } else {
      out.push(
        // Near-misses of a valid value, and any string of a valid length, that the pattern refuses.
        validString(schema)
          .chain((value) => nearMiss(value, fc.oneof(anyChar, refused)))
          .filter((s) => codePoints(s) >= min && (max === undefined || codePoints(s) <= max) && !pattern.test(s))
          .map(violation("pattern")),
        lengthIn(min, Math.min(max ?? min + 20, min + 20))
          .chain((n) => stringOf(anyChar, n))
          .filter((s) => !pattern.test(s))
          .map(violation("pattern")),
      );
    }
  }
  if (schema.format) {
    out.push(
      validString(schema)
        .chain((value) => nearMiss(value, anyChar))
        .filter((s) => !documentAccepts(schema, s))
        .map(violation("format")),
    );
  }
  return out;
}

/** Values the schema refuses, one broken keyword each. */
export const invalidValue = memo(buildInvalidValue);

function buildInvalidValue(schema: JsonSchema): fc.Arbitrary<Violation> {
  const types = typesOf(schema);
  const out: fc.Arbitrary<Violation>[] = [];
  const other = Object.entries(OTHER_TYPES)
    .filter(([type]) => !types.includes(type) && !(type === "integer" && types.includes("number")))
    .map(([, arb]) => arb);
  if (types.length > 0) out.push(fc.oneof(...other).map(violation("type")));
  if (schema.enum) {
    const members = schema.enum;
    if (types.includes("string")) {
      out.push(
        fc
          .oneof(
            // Another case or padding of a member, and any other string.
            fc.constantFrom(...members.flatMap((m) => [String(m).toLowerCase(), String(m).toUpperCase(), ` ${m}`, `${m} `])),
            fc.string({ maxLength: 10 }),
          )
          .filter((v) => !members.includes(v))
          .map(violation("enum")),
      );
    }
    if (types.includes("integer")) {
      out.push(
        fc
          .integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 })
          .filter((v) => !members.includes(v))
          .map(violation("enum")),
      );
    }
  }
  if (types.includes("integer")) {
    if (schema.minimum !== undefined) out.push(fc.integer({ max: schema.minimum - 1 }).map(violation("minimum")));
    if (schema.maximum !== undefined) out.push(fc.integer({ min: schema.maximum + 1 }).map(violation("maximum")));
  }
  if (stringType(schema)) out.push(...invalidStrings(schema));
  return fc.oneof(...out).filter(({ value }) => !documentAccepts(schema, value));
}

/** Property names the schema does not define: other fields of the document, near-misses of its own, any name. */
export function unknownProperty(schema: JsonSchema): fc.Arbitrary<string> {
  const own = Object.keys(schema.properties ?? {});
  return fc
    .oneof(
      fc.constantFrom(...DOCUMENT_FIELD_NAMES),
      fc.constantFrom(...own.flatMap((name) => [name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1), ` ${name}`])),
      // Names that are special to JavaScript objects.
      fc.constantFrom("__proto__", "constructor", "prototype", "toString"),
      fc.string({ minLength: 1, maxLength: 12 }),
    )
    .filter((name) => !own.includes(name));
}

export type InvalidBody = {
  /** The JSON text sent. */
  text: string;
  /** The field the refusal names. */
  field: string;
  keyword: string;
};

/** JSON text of `value` with `key` first; raw, as an object literal cannot hold an own "__proto__". */
function withKey(value: Record<string, unknown>, key: string, extra: unknown): string {
  const rest = JSON.stringify(value).slice(1);
  return `{${JSON.stringify(key)}:${JSON.stringify(extra) ?? "null"}${rest === "}" ? "}" : `,${rest}`}`;
}

/**
 * Bodies the schema refuses for one field: a property with a value it refuses, a required property
 * missing, a property it does not define. `base` is a valid body (from `validObject`, or adapted).
 */
export function invalidBody(schema: JsonSchema, base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<InvalidBody> {
  const properties = Object.entries(schema.properties ?? {});
  const kinds: fc.Arbitrary<InvalidBody>[] = [
    fc
      .tuple(
        base,
        fc.constantFrom(...properties).chain(([name, s]) => fc.tuple(fc.constant(name), invalidValue(s))),
      )
      .map(([body, [field, { value, keyword }]]) => ({ text: JSON.stringify({ ...body, [field]: value }), field, keyword })),
    fc.tuple(base, unknownProperty(schema), fc.jsonValue()).map(([body, field, value]) => ({
      text: withKey(body, field, value),
      field,
      keyword: "additionalProperties",
    })),
  ];
  if (schema.required?.length) {
    kinds.push(
      fc.tuple(base, fc.constantFrom(...schema.required)).map(([body, field]) => {
        const { [field]: _dropped, ...rest } = body;
        return { text: JSON.stringify(rest), field, keyword: "required" };
      }),
    );
  }
  return fc.oneof(...kinds);
}

// ---------------------------------------------------------------------------------------------
// Query parameters: values as the URL carries them

/** A parameter's value as sent in a query string. */
export function asQueryValue(value: unknown): string {
  return String(value);
}

/** Query-string values a parameter's schema refuses (every value on the wire is a string). */
export const invalidQueryValue = memo(buildInvalidQueryValue);

function buildInvalidQueryValue(schema: JsonSchema): fc.Arbitrary<Violation> {
  const types = typesOf(schema);
  if (types.includes("string")) return fc.oneof(...invalidStrings(schema));
  const out: fc.Arbitrary<Violation>[] = [
    // Text that is not of the type at all.
    fc
      .string({ maxLength: 8 })
      .filter((s) => (types.includes("boolean") ? s !== "true" && s !== "false" : !/^\d+$/.test(s)))
      .map(violation("type")),
  ];
  if (types.includes("integer")) {
    out.push(
      fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
        .filter((n) => !Number.isInteger(n))
        .map((n) => violation("type")(String(n))),
    );
    if (schema.minimum !== undefined)
      out.push(fc.integer({ min: schema.minimum - 1e6, max: schema.minimum - 1 }).map((n) => violation("minimum")(String(n))));
    if (schema.maximum !== undefined)
      out.push(fc.integer({ min: schema.maximum + 1, max: 2_000_000_000 }).map((n) => violation("maximum")(String(n))));
    if (schema.enum) {
      const members = schema.enum;
      out.push(
        fc
          .integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 })
          .filter((n) => !members.includes(n))
          .map((n) => violation("enum")(String(n))),
      );
    }
  }
  return fc.oneof(...out);
}
