import { app } from "./app";
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
  // The Cron Trigger: invitations whose message was lost are enqueued again, and the answers of
  // expired idempotency keys are deleted.
  scheduled: async (controller, env) => {
    await sweepInvitations(env, controller.scheduledTime);
    await deleteExpiredAnswers(createDb(env.DB), new Date(controller.scheduledTime).toISOString());
  },
} satisfies ExportedHandler<Bindings>;
