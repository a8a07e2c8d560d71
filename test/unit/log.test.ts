import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { summarizeError } from "../../src/log";

// What a log line may say of an error: its class and its messages, without any bound value.

describe("summarizeError", () => {
  it("removes every bound value from the message and the driver's cause, and cuts off the parameter list", () => {
    const hash = "pbkdf2-sha256$100000$c2FsdA$aGFzaA";
    const values = ["ada@example.com", "Ada", hash, 42];
    const cause = new Error(`D1_ERROR: CHECK constraint failed for ada@example.com: SQLITE_CONSTRAINT`);
    const error = new DrizzleQueryError(
      'insert into "users" ("email", "first_name", "password_hash", "org_role") values (?, ?, ?, ?)',
      values,
      cause,
    );
    expect(error.message).toContain(hash); // what Drizzle itself would print

    const summary = summarizeError(error);
    expect(summary).toEqual({
      class: "DrizzleQueryError",
      message: 'Failed query: insert into "users" ("email", "first_name", "password_hash", "org_role") values (?, ?, ?, ?)',
      cause: "D1_ERROR: CHECK constraint failed for ?: SQLITE_CONSTRAINT",
    });
    for (const value of ["ada@example.com", "Ada", hash]) expect(JSON.stringify(summary)).not.toContain(value);
  });

  it("keeps a message without bound values, clipped, and names a thrown non-error by its type", () => {
    expect(summarizeError(new TypeError("x".repeat(1000)))).toEqual({ class: "TypeError", message: "x".repeat(400) });
    expect(summarizeError("a string")).toEqual({ class: "string" });
  });
});
