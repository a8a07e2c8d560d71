import { Validator, type Schema } from "@cfworker/json-schema";
import { assert } from "vitest";
import document from "../../openapi.json";

// Contract check: every response the suite receives is validated against the committed
// openapi.json, the document clients read. A response that the document does not describe
// (an undocumented status, a renamed or missing field, a wrong type, a non-JSON body) fails the
// test that received it.

type MediaType = { schema?: unknown };
type HeaderSchema = { type?: string; minimum?: number; maximum?: number; maxLength?: number; pattern?: string };
type HeaderObject = { schema?: HeaderSchema; required?: boolean };
type ResponseObject = { content?: Record<string, MediaType>; headers?: Record<string, HeaderObject> };
type OperationObject = { responses: Record<string, ResponseObject> };
type OpenApiDocument = {
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, unknown> };
};

const DOCUMENT = document as unknown as OpenApiDocument;
const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

export type Operation = { method: string; path: string; statuses: string[] };

/** The document's operations, as `GET /organization/{orgId}` with their documented statuses. */
export const OPERATIONS: Operation[] = Object.entries(DOCUMENT.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, operation]) => ({ method: method.toUpperCase(), path, statuses: Object.keys(operation.responses) })),
);

type Template = { path: string; pattern: RegExp; literals: number };

// A literal segment beats a parameter: `/organization/users` is not `/organization/{orgId}`.
const TEMPLATES: Template[] = Object.keys(DOCUMENT.paths)
  .map((path) => {
    const segments = path.split("/");
    const source = segments.map((s) => (/^\{\w+\}$/.test(s) ? "[^/]+" : s.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))).join("/");
    return { path, pattern: new RegExp(`^${source}$`), literals: segments.filter((s) => !s.startsWith("{")).length };
  })
  .sort((a, b) => b.literals - a.literals);

/** The documented path template a request path belongs to, or undefined when it is not an API path. */
export function templateOf(pathname: string): string | undefined {
  return TEMPLATES.find((t) => t.pattern.test(pathname))?.path;
}

// Keys whose values are maps of names to schemas: their keys are names, not keywords.
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "dependentSchemas"]);

/**
 * Copies a schema so it stands alone: `#/components/schemas/X` becomes `#/$defs/X`, and the
 * examples go (they are not validated, and the validator would read an example's `id` as a URI).
 */
function standalone(value: unknown, names = false): unknown {
  if (Array.isArray(value)) return value.map((item) => standalone(item));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => names || (key !== "example" && key !== "examples"))
      .map(([key, inner]) => [
        key,
        !names && key === "$ref" && typeof inner === "string"
          ? inner.replace(/^#\/components\/schemas\//, "#/$defs/")
          : standalone(inner, !names && SCHEMA_MAPS.has(key)),
      ]),
  );
}

const DEFS = standalone(DOCUMENT.components.schemas, true) as Record<string, Schema>;
const validators = new Map<string, Validator>();

function validatorFor(key: string, schema: unknown): Validator {
  let validator = validators.get(key);
  if (!validator) {
    validator = new Validator({ ...(standalone(schema) as Schema), $defs: DEFS }, "2020-12", false);
    validators.set(key, validator);
  }
  return validator;
}

/** `METHOD template status` of every response that was checked against an operation. */
export const checked = new Set<string>();

export type ContractResponse = { status: number; headers: Headers; body: unknown; text: string };

function mediaType(headers: Headers): string {
  return (headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
}

function isJson(type: string): boolean {
  return /^application\/(?:[a-z0-9.+-]+\+)?json$/.test(type);
}

const WRAPPERS = new Set(["$ref", "allOf", "anyOf", "oneOf", "properties", "patternProperties", "items", "prefixItems"]);

function validateBody(label: string, key: string, schema: unknown, response: ContractResponse) {
  if (response.body === null && response.text.trim() !== "null") {
    assert.fail(`${label}: body is not JSON: ${JSON.stringify(response.text.slice(0, 200))}`);
  }
  const result = validatorFor(key, schema).validate(response.body);
  if (!result.valid) {
    // The leaf errors say what is wrong; the others only say that a subschema failed.
    const leaves = result.errors.filter((e) => !WRAPPERS.has(e.keyword));
    const errors = (leaves.length > 0 ? leaves : result.errors)
      .slice(0, 12)
      .map((e) => `  ${e.instanceLocation || "#"}: ${e.error} (${e.keywordLocation})`)
      .join("\n");
    assert.fail(`${label}: body does not match the document's schema:\n${errors}\nbody: ${response.text.slice(0, 500)}`);
  }
}

/** A header value against its documented schema: the subset of JSON Schema the document's headers use. */
function headerProblem(value: string, schema: HeaderSchema = {}): string | undefined {
  if (schema.type === "integer") {
    if (!/^\d{1,15}$/.test(value)) return "not an integer";
    const n = Number(value);
    if (schema.minimum !== undefined && n < schema.minimum) return `below ${schema.minimum}`;
    if (schema.maximum !== undefined && n > schema.maximum) return `above ${schema.maximum}`;
    return undefined;
  }
  if (schema.maxLength !== undefined && [...value].length > schema.maxLength) return `longer than ${schema.maxLength}`;
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) return `does not match ${schema.pattern}`;
  return undefined;
}

