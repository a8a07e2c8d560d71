// npm run seed [-- --json]: resets the local database to the demo state and prints it.
import { describe, DEMO_PASSWORD, formatDemo, seed, TOKEN_HOURS } from "./lib/demo";
import { ensureJwtSecret, migrateLocal, withLocalDb } from "./lib/local";

const json = process.argv.includes("--json");
const secret = ensureJwtSecret();
migrateLocal();
const state = await withLocalDb(async (db) => {
  await seed(db);
  return describe(db, secret);
});

if (json) {
  process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
} else {
  process.stdout.write(`Local database reset to the demo state. Password of every demo user: ${DEMO_PASSWORD}\n`);
  process.stdout.write(`Tokens are valid for ${TOKEN_HOURS} hours.\n\n${formatDemo(state)}`);
}
