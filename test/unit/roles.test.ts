import { describe, expect, it } from "vitest";
import { isRole, ROLE, ROLE_VALUES, rolesUpTo, type Role } from "../../src/auth/roles";

const { USER, BILLING, WORKSPACES, ADMINISTRATOR, OWNER } = ROLE;

describe("role values", () => {
  it("are Flashback's values, ascending", () => {
    expect(ROLE).toEqual({ USER: 0, BILLING: 1, WORKSPACES: 2, ADMINISTRATOR: 254, OWNER: 255 });
    expect(ROLE_VALUES).toEqual([0, 1, 2, 254, 255]);
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
