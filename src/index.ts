import { app } from "./app";
import type { Bindings } from "./env";
import { handleInvitationBatch } from "./invitations/deliver";
import { sweepInvitations } from "./invitations/sweep";

export default {
  fetch: app.fetch,
  // The invitations queue and its dead-letter queue (wrangler.toml).
  queue: (batch, env) => handleInvitationBatch(batch, env),
  // The Cron Trigger: invitations whose message was lost are enqueued again.
  scheduled: async (controller, env) => {
    await sweepInvitations(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Bindings>;
