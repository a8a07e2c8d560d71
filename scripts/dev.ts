// npm run dev [-- wrangler dev options]: the API on http://localhost:8787 with a local D1 that
// is migrated, and seeded when empty, before wrangler starts.
import { spawn } from "node:child_process";
import { describe, formatDemo, seed } from "./lib/demo";
import { ensureJwtSecret, migrateLocal, withLocalDb, WRANGLER } from "./lib/local";

const args = process.argv.slice(2);
const portIndex = args.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
const port = portIndex < 0 ? "8787" : (args[portIndex]?.split("=")[1] ?? args[portIndex + 1] ?? "8787");

const secret = ensureJwtSecret();
migrateLocal();
const state = await withLocalDb(async (db) => {
  const orgs = await db.prepare("SELECT count(*) AS n FROM organizations").first<{ n: number }>();
  if (!orgs?.n) {
    await seed(db);
    console.log("Seeded the local database with demo data.");
  }
  return describe(db, secret);
});

const first = state.organizations[0];
const owner = first?.users.find((user) => user.orgRole === 255 && !user.deleted);
console.log(`\n${formatDemo(state)}`);
if (first && owner) {
  console.log("Try it:");
  console.log(`  curl -s -H "Authorization: Bearer ${owner.token}" http://localhost:${port}/organization/users\n`);
}

const child = spawn(WRANGLER, ["dev", ...(portIndex < 0 ? ["--port", port] : []), ...args], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
