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
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/helpers/apply-migrations.ts"],
      include: ["test/**/*.test.ts"],
      // CI also writes a machine-readable report, which .ci/run summarises.
      reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results/vitest.json" }]] : ["default"],
    },
  };
});
