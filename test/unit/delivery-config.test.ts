import { describe, expect, it } from "vitest";
import type { Bindings } from "../../src/env";
import { deliveryConfig } from "../../src/invitations/config";

// The delivery configuration: where links point, who sends, how long a token lives.

const vars = (overrides: Partial<Bindings>) =>
  ({ APP_URL: "https://app.example", EMAIL_FROM: "no-reply@app.example", ...overrides }) as Bindings;

describe("deliveryConfig", () => {
  it("builds the link base from APP_URL, with or without a path or trailing slash, and defaults the lifetime to 24 hours", () => {
    expect(deliveryConfig(vars({})).verifyUrl.toString()).toBe("https://app.example/verify-email");
    expect(deliveryConfig(vars({ APP_URL: "https://app.example/portal/" })).verifyUrl.toString()).toBe(
      "https://app.example/portal/verify-email",
    );
    expect(deliveryConfig(vars({})).tokenTtlMs).toBe(24 * 3_600_000);
    expect(deliveryConfig(vars({ VERIFICATION_TOKEN_TTL_HOURS: "0.5" })).tokenTtlMs).toBe(1_800_000);
  });

  it("allows plain http only to this machine, since a link carries its token", () => {
    for (const url of ["http://localhost:8787", "http://127.0.0.1:3000", "http://[::1]:8787"]) {
      expect(deliveryConfig(vars({ APP_URL: url })).verifyUrl.protocol).toBe("http:");
    }
    expect(() => deliveryConfig(vars({ APP_URL: "http://app.example" }))).toThrow(/APP_URL must be an https URL/);
  });

  it.each<[string, Partial<Bindings>, RegExp]>([
    ["no APP_URL", { APP_URL: undefined }, /APP_URL/],
    ["an APP_URL that is not a URL", { APP_URL: "app.example" }, /APP_URL/],
    ["a javascript: APP_URL", { APP_URL: "javascript:alert(1)" }, /APP_URL/],
    ["no EMAIL_FROM", { EMAIL_FROM: undefined }, /EMAIL_FROM/],
    ["an EMAIL_FROM that is not an address", { EMAIL_FROM: "Org API" }, /EMAIL_FROM/],
    ["a lifetime of zero", { VERIFICATION_TOKEN_TTL_HOURS: "0" }, /VERIFICATION_TOKEN_TTL_HOURS/],
    ["a lifetime over 30 days", { VERIFICATION_TOKEN_TTL_HOURS: "721" }, /VERIFICATION_TOKEN_TTL_HOURS/],
    ["a lifetime that is not a number", { VERIFICATION_TOKEN_TTL_HOURS: "a day" }, /VERIFICATION_TOKEN_TTL_HOURS/],
  ])("refuses %s, naming it", (_title, overrides, problem) => {
    expect(() => deliveryConfig(vars(overrides))).toThrow(problem);
  });
});
