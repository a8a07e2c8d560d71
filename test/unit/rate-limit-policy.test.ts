import { describe, expect, it } from "vitest";
import wrangler from "../../wrangler.toml?raw";
import { LIMIT_POLICIES } from "../../src/middleware/rate-limit";

// A Worker cannot read its rate-limit bindings' configuration, so the policies it announces in
// RateLimit-Policy are written in src/middleware/rate-limit.ts: held here to wrangler.toml's.

/** wrangler.toml's [[ratelimits]] entries: name, limit and period of each. */
function configuredLimits(toml: string) {
  return [...toml.matchAll(/\[\[ratelimits\]\]\s*name\s*=\s*"(\w+)"[\s\S]*?limit\s*=\s*(\d+)\s*period\s*=\s*(\d+)/g)].map(
    ([, name, limit, period]) => ({ name, limit: Number(limit), period: Number(period) }),
  );
}

describe("rate-limit policies", () => {
  it("announce exactly the quota and window each binding is deployed with", () => {
    const configured = configuredLimits(wrangler);
    expect(configured.map((limit) => limit.name).sort()).toEqual(Object.keys(LIMIT_POLICIES).sort());
    for (const { name, limit, period } of configured) {
      const policy = LIMIT_POLICIES[name as keyof typeof LIMIT_POLICIES];
      expect({ name, quota: policy.quota, windowSeconds: policy.windowSeconds }).toEqual({
        name,
        quota: limit,
        windowSeconds: period,
      });
      // The binding allows only these periods.
      expect([10, 60]).toContain(period);
    }
  });
});
