import * as z from "../lib/zod";
import { MESSAGES } from "../errors";
import { isRole, ROLE, ROLE_DESCRIPTIONS, roleDescription, rolesUpTo } from "../auth/roles";
import { AUTH_METHODS } from "../db/schema";
import type { ShownUser } from "../db/users";
import { booleanQuery, codePoints, partialUpdate, PRINTABLE_PATTERN, role, roleValue, text, wire } from "./common";

const CURSOR_PATTERN = "^[A-Za-z0-9_-]+$";

// The whole organization for Flashback's client, which sends no parameters and does not page; bigger
// ones are paged by `nextCursor` and the Link header.
export const DEFAULT_PAGE_SIZE = 1000;

export const USER_EXAMPLE = {
  id: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f",
  email: "ada@acme.example",
  name: "Ada",
  lastName: "Lovelace",
  orgId: "0196f1b2-0000-7000-8000-000000000001",
  orgRole: 2,
  validated: true,
  deletedAt: null,
  orgRoleDescription: "WORKSPACES",
  orgRoles: [0, 1, 2],
};

export const OrgUserSchema = z
  .strictObject({
    id: wire.id,
    email: wire.email,
    name: wire.text(100).openapi({ description: "First name" }),
    lastName: wire.text(100),
    orgId: wire.id,
    orgRole: roleValue,
    validated: z.boolean(),
    deletedAt: wire.timestamp.nullable(),
    orgRoleDescription: z
      .enum(ROLE_DESCRIPTIONS as [string, ...string[]])
      .openapi({ description: "The role's name as Flashback's client enum has it (254 is ADMINISTRATORS)" }),
    orgRoles: z.array(roleValue).max(5),
  })
  .openapi("OrgUser", { example: USER_EXAMPLE });

// An upper-case letter, a lower-case letter and a digit, of any script ("Пароль12": the contract asks
// for letters, not ASCII letters). One pattern is both the check and the document's `pattern`
// (JSON Schema patterns are ECMA-262 with Unicode semantics, so \p{...} reads the same there).
export const PASSWORD_PATTERN = "^(?=[\\s\\S]*\\p{Lu})(?=[\\s\\S]*\\p{Ll})(?=[\\s\\S]*\\p{Nd})";

// Lengths in code points, as the document's minLength and maxLength count them.
export const password = z
  .string()
  .refine((value) => codePoints(value) >= 8, "Must be at least 8 characters")
  .refine((value) => codePoints(value) <= 256, "Must be at most 256 characters")
  .regex(new RegExp(PASSWORD_PATTERN, "u"), "Must contain an upper-case letter, a lower-case letter and a digit")
  .openapi({ format: "password", pattern: PASSWORD_PATTERN, minLength: 8, maxLength: 256 });

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
// A top-level domain starts with a letter and has two characters or more (RFC 3696 §2: never all
// digits); `xn--` forms of internationalised ones qualify.
const TOP_LABEL = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])";

// The addresses accepted, exactly (the check and the document's `pattern`): a dot-atom local part of
// at most 64 characters (RFC 5321), then a host name of two DNS labels or more, of at most 63
// characters each, that neither start nor end with a hyphen (RFC 1035), the last a top-level
// domain. That is a subset of JSON Schema's `format: email`, which also admits quoted local parts,
// address literals, single-label hosts and numeric top-level domains: addresses a mail system
// cannot deliver to on the public internet.
export const EMAIL_PATTERN = `^(?=[^@]{1,64}@)${ATEXT}+(?:\\.${ATEXT}+)*@(?=[^@]{1,253}$)(?:${LABEL}\\.)+${TOP_LABEL}$`;

export const email = z.string().max(254).regex(new RegExp(EMAIL_PATTERN), "Invalid email address").openapi({ format: "email" });

export const CreateUserBody = z
  .strictObject({
    email,
    password,
    firstName: text(1, 100),
    lastName: text(1, 100),
    orgRole: role.default(ROLE.USER).openapi({ default: ROLE.USER }),
    sendInvite: z.boolean().default(true),
    // Accepted for Flashback client compatibility.
    provider: text(0, 100).optional(),
    authMethod: z.enum(AUTH_METHODS).default("LOCAL"),
  })
  .openapi("CreateUser", {
    example: { email: "grace@acme.example", password: "Str0ng-pass", firstName: "Grace", lastName: "Hopper", orgRole: 2 },
  });

export const UpdateUserBody = partialUpdate(
  z.strictObject({
    name: text(1, 100).optional(),
    lastName: text(1, 100).optional(),
    orgRole: role.optional(),
  }),
).openapi("UpdateUser", { example: { name: "Grace", orgRole: 254 } });

export const ListUsersQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, "Must be an integer from 1 to 1000")
    .transform(Number)
    .refine((value) => value >= 1 && value <= 1000, "Must be an integer from 1 to 1000")
    .optional()
    .openapi({ type: "integer", format: "int32", minimum: 1, maximum: 1000, default: DEFAULT_PAGE_SIZE }),
  cursor: z
    .string()
    .max(512)
    .optional()
    .openapi({ pattern: CURSOR_PATTERN, description: "Opaque; the `nextCursor` of the previous page" }),
  q: z
    .string()
    .max(100)
    // As documented (PRINTABLE_PATTERN): stored text never holds these, so they cannot match.
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), "Must not contain control characters")
    .optional()
    .openapi({
      pattern: PRINTABLE_PATTERN,
      description:
        "Case-insensitive literal match on email, first or last name (case folded as JavaScript's toLowerCase does, " +
        "non-ASCII letters included). From three characters on, q matches anywhere in a field; one or two characters " +
        "match the start of a field only (`jo` finds John and jo@example.com, not Marjorie). Nothing in q is syntax: " +
        "`%`, `_`, `*`, quotes, `AND`, `OR`, `NOT`, `NEAR(`, parentheses and colons are ordinary characters.",
    }),
  role: z
    .string()
    .regex(/^\d{1,3}$/, MESSAGES.invalidRole)
    .transform(Number)
    .pipe(role)
    .optional()
    .openapi({ type: "integer", format: "int32", minimum: 0, maximum: 255, enum: [0, 1, 2, 254, 255] }),
  includeDeleted: booleanQuery.optional().openapi({ type: "boolean" }),
});

export const GetUserQuery = z.strictObject({
  includeDeleted: booleanQuery.optional().openapi({ type: "boolean" }),
});

export const UserPageSchema = z.strictObject({
  success: z.literal(true),
  data: z.array(OrgUserSchema).max(1000),
  total: wire.integer(0, 2_147_483_647).openapi({ description: "Every match, not just this page" }),
  nextCursor: z.string().max(512).nullable().openapi({ pattern: CURSOR_PATTERN, description: "null on the last page" }),
});

export type OrgUser = z.infer<typeof OrgUserSchema>;

/** The wire shape of a user row: never the password hash or the search columns. */
export function toOrgUser(row: ShownUser): OrgUser {
  const orgRole = isRole(row.orgRole) ? row.orgRole : ROLE.USER;
  return {
    id: row.id,
    email: row.email,
    name: row.firstName,
    lastName: row.lastName,
    orgId: row.orgId,
    orgRole,
    validated: row.validated,
    deletedAt: row.deletedAt,
    orgRoleDescription: roleDescription(orgRole),
    orgRoles: rolesUpTo(orgRole),
  };
}
