import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** fast-check replay (test/property): the seed and path a failure printed; empty when not replaying. */
      FC_SEED: string;
      FC_PATH: string;
      /** fast-check replay of a command sequence (test/property/model.test.ts): the printed replayPath. */
      FC_REPLAY_PATH: string;
      TIGHT_RATE_LIMITER: RateLimit;
      /** Empty: the upgrade test applies the migrations to it one by one. */
      UPGRADE_DB: D1Database;
      /** Empty: the search upgrade test applies the migrations before 0006, writes users, then the rest. */
      SEARCH_UPGRADE_DB: D1Database;
      /** The queue wrangler.toml's consumer reads (INVITATIONS goes to one nothing reads). */
      WIRED_INVITATIONS: Queue<import("../src/invitations/message").InvitationMessage>;
    }
  }
}
