import { describe, expect, it } from "vitest";
import committed from "../../openapi.json";
import { app } from "../../src/app";
import { openApiDocument } from "../../src/openapi";

// The route definitions are the single source of the contract; this guards that they still
// produce a complete document (published by a later change).
// No bearer token: the health check, the verification routes (the link's token is the credential)
// and sign-in, refresh and sign-out (the password or the refresh token is).
const PUBLIC = [
  "/health",
  "/user/pre-verify-email",
  "/user/verify-email",
  "/user/login",
  "/user/refresh",
  "/user/logout",
  "/user/register",
  "/user/resend-verification/{verificationTokenId}",
  "/.well-known/jwks.json",
];

describe("route definitions as an OpenAPI document", () => {
  const doc = openApiDocument(app);

  it("matches the committed openapi.json (run `npm run openapi` after changing a route or schema)", () => {
    expect(JSON.parse(JSON.stringify(doc))).toEqual(committed);
  });

  it("describes the eight organization operations, the audit log, the invitation and verification operations and the health check", () => {
    const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      ["get", "put", "post", "delete"]
        .filter((method) => method in (item as object))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "GET /organization/{orgId}",
        "PUT /organization/{orgId}",
        "GET /organization/users",
        "POST /organization/users",
        "GET /organization/users/{userId}",
        "PUT /organization/users/{userId}",
        "DELETE /organization/users/{userId}",
        "POST /organization/users/{userId}/activate",
        "POST /organization/users/{userId}/resend-invitation",
        "GET /organization/audit-log",
        "POST /user/pre-verify-email",
        "POST /user/verify-email",
        "POST /user/login",
        "POST /user/refresh",
        "POST /user/logout",
        "GET /token",
        "DELETE /token/{tokenId}",
        "GET /user/profile",
        "PUT /user/{userId}",
        "POST /user/register",
        "POST /user/resend-verification/{verificationTokenId}",
        "GET /.well-known/jwks.json",
        "GET /health",
      ].sort(),
    );
  });

  it("requires the bearer scheme on every operation but the public ones, and documents the error envelope", () => {
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const operation of Object.values(item as Record<string, { security?: unknown; responses: Record<string, unknown> }>)) {
        if (PUBLIC.includes(path)) {
          expect(operation.security).toEqual([]);
          continue;
        }
        expect(operation.security).toEqual([{ bearerAuth: [] }]);
        expect(operation.responses["401"]).toBeDefined();
      }
    }
    expect(doc.components?.schemas?.Error).toBeDefined();
  });

  it("documents X-Request-Id on every answer of every operation, and 405 with Allow on each", () => {
    type Operation = { responses: Record<string, { headers?: Record<string, { required?: boolean }> }> };
    for (const item of Object.values(doc.paths ?? {})) {
      for (const operation of Object.values(item as Record<string, Operation>)) {
        for (const response of Object.values(operation.responses)) {
          expect(response.headers?.["X-Request-Id"]?.required).toBe(true);
        }
        expect(operation.responses["405"]?.headers?.Allow?.required).toBe(true);
      }
    }
  });

  it("links the id createUser answers to the operations that take a user id", () => {
    const created = (doc.paths?.["/organization/users"] as { post: { responses: Record<string, { links?: unknown }> } }).post
      .responses["201"];
    expect(created?.links).toEqual(
      Object.fromEntries(
        ["getUser", "updateUser", "deleteUser", "activateUser"].map((operationId) => [
          operationId,
          { operationId, parameters: { userId: "$response.body#/data/id" } },
        ]),
      ),
    );
    const ids = Object.values(doc.paths ?? {}).flatMap((item) =>
      Object.values(item as Record<string, { operationId?: string }>).map((op) => op.operationId),
    );
    for (const operationId of ["getUser", "updateUser", "deleteUser", "activateUser"]) expect(ids).toContain(operationId);
  });

  it("documents write bodies as closed objects without server-owned fields", () => {
    const create = doc.components?.schemas?.CreateUser as { properties: Record<string, unknown>; additionalProperties?: unknown };
    expect(Object.keys(create.properties).sort()).toEqual(
      ["authMethod", "email", "firstName", "lastName", "orgRole", "password", "provider", "sendInvite"].sort(),
    );
    expect(create.additionalProperties).toBe(false);
  });
});
