// The peer's better-auth configuration, shared by the worker (worker.ts) and by the schema
// generator's config (auth.cli.ts): the organization plugin with its documented defaults (roles
// owner/admin/member, membershipLimit 100) and better-auth's session defaults (no cookie cache, 7-day
// sessions refreshed after a day).
import type { BetterAuthOptions } from "better-auth";
import { organization } from "better-auth/plugins";

export const peerOptions = {
  basePath: "/api/auth",
  plugins: [organization()],
  // Measured without rate limiting, as the API is (bench/run.ts); off already outside
  // NODE_ENV=production, said here so that it stays off.
  rateLimit: { enabled: false },
  // No telemetry from a benchmark.
  telemetry: { enabled: false },
} satisfies BetterAuthOptions;
