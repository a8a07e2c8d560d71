import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { listAuditEvents } from "../db/audit";
import type { AppEnv } from "../env";
import { MESSAGES } from "../errors";
import { allowOnly } from "../middleware/method-not-allowed";
import { admit, operation } from "../middleware/operation";
import { validationHook } from "../middleware/validate";
import { AUDIT_EVENT_EXAMPLE, AUDIT_PAGE_DEFAULT, AuditLogQuery, AuditPageSchema, toAuditEvent } from "../schemas/audit";
import { nextPageLink } from "../lib/cursor";
import { nextLinkHeader } from "../schemas/common";
import { bearer, errorResponses, jsonContent, methodNotAllowed } from "../schemas/envelope";

export const auditLog = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const PATH = "/organization/audit-log";
const METHODS = ["GET"];
const READ_AUDIT_LOG = operation("readAuditLog");

const auditLogRoute = createRoute({
  method: "get",
  operationId: "readAuditLog",
  path: PATH,
  tags: ["Organization"],
  summary: "Read the organization's audit log",
  description:
    "ADMINISTRATOR or higher. Every change to the organization, its users, their invitations and sessions, newest first. Events cannot be changed or deleted through the API.",
  security: bearer,
  ...READ_AUDIT_LOG.documented,
  middleware: READ_AUDIT_LOG.middleware,
  request: { query: AuditLogQuery },
  responses: {
    200: jsonContent(
      AuditPageSchema,
      "A page of events",
      { success: true, data: [AUDIT_EVENT_EXAMPLE], nextCursor: null },
      nextLinkHeader("/organization/audit-log?cursor=41"),
    ),
    ...errorResponses(MESSAGES.auditLogRole),
    405: methodNotAllowed(METHODS),
  },
});

auditLog.openapi(auditLogRoute, async (c) => {
  const { cursor, limit, ...filter } = c.req.valid("query");
  const page = await listAuditEvents(c.var.db, READ_AUDIT_LOG.policy, { caller: c.get("caller") }, filter, {
    limit: limit ?? AUDIT_PAGE_DEFAULT,
    before: cursor,
  });
  admit(c, READ_AUDIT_LOG, page.verdict);
  const nextCursor = page.next === null ? null : String(page.next);
  if (nextCursor) c.header("Link", nextPageLink(c.req.url, nextCursor));
  return c.json({ success: true as const, data: page.items.map(toAuditEvent), nextCursor }, 200);
});

allowOnly(auditLog, PATH, METHODS);
