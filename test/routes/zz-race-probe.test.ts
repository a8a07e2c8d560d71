import { it } from "vitest";
import { call } from "../helpers/api";
import { createOrg, insertUser } from "../helpers/fixtures";
import { ROLE } from "../../src/auth/roles";

it("probe", async () => {
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    const org = await createOrg();
    const a = org.users.OWNER;
    const b = await insertUser(org.id, ROLE.OWNER);
    const res = await Promise.all([
      call("PUT", `/organization/users/${b.id}`, { token: a.token, body: { orgRole: 254 } }),
      call("PUT", `/organization/users/${a.id}`, { token: b.token, body: { orgRole: 254 } }),
    ]);
    const k = "put " + res.map((r) => `${r.status}:${r.body.code ?? ""}`).sort().join(",");
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  }
  for (let i = 0; i < 40; i++) {
    const org = await createOrg();
    const a = org.users.OWNER;
    const b = await insertUser(org.id, ROLE.OWNER);
    const res = await Promise.all([
      call("DELETE", `/organization/users/${b.id}`, { token: a.token }),
      call("DELETE", `/organization/users/${a.id}`, { token: b.token }),
    ]);
    const k = "del " + res.map((r) => `${r.status}:${r.body.code ?? ""}`).sort().join(",");
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  }
  console.log(JSON.stringify(outcomes));
  const t0 = Date.now();
  const org = await createOrg();
  await call("POST", "/organization/users", { token: org.users.OWNER.token, body: { email: "x@example.com", password: "Abcdefg1", firstName: "a", lastName: "b" } });
  console.log("create ms", Date.now() - t0);
});