/** Every header the document lists for the answer: present when required, and within its schema. */
function validateHeaders(label: string, documented: ResponseObject, headers: Headers) {
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const value = headers.get(name);
    if (value === null) {
      if (header.required) assert.fail(`${label}: the documented header ${name} is missing`);
      continue;
    }
    const problem = headerProblem(value, header.schema);
    if (problem) assert.fail(`${label}: header ${name}: ${JSON.stringify(value.slice(0, 200))} is ${problem}`);
  }
}

/**
 * A method the path does not offer: its 405 is documented on each of the path's operations (the
 * same answer), so it is checked against that and counts as checked for each of them.
 */
function checkUnofferedMethod(label: string, template: string, response: ContractResponse) {
  const operations = Object.entries(DOCUMENT.paths[template]!).filter(([, op]) => op.responses["405"]);
  if (response.status !== 405 || operations.length === 0) return checkOutsideOperations(label, response);
  for (const [method, operation] of operations) {
    const documented = operation.responses["405"]!;
    validateHeaders(label, documented, response.headers);
    validateContent(label, `${method.toUpperCase()} ${template}`, documented, response);
    checked.add(`${method.toUpperCase()} ${template} 405`);
  }
}

/** 404 and 405 outside the documented operations: still the `Error` envelope, or `Problem` details. */
function checkOutsideOperations(label: string, response: ContractResponse) {
  if (response.status !== 404 && response.status !== 405) return;
  const type = mediaType(response.headers);
  if (!isJson(type)) {
    assert.fail(`${label}: expected a JSON Content-Type, got ${JSON.stringify(response.headers.get("Content-Type"))}`);
  }
  const schema = type === "application/problem+json" ? "Problem" : "Error";
  validateBody(label, schema, { $ref: `#/components/schemas/${schema}` }, response);
}

/**
 * Fails (with an assertion error) unless `response` is what the committed document says
 * `method` on `url` (a path or an absolute URL) may answer.
 */
export function expectContract(method: string, url: string, response: ContractResponse): void {
  const verb = method.toUpperCase();
  const pathname = new URL(url, "https://api.test").pathname;
  const label = `${verb} ${pathname} answered ${response.status}`;
  // Every answer, documented operation or not, carries the request's id.
  if (!response.headers.get("X-Request-Id")) assert.fail(`${label}: no X-Request-Id header`);
  const template = templateOf(pathname);
  if (template === undefined) return checkOutsideOperations(label, response);

  // HEAD runs the GET operation without a body.
  const operation = DOCUMENT.paths[template]![(verb === "HEAD" ? "GET" : verb).toLowerCase()];
  // A CORS preflight answered by the CORS policy is not an operation: an empty 204.
  if (verb === "OPTIONS" && response.status === 204) {
    if (response.text !== "") assert.fail(`${label}: a preflight answer has no body`);
    return;
  }
  if (!operation) {
    // A method the path does not offer: only 405 (or 404) is acceptable, never an undocumented operation.
    if (response.status !== 405 && response.status !== 404) {
      assert.fail(`${label}: ${verb} ${template} is not a documented operation`);
    }
    return checkUnofferedMethod(label, template, response);
  }

  const name = `${verb === "HEAD" ? "GET" : verb} ${template}`;
  const status = String(response.status);
  const documented = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default;
  if (!documented) assert.fail(`${label}: undocumented status ${response.status} for ${name}`);
  checked.add(`${name} ${response.status}`);
  validateHeaders(label, documented, response.headers);
  if (verb === "HEAD") return;

  validateContent(label, name, documented, response);
}

/** The body against the documented media type its Content-Type names, or none when none is documented. */
function validateContent(label: string, name: string, documented: ResponseObject, response: ContractResponse) {
  const content = Object.entries(documented.content ?? {});
  if (content.length === 0) {
    if (response.text !== "") assert.fail(`${label}: documented without a body, but one was sent`);
    return;
  }
  const type = mediaType(response.headers);
  const match = content.find(([documentedType]) => documentedType.toLowerCase() === type);
  if (!match) {
    const expected = content.map(([t]) => t).join(", ");
    assert.fail(`${label}: Content-Type ${JSON.stringify(response.headers.get("Content-Type"))}, documented: ${expected}`);
  }
  const [documentedType, media] = match;
  if (isJson(documentedType) && media.schema !== undefined) {
    validateBody(label, `${name} ${response.status} ${documentedType}`, media.schema, response);
  }
}
