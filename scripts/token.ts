// npm run token -- <userId>: prints a fresh access token for a live user of the local database.
import { issueToken } from "./lib/demo";
import { ensureJwtSecret, withLocalDb } from "./lib/local";

const userId = process.argv[2];
if (!userId) {
  console.error("usage: npm run token -- <userId>");
  process.exit(2);
}
const secret = ensureJwtSecret();
const found = await withLocalDb((db) =>
  db.prepare("SELECT id FROM users WHERE id = ? AND deleted_at IS NULL").bind(userId.toLowerCase()).first(),
);
if (!found) {
  console.error(`No live user ${userId} in the local database (see npm run seed).`);
  process.exit(1);
}
process.stdout.write(`${await issueToken(userId.toLowerCase(), secret)}\n`);
