// Roles are ranked by value; a higher role includes every lower one.
export const ROLE = {
  USER: 0x00,
  BILLING: 0x01,
  WORKSPACES: 0x02,
  ADMINISTRATOR: 0xfe,
  OWNER: 0xff,
} as const;

export type RoleName = keyof typeof ROLE;
export type Role = (typeof ROLE)[RoleName];

export const ROLE_VALUES = Object.values(ROLE).sort((a, b) => a - b) as Role[];

const NAMES = new Map<number, RoleName>(Object.entries(ROLE).map(([name, value]) => [value, name as RoleName]));

export function isRole(value: unknown): value is Role {
  return typeof value === "number" && NAMES.has(value);
}

// How Flashback names each role on the wire (`orgRoleDescription`): its client's `OrgRoles` enum and
// its role pages call 254 ADMINISTRATORS, so `OrgRoles[user.orgRole] === user.orgRoleDescription`.
const DESCRIPTIONS = new Map<Role, string>(
  [...NAMES].map(([value, name]) => [value as Role, name === "ADMINISTRATOR" ? "ADMINISTRATORS" : name]),
);

export const ROLE_DESCRIPTIONS = ROLE_VALUES.map((role) => DESCRIPTIONS.get(role) as string);

/** The role's `orgRoleDescription`, as Flashback's client names it. */
export function roleDescription(role: Role): string {
  return DESCRIPTIONS.get(role) as string;
}

/** Every defined role at or below `role`, ascending (Flashback's `orgRoles`). */
export function rolesUpTo(role: Role): Role[] {
  return ROLE_VALUES.filter((value) => value <= role);
}
