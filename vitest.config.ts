import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type ViteUserConfig } from "vitest/config";

// Tests run inside workerd against a local D1 built from the real migrations.
export const TEST_JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef";

export default defineConfig(async (): Promise<ViteUserConfig> => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // nodejs_compat only for vitest's own runner modules; the worker does not use it.
          compatibilityFlags: ["nodejs_compat"],
          // Pinned, so a developer's own .dev.vars cannot change what the tests see.
          bindings: {
            JWT_ALG: "HS256",
            JWT_SECRET: TEST_JWT_SECRET,
            JWT_JWKS: "",
            JWT_JWKS_URL: "",
            JWT_ISSUER: "",
            JWT_AUDIENCE: "",
            TEST_MIGRATIONS: migrations,
            // Replays a fast-check failure (test/property): FC_SEED=<seed> [FC_PATH=<path>] npx vitest run ...
            FC_SEED: process.env.FC_SEED ?? "",
            FC_PATH: process.env.FC_PATH ?? "",
            FC_REPLAY_PATH: process.env.FC_REPLAY_PATH ?? "",
          },
          // The suite sends far more than a client would: the real limiter with a high limit, and a
          // second one with a limit of 1 for the tests that exercise the 429 path.
          // The API's invitations go to a real local queue that nothing consumes, so each test
          // delivers them itself through the real queue() handler (createMessageBatch) and sees
          // exactly what it sent. WIRED_INVITATIONS is the queue wrangler.toml wires to this
          // Worker's consumer, for the test of that wiring.
          // Empty databases for the upgrade tests, migrated step by step (test/db/migrations.test.ts).
          d1Databases: { UPGRADE_DB: "upgrade-test", SEARCH_UPGRADE_DB: "search-upgrade-test" },
          queueProducers: {
            INVITATIONS: { queueName: "org-api-invitations-unconsumed" },
            WIRED_INVITATIONS: { queueName: "org-api-invitations" },
            AUDIT_EVENTS: { queueName: "org-api-audit-events" },
          },
          ratelimits: {
            RATE_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } },
            AUTH_RATE_LIMITER: { namespace_id: "1003", simple: { limit: 1_000_000, period: 60 } },
            LOGIN_RATE_LIMITER: { namespace_id: "1004", simple: { limit: 1_000_000, period: 60 } },
            TIGHT_RATE_LIMITER: { namespace_id: "1002", simple: { limit: 1, period: 60 } },
          },
        },
      }),
    ],
    resolve: {
      // wrangler.toml's [alias], so that the tests run zod as it is deployed (src/lib/zod-bundled.ts).
      // Vite matches the pattern against every import, node_modules included (the plugin inlines them).
      alias: [{ find: /^zod$/, replacement: fileURLToPath(new URL("./src/lib/zod-bundled.ts", import.meta.url)) }],
    },
    test: {
      // One file per core (vitest's default leaves one core out): each file's tests run in a
      // workerd process of its own (vitest's default isolation), with storage of its own, so files
      // cannot see one another.
      maxWorkers: availableParallelism(),
      setupFiles: ["./test/helpers/apply-migrations.ts"],
      include: ["test/**/*.test.ts"],
      // The worker writes one JSON log line per request (src/log.ts); tests that care read them
      // through a spy, and the suite's output stays readable.
      onConsoleLog: (line) => (line.startsWith('{"level":') ? false : undefined),
      // CI also writes a machine-readable report, which .ci/run summarises.
      reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results/vitest.json" }]] : ["default"],
    },
  };
});
