// The config `npx auth@1.7.7 generate` reads to write schema.ts (see schema.sql for the command):
// the peer's options on a Drizzle adapter that is never queried.
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { betterAuth } from "better-auth";
import { peerOptions } from "./options";

export const auth = betterAuth({
  ...peerOptions,
  database: drizzleAdapter({}, { provider: "sqlite" }),
});
