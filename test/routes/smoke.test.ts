import { describe, expect, it } from "vitest";
import { call } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";

describe("smoke", () => {
  it("serves the caller's organization", async () => {
    const org = await createOrg();
    const res = await call("GET", `/organization/${org.id}`, { token: org.users.USER.token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.id).toBe(org.id);
    const list = await call("GET", `/organization/users`, { token: org.users.OWNER.token });
    expect(list.status, list.text).toBe(200);
    expect(list.body.total).toBe(5);
  });
});
