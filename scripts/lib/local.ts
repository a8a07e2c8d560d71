import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { getPlatformProxy } from "wrangler";

// Shared by the local tooling: the generated secret, migrations and a handle on the same
// local D1 database that `wrangler dev` serves (under .wrangler/state).

const DEV_VARS = ".dev.vars";
export const WRANGLER = "node_modules/.bin/wrangler";

// The Request.cf object is looked up online by default; this API does not read it, and the
// lookup fails without a network, so the local tooling runs with the built-in placeholder.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";

function readDevVars(): Map<string, string> {
  const vars = new Map<string, string>();
  if (!existsSync(DEV_VARS)) return vars;
  for (const line of readFileSync(DEV_VARS, "utf8").split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1]) vars.set(match[1], (match[2] ?? "").replace(/^"(.*)"$/, "$1"));
  }
  return vars;
}

/** The local signing secret; created in .dev.vars with a random value when missing. */
export function ensureJwtSecret(): string {
  const existing = readDevVars().get("JWT_SECRET");
  if (existing && Buffer.byteLength(existing) >= 32) return existing;
  const secret = randomBytes(32).toString("base64url");
  const previous = existsSync(DEV_VARS)
    ? readFileSync(DEV_VARS, "utf8")
        .replace(/^\s*JWT_SECRET\s*=.*$/m, "")
        .trimEnd()
    : "";
  writeFileSync(DEV_VARS, `${previous ? `${previous}\n` : ""}JWT_SECRET=${secret}\n`);
  console.error(`Created ${DEV_VARS} with a random JWT_SECRET.`);
  return secret;
}

/** Applies pending migrations to the local database (wrangler's own bookkeeping table). */
export function migrateLocal(): void {
  const result = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, CI: "true" },
    encoding: "utf8",
  });
  if (result.status !== 0) {
    process.stderr.write(result.stdout ?? "");
    throw new Error("Applying local migrations failed");
  }
}

/** Runs `action` with the local D1 binding that `wrangler dev` also uses. */
export async function withLocalDb<T>(action: (db: D1Database) => Promise<T>): Promise<T> {
  // Wrangler logs its informational lines to stdout; keep stdout for the script's own output.
  const logLevel = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = "warn";
  const proxy = await getPlatformProxy<{ DB: D1Database }>({ configPath: "wrangler.toml", persist: true });
  try {
    return await action(proxy.env.DB);
  } finally {
    await proxy.dispose();
    if (logLevel === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = logLevel;
  }
}
