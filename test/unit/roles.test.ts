import { describe, expect, it } from "vitest";
import { canActOn, canAssignRole, isRole, ROLE, ROLE_VALUES, roleName, rolesUpTo, type Role } from "../../src/auth/roles";

const { USER, BILLING, WORKSPACES, ADMINISTRATOR, OWNER } = ROLE;

describe("role values", () => {
  it("are Flashback's values, ascending", () => {
    expect(ROLE).toEqual({ USER: 0, BILLING: 1, WORKSPACES: 2, ADMINISTRATOR: 254, OWNER: 255 });
    expect(ROLE_VALUES).toEqual([0, 1, 2, 254, 255]);
  });

  it.each<[Role, string]>([
    [USER, "USER"],
    [BILLING, "BILLING"],
    [WORKSPACES, "WORKSPACES"],
    [ADMINISTRATOR, "ADMINISTRATOR"],
    [OWNER, "OWNER"],
  ])("names %i %s", (role, name) => {
    expect(roleName(role)).toBe(name);
  });
});

describe("isRole", () => {
  it.each(ROLE_VALUES)("accepts %i", (value) => {
    expect(isRole(value)).toBe(true);
  });

  it.each<[unknown]>([
    [3],
    [100],
    [253],
    [-1],
    [256],
    [1.5],
    [254.5],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    ["0"],
    ["255"],
    [null],
    [undefined],
    [true],
  ])("refuses %s", (value) => {
    expect(isRole(value)).toBe(false);
  });
});

describe("rolesUpTo", () => {
  it.each<[Role, Role[]]>([
    [USER, [0]],
    [BILLING, [0, 1]],
    [WORKSPACES, [0, 1, 2]],
    [ADMINISTRATOR, [0, 1, 2, 254]],
    [OWNER, [0, 1, 2, 254, 255]],
  ])("lists every role at or below %i, ascending", (role, expected) => {
    expect(rolesUpTo(role)).toEqual(expected);
  });
});

// Every (caller, role) pair: allowed exactly when the role is at or below the caller's.
const pairs = ROLE_VALUES.flatMap((caller) => ROLE_VALUES.map((other) => [caller, other, other <= caller] as const));

describe("canAssignRole", () => {
  it.each(pairs)("caller %i may assign %i: %s", (caller, role, allowed) => {
    expect(canAssignRole(caller, role)).toBe(allowed);
  });

  it("lets only an OWNER grant OWNER", () => {
    expect(ROLE_VALUES.filter((caller) => canAssignRole(caller, OWNER))).toEqual([OWNER]);
  });

  it("lets nobody below ADMINISTRATOR grant ADMINISTRATOR", () => {
    expect(ROLE_VALUES.filter((caller) => canAssignRole(caller, ADMINISTRATOR))).toEqual([ADMINISTRATOR, OWNER]);
  });
});

describe("canActOn", () => {
  it.each(pairs)("caller %i may act on a user of role %i: %s", (caller, target, allowed) => {
    expect(canActOn(caller, target)).toBe(allowed);
  });

  it("lets only an OWNER act on an OWNER", () => {
    expect(ROLE_VALUES.filter((caller) => canActOn(caller, OWNER))).toEqual([OWNER]);
  });
});
