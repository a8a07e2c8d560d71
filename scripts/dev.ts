// npm run dev [-- wrangler dev options]: the API on http://localhost:8787 with a local D1 that
// is migrated, and seeded when empty, before wrangler starts. Every email the Worker sends is
// stored by the local simulation; this prints its link and a token for its recipient.
import { spawn } from "node:child_process";
import { describe, formatDemo, seed } from "./lib/demo";
import { passThroughWithEmailReports } from "./lib/dev-output";
import { ensureJwtSecret, migrateLocal, withLocalDb, WRANGLER } from "./lib/local";

const args = process.argv.slice(2);
const portIndex = args.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
const port = portIndex < 0 ? "8787" : (args[portIndex]?.split("=")[1] ?? args[portIndex + 1] ?? "8787");
const origin = `http://localhost:${port}`;

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
  console.log(`  curl -s -H "Authorization: Bearer ${owner.token}" ${origin}/organization/users\n`);
}

// wrangler writes to pipes, read for the email blocks: it then shows no hotkeys (Ctrl-C still
// stops it), and colors only when told to, as it would on this terminal.
const env = { ...process.env };
if (process.stdout.isTTY && env.FORCE_COLOR === undefined) {
  env.FORCE_COLOR = String({ 4: 1, 8: 2, 24: 3 }[process.stdout.getColorDepth()] ?? 0);
}
const child = spawn(WRANGLER, ["dev", ...(portIndex < 0 ? ["--port", port] : []), ...args], {
  stdio: ["inherit", "pipe", "pipe"],
  env,
});

passThroughWithEmailReports(child, { secret, origin });

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
// "close" comes once wrangler's last output has been passed on; should a process it started keep
// the pipes open, its exit is enough after a moment.
child.on("close", (code) => process.exit(code ?? 0));
child.on("exit", (code) => setTimeout(() => process.exit(code ?? 0), 2_000).unref());
