import type { Db } from "./db/client";
import type { CallerRef } from "./db/verdict";
import type { InvitationMessage } from "./invitations/message";
import type { AuditEventMessage } from "./schemas/audit";
import type { ErrorSummary } from "./log";

/** Settings a deployment may leave unset: the secrets and optional variables of `.dev.vars.example`. */
type Optional = "JWT_SECRET" | "JWT_SIGNING_KEYS" | "JWT_JWKS" | "JWT_JWKS_URL" | "JWT_ISSUER" | "JWT_AUDIENCE" | "CORS_ORIGINS";

/**
 * The Worker's bindings and variables as `wrangler types` declares them (worker-configuration.d.ts,
 * from wrangler.toml and `.dev.vars.example`), with what it cannot know: which settings may be
 * unset, and the messages each queue carries. AUDIT_EVENTS may be dropped: nothing is forwarded.
 */
export type Bindings = Omit<Env, Optional | "INVITATIONS" | "AUDIT_EVENTS"> &
  Partial<Pick<Env, Optional>> & {
    INVITATIONS: Queue<InvitationMessage>;
    AUDIT_EVENTS?: Queue<AuditEventMessage>;
  };

/**
 * `caller` is who the token names (authentication reads nothing; each operation's batch judges
 * them). `judged` is set once that batch's verdict is in (src/middleware/operation.ts).
 * `requestId` is set first for every request; `errorCode` and `failure` record how it failed, for
 * its log line (src/middleware/request-log.ts).
 */
export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    /** The request's database: its D1 session (src/middleware/d1-session.ts). */
    db: Db;
    caller: CallerRef;
    /** The writer the audit log names when no caller is authenticated: the account signing in. */
    actorId?: string;
    judged?: boolean;
    errorCode?: string;
    failure?: ErrorSummary;
  };
};
