import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/api";
import { callWith, unreachableDb } from "../helpers/faults";

// GET /health: no authentication; the database's state, and a 503 a load balancer understands.
describe("getHealth: GET /health", () => {
  describe("happy path", () => {
    it("answers 200 with the database ok, without a token (and ignores one)", async () => {
      for (const headers of [{}, { Authorization: "Bearer not-a-token" }] as Record<string, string>[]) {
        const res = await call("GET", "/health", { headers });
        expect(res.status, res.text).toBe(200);
        expect(res.body).toEqual({ success: true, data: { database: "ok" } });
        expect(res.headers.get("Cache-Control")).toBe("no-store");
      }
    });
  });

  describe("errors", () => {
    it("answers 503 in the envelope with Retry-After when the database does not answer", async () => {
      const res = await callWith({ DB: unreachableDb() }, "GET", "/health");
      expectError(res, 503, "service_unavailable");
      expect(res.headers.get("Retry-After")).toBe("5");
      expect(res.text).not.toMatch(/database_unavailable|D1_ERROR/);
    });

    it("refuses query parameters (400) and other methods (405 with Allow)", async () => {
      expectError(await call("GET", "/health?verbose=1"), 400, "validation_failed");
      const post = await call("POST", "/health");
      expectError(post, 405, "method_not_allowed");
      expect(post.headers.get("Allow")).toBe("GET, HEAD");
    });
  });

  describe("rules", () => {
    it("is limited per client address, like every unauthenticated request", async () => {
      const from = (ip: string) => ({ RATE_LIMITER: env.TIGHT_RATE_LIMITER, headers: { "CF-Connecting-IP": ip } });
      const first = from("203.0.113.7");
      const ask = (o: ReturnType<typeof from>) =>
        callWith({ RATE_LIMITER: o.RATE_LIMITER }, "GET", "/health", { headers: o.headers });
      expect((await ask(first)).status).toBe(200);
      const limited = await ask(first);
      expectError(limited, 429, "rate_limited");
      expect(limited.headers.get("Retry-After")).toBe("60");
      expect((await ask(from("203.0.113.8"))).status).toBe(200);
    });
  });
});
