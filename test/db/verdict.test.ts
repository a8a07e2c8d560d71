import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { POLICIES } from "../../src/auth/policy";
import { ROLE, ROLE_VALUES, type Role } from "../../src/auth/roles";
import { createDb } from "../../src/db/client";
import { updateUser } from "../../src/db/users";
import { verdictOf } from "../../src/db/verdict";
import { callerRef, createOrg, insertUser } from "../helpers/fixtures";
import { userRow } from "../helpers/snapshot";

// The rules of a policy as its SQL verdict gives them, read from the real database, for every pair
// of roles: the ceiling on a granted role and the rank over the target are one CASE, the one place
// they are written.

const db = () => createDb(env.DB);
const pairs = ROLE_VALUES.flatMap((caller) => ROLE_VALUES.map((other) => [caller, other] as [Role, Role]));

async function usersOfEveryRole() {
  const org = await createOrg();
  // A second owner, so that no target is the last one.
  await insertUser(org.id, ROLE.OWNER);
  const byRole = new Map<Role, string>();
  for (const user of Object.values(org.users)) byRole.set(user.role, user.id);
  return byRole;
}

describe("the verdict of a policy", () => {
  it("grants a role at or below the caller's only (the ceiling), for every pair", async () => {
    const byRole = await usersOfEveryRole();
    for (const [caller, granted] of pairs) {
      const ask = { caller: callerRef({ id: byRole.get(caller) as string }), grants: granted };
      const [read] = await verdictOf(POLICIES.createUser, ask).read(db(), {});
      const expected = caller < ROLE.WORKSPACES ? "role" : granted <= caller ? "ok" : "ceiling";
      expect(read?.verdict, `caller ${caller} grants ${granted}`).toBe(expected);
    }
  });

  it("acts on a user ranked at or below the caller only (the rank), for every pair", async () => {
    const byRole = await usersOfEveryRole();
    for (const [caller, target] of pairs) {
      const callerId = byRole.get(caller) as string;
      const targetId = byRole.get(target) as string;
      const ask = { caller: callerRef({ id: callerId }), targetId };
      const [read] = await verdictOf(POLICIES.activateUser, ask).read(db(), {});
      const expected = caller < ROLE.WORKSPACES ? "role" : target <= caller ? "ok" : "rank";
      expect(read?.verdict, `caller ${caller} acts on ${target}`).toBe(expected);
      // Reading is not acting on: any role of the organization may be read.
      const [seen] = await verdictOf(POLICIES.getUser, ask).read(db(), {});
      expect(seen?.verdict, `caller ${caller} reads ${target}`).toBe(caller < ROLE.WORKSPACES ? "role" : "ok");
    }
  });

  it("gives no row at all for a caller who does not exist, and a write's condition refuses", async () => {
    const org = await createOrg();
    const nobody = { caller: callerRef({ id: crypto.randomUUID() }), targetId: org.users.USER.id };
    const [read] = await verdictOf(POLICIES.updateUser, nobody).read(db(), {});
    expect(read).toBeUndefined();
    const before = await userRow(org.users.USER.id);
    const written = await updateUser(db(), POLICIES.updateUser, nobody, { firstName: "Nobody" });
    expect(written).toEqual({ verdict: undefined, row: undefined });
    expect(await userRow(org.users.USER.id)).toEqual(before);
  });
});
