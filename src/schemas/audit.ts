import * as z from "../lib/zod";
import type { AuditEventRow } from "../db/schema";
import { uuid, wire } from "./common";

// The audit log's wire shapes (GET /organization/audit-log). The actions are those the triggers of
// migration 0010 append.

const AUDIT_ACTIONS = [
  "organization.created",
  "organization.updated",
  "user.created",
  "user.updated",
  "user.deleted",
  "user.reactivated",
  "user.verified",
  "user.password_changed",
  "invitation.created",
  "invitation.sent",
  "invitation.failed",
  "session.created",
  "session.signed_out",
  "session.revoked",
  "session.ended",
] as const;

const AUDIT_PAGE_MAX = 100;
export const AUDIT_PAGE_DEFAULT = 50;
const CURSOR = /^[1-9][0-9]{0,15}$/;

const instant = z.iso.datetime({ offset: false }).max(30).openapi({ format: "date-time", example: "2026-01-01T00:00:00.000Z" });

export const AuditLogQuery = z.strictObject({
  actor: uuid.optional().openapi({ description: "Only the events of this user's writes" }),
  target: uuid.optional().openapi({ description: "Only the events about this organization, user, invitation or session" }),
  action: z.enum(AUDIT_ACTIONS).optional(),
  from: instant.optional().openapi({ description: "Only events at or after this time (UTC)" }),
  to: instant.optional().openapi({ description: "Only events before this time (UTC)" }),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, `Must be an integer from 1 to ${AUDIT_PAGE_MAX}`)
    .transform(Number)
    .refine((value) => value >= 1 && value <= AUDIT_PAGE_MAX, `Must be an integer from 1 to ${AUDIT_PAGE_MAX}`)
    .optional()
    .openapi({ type: "integer", format: "int32", minimum: 1, maximum: AUDIT_PAGE_MAX, default: AUDIT_PAGE_DEFAULT }),
  cursor: z.string().max(16).regex(CURSOR, "Not a cursor from this API").transform(Number).optional().openapi({
    type: "string",
    maxLength: 16,
    pattern: CURSOR.source,
    description: "Opaque; the `nextCursor` of the previous page",
  }),
});

const change = z.strictObject({
  field: wire.text(40),
  // Absent for personal fields (email, names) and credentials: only their names are kept.
  old: z.unknown().optional().openapi({ description: "The value before; absent for personal fields and credentials" }),
  new: z.unknown().optional().openapi({ description: "The value after; absent for personal fields and credentials" }),
});

const AuditEventSchema = z
  .strictObject({
    id: wire.text(16).openapi({ description: "The order of appending" }),
    at: wire.timestamp,
    actorId: wire.id.nullable().openapi({ description: "The user whose request made the change; null when no caller did" }),
    action: z.enum(AUDIT_ACTIONS),
    target: z.strictObject({ type: z.enum(["organization", "user", "invitation", "session"]), id: wire.id }),
    changes: z.array(change).max(20).nullable(),
    requestId: wire.text(64).nullable().openapi({ description: "Its request's X-Request-Id" }),
    clientAddress: wire.text(45).nullable(),
  })
  .openapi("AuditEvent");

export const AuditPageSchema = z.strictObject({
  success: z.literal(true),
  data: z.array(AuditEventSchema).max(AUDIT_PAGE_MAX),
  nextCursor: z.string().max(16).nullable().openapi({ pattern: CURSOR.source, description: "null on the last page" }),
});

export const AUDIT_EVENT_EXAMPLE = {
  id: "42",
  at: "2026-01-01T00:00:00.000Z",
  actorId: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f",
  action: "user.updated",
  target: { type: "user", id: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e80" },
  changes: [{ field: "orgRole", old: 0, new: 2 }, { field: "name" }],
  requestId: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e81",
  clientAddress: "203.0.113.7",
} as const;

/** A message of the AUDIT_EVENTS queue (src/audit/forward.ts): an event as the log answers it, with its organization. */
export type AuditEventMessage = z.infer<typeof AuditEventSchema> & { orgId: string };

/** The wire shape of an event row. */
export function toAuditEvent(row: AuditEventRow): z.infer<typeof AuditEventSchema> {
  return {
    id: String(row.id),
    at: row.at,
    actorId: row.actorId,
    action: row.action as (typeof AUDIT_ACTIONS)[number],
    target: { type: row.targetType as "user", id: row.targetId },
    changes: row.changes === null ? null : JSON.parse(row.changes),
    requestId: row.requestId,
    clientAddress: row.clientAddress,
  };
}
