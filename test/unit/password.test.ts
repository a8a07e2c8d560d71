import { describe, expect, it, vi } from "vitest";
import { hashPassword, PBKDF2_ITERATIONS, PBKDF2_MAX_ITERATIONS, timingSafeEqual, verifyPassword } from "../../src/auth/password";
import { call } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { b64url } from "../helpers/jws";
import { userRow } from "../helpers/snapshot";

// Production Workers refuse PBKDF2 above 100,000 iterations while local workerd does not,
// so the cap is asserted here rather than discovered in production.
const WORKERS_CAP = 100_000;
const FORMAT = /^pbkdf2-sha256\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

const PASSWORD = "Correct-horse-9";

function iterationsOf(stored: string): number {
  const match = FORMAT.exec(stored);
  if (!match) throw new Error(`not a PBKDF2 hash: ${stored}`);
  return Number(match[1]);
}

/** The same stored hash with its iteration field replaced. */
function withIterations(stored: string, iterations: string): string {
  const [scheme, , salt, hash] = stored.split("$");
  return [scheme, iterations, salt, hash].join("$");
}

/** A correct PBKDF2-SHA256 hash in the stored format, computed independently of src. */
async function referenceHash(password: string, iterations: number): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return `pbkdf2-sha256$${iterations}$${b64url(salt)}$${b64url(new Uint8Array(bits))}`;
}

describe("hashPassword", () => {
  it("stays within the Workers PBKDF2 cap", () => {
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(WORKERS_CAP);
    expect(PBKDF2_MAX_ITERATIONS).toBeLessThanOrEqual(WORKERS_CAP);
  });

  it("produces pbkdf2-sha256$iterations$salt$hash with the configured cost", async () => {
    const stored = await hashPassword(PASSWORD);
    expect(stored).toMatch(FORMAT);
    expect(iterationsOf(stored)).toBe(PBKDF2_ITERATIONS);
    expect(iterationsOf(stored)).toBeLessThanOrEqual(WORKERS_CAP);
  });

  it("salts every hash: two hashes of one password differ", async () => {
    const [first, second] = [await hashPassword(PASSWORD, 1), await hashPassword(PASSWORD, 1)];
    expect(first).not.toBe(second);
    expect(first.split("$")[2]).not.toBe(second.split("$")[2]);
  });

  it("matches an independent PBKDF2-SHA256 computation", async () => {
    await expect(verifyPassword(PASSWORD, await referenceHash(PASSWORD, 1000))).resolves.toBe(true);
  });

  it.each([[WORKERS_CAP + 1], [1_000_000], [0], [-1], [1.5], [Number.NaN]])("throws for %s iterations", async (iterations) => {
    await expect(hashPassword(PASSWORD, iterations)).rejects.toThrow(RangeError);
  });
});

describe("verifyPassword", () => {
  it("accepts the right password and refuses a wrong one", async () => {
    const stored = await hashPassword(PASSWORD);
    await expect(verifyPassword(PASSWORD, stored)).resolves.toBe(true);
    await expect(verifyPassword("correct-horse-9", stored)).resolves.toBe(false);
    await expect(verifyPassword(`${PASSWORD} `, stored)).resolves.toBe(false);
    await expect(verifyPassword("", stored)).resolves.toBe(false);
  });

  it("refuses a correct hash whose iteration count is above the cap", async () => {
    // Local workerd computes it; production would throw. Either way it must not be used.
    const stored = await referenceHash(PASSWORD, WORKERS_CAP + 1);
    await expect(verifyPassword(PASSWORD, stored)).resolves.toBe(false);
  });

  it.each<[string, (valid: string) => string]>([
    ["an empty string", () => ""],
    ["plain text", () => PASSWORD],
    ["another scheme", (valid) => valid.replace("pbkdf2-sha256", "pbkdf2-sha512")],
    ["a missing hash part", (valid) => valid.split("$").slice(0, 3).join("$")],
    ["an extra part", (valid) => `${valid}$extra`],
    ["non-numeric iterations", (valid) => withIterations(valid, "1e3")],
    ["zero iterations", (valid) => withIterations(valid, "0")],
    ["negative iterations", (valid) => withIterations(valid, "-1000")],
    ["an absurd iteration count", (valid) => withIterations(valid, "99999999999")],
    ["a salt that is not base64url", (valid) => valid.replace(/^(pbkdf2-sha256\$\d+\$)[^$]+/, "$1sa+lt/==")],
    ["an empty hash", (valid) => valid.replace(/[^$]+$/, "")],
    ["a hash that is not base64url", (valid) => valid.replace(/[^$]+$/, "not base64!")],
  ])("returns false for a stored value with %s", async (_name, corrupt) => {
    const valid = await referenceHash(PASSWORD, 1000);
    await expect(verifyPassword(PASSWORD, valid)).resolves.toBe(true);
    await expect(verifyPassword(PASSWORD, corrupt(valid))).resolves.toBe(false);
  });
});

