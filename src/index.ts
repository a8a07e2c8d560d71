import { app } from "./app";
import { forwardAuditEvents } from "./audit/forward";
import { createDb } from "./db/client";
import { deleteExpiredAnswers } from "./db/idempotency";
import type { Bindings } from "./env";
import { handleInvitationBatch } from "./invitations/deliver";
import { sweepInvitations } from "./invitations/sweep";
import { log } from "./log";

// One line as the isolate starts (locally, each start shows in the console). It is also the
// isolate's first use of the console, which costs about 2 ms in workerd (measured): paid here, at
// startup (which Cloudflare overlaps with the TLS handshake), rather than by the first answer.
log({ level: "info", event: "isolate_started" });

export default {
  fetch: app.fetch,
  // The invitations queue and its dead-letter queue (wrangler.toml).
  queue: (batch, env) => handleInvitationBatch(batch, env),
  // The Cron Trigger: invitations whose message was lost are enqueued again, audit events are sent
  // onward, and the answers of expired idempotency keys are deleted.
  // Each runs whatever the others do; a failure still fails the run, so the platform records it.
  scheduled: async (controller, env) => {
    const outcomes = await Promise.allSettled([
      sweepInvitations(env, controller.scheduledTime),
      forwardAuditEvents(env),
      deleteExpiredAnswers(createDb(env.DB), new Date(controller.scheduledTime).toISOString()),
    ]);
    for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
  },
} satisfies ExportedHandler<Bindings>;
