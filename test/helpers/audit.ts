// GET /organization/audit-log and the events it answers, as a client reads them.

export const AUDIT_LOG = "/organization/audit-log";

export type AuditEvent = {
  id: string;
  at: string;
  actorId: string | null;
  action: string;
  target: { type: string; id: string };
  changes: { field: string; old?: unknown; new?: unknown }[] | null;
  requestId: string | null;
  clientAddress: string | null;
};
