import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";

describe("probe", () => {
  it("probe", async () => {
    const org = await createOrg();
    const t = org.users.OWNER.token;
    const big = JSON.stringify({ name: "x".repeat(70000) });
    const r1 = await call("PUT", `/organization/${org.id}`, { token: t, body: big });
    console.log("r1", r1.status, r1.text.slice(0, 200));
    const enc = new TextEncoder().encode(big);
    const stream = new ReadableStream({
      start(ctrl) {
        for (let i = 0; i < enc.length; i += 8192) ctrl.enqueue(enc.slice(i, i + 8192));
        ctrl.close();
      },
    });
    const req = new Request(`https://api.test/organization/${org.id}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${t}`, "Content-Type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    console.log("req CL", req.headers.get("Content-Length"));
    const r2 = await exports.default.fetch(req);
    console.log("r2", r2.status, await r2.text());
    const r3 = await call("PUT", `/organization/${org.id}`, { token: t, body: JSON.stringify({ name: "ok" }), headers: { "Content-Length": "5" } });
    console.log("r3", r3.status, r3.text.slice(0, 300));
    const r4 = await call("PATCH", `/organization/${org.id}`, {});
    console.log("r4", r4.status, [...r4.headers], r4.text);
    const r5 = await call("GET", `/nope`, {});
    console.log("r5", r5.status, [...r5.headers], r5.text);
    const r6 = await call("GET", `/organization/123`, {token: t});
    console.log("r6", r6.status, [...r6.headers], r6.text);
    const r7 = await call("PUT", `/organization/${org.id}`, {token: t, body: "{}", headers: {"Content-Type": "text/plain"}});
    console.log("r7", r7.status, r7.text);
    const r8 = await exports.default.fetch(new Request(`https://api.test/organization/${org.id}`, {method: "PUT", headers: {Authorization: `Bearer ${t}`}, body: "{}"}));
    console.log("r8", r8.status, [...r8.headers], await r8.text());
  });
});
