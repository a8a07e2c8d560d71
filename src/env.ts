import type { Db } from "./db/client";
import type { CallerRef } from "./db/verdict";
import type { InvitationMessage } from "./invitations/message";
import type { AuditEventMessage } from "./schemas/audit";
import type { ErrorSummary } from "./log";

/**
 * What a deployment may leave unset: every variable and secret (each has its default, or its
 * absence a meaning; an `[env.*]` section does not inherit `[vars]`), the rate limiters (without one,
 * nothing is limited) and AUDIT_EVENTS (nothing is forwarded).
 */
type Optional =
  | { [K in keyof Env]: Env[K] extends string ? K : never }[keyof Env]
  | "RATE_LIMITER"
  | "AUTH_RATE_LIMITER"
  | "LOGIN_RATE_LIMITER";

/**
 * The Worker's bindings and variables as `wrangler types` declares them (worker-configuration.d.ts,
 * from wrangler.toml and `.dev.vars.example`), with what it cannot know: which may be unset, and
 * the messages each queue carries.
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