describe("verifyPassword's work", () => {
  it.each<[string, string | undefined]>([
    ["no stored hash (no account)", undefined],
    ["an empty stored hash (no password)", ""],
    ["a malformed stored hash", "plain text"],
    ["a stored hash above the cap", `pbkdf2-sha256$${WORKERS_CAP + 1}$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA`],
  ])("checks %s against the stand-in at the current cost, as a wrong password costs, and refuses", async (_name, stored) => {
    const derive = vi.spyOn(crypto.subtle, "deriveBits");
    await expect(verifyPassword(PASSWORD, stored)).resolves.toBe(false);
    expect(derive).toHaveBeenCalledTimes(1);
    expect(derive.mock.calls[0]?.[0]).toMatchObject({ name: "PBKDF2", iterations: PBKDF2_ITERATIONS });
    derive.mockRestore();
  });
});

describe("timingSafeEqual", () => {
  const bytes = (...values: number[]) => new Uint8Array(values);

  it.each<[string, Uint8Array, Uint8Array, boolean]>([
    ["equal bytes", bytes(1, 2, 3), bytes(1, 2, 3), true],
    ["two empty arrays", bytes(), bytes(), true],
    ["a difference in the last byte", bytes(1, 2, 3), bytes(1, 2, 4), false],
    ["a difference in the first byte", bytes(9, 2, 3), bytes(1, 2, 3), false],
    ["a strict prefix", bytes(1, 2), bytes(1, 2, 3), false],
    ["a longer second operand", bytes(1, 2, 3), bytes(1, 2, 3, 0), false],
    ["an empty and a non-empty array", bytes(), bytes(0), false],
  ])("%s: %s", (_name, a, b, expected) => {
    expect(timingSafeEqual(a, b)).toBe(expected);
    expect(timingSafeEqual(b, a)).toBe(expected);
  });
});

describe("passwords stored through the API", () => {
  it("stores only a capped PBKDF2 hash of the password and never returns it", async () => {
    const org = await createOrg();
    const password = "Str0ng-enough-password";
    const res = await call("POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: {
        email: `new-${crypto.randomUUID()}@example.com`,
        password,
        firstName: "Grace",
        lastName: "Hopper",
        sendInvite: false,
      },
    });
    expect(res.status, res.text).toBe(201);

    const row = await userRow(res.body.data.id);
    const stored = String(row?.password_hash);
    expect(stored).toMatch(FORMAT);
    expect(iterationsOf(stored)).toBeLessThanOrEqual(WORKERS_CAP);
    expect(stored).not.toContain(password);
    await expect(verifyPassword(password, stored)).resolves.toBe(true);
    await expect(verifyPassword("Str0ng-enough-passwore", stored)).resolves.toBe(false);

    expect(res.text).not.toContain(password);
    expect(res.text).not.toContain(stored);
    expect(res.text).not.toContain(stored.split("$")[3]);
    expect(res.text).not.toMatch(/password|pbkdf2/i);
  });
});
