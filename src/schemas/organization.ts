import * as z from "../lib/zod";
import type { OrganizationRow } from "../db/schema";
import { clearableText, partialUpdate, text, uuid, wire } from "./common";

const optionalText = wire.text(200).nullable();

export const ORGANIZATION_EXAMPLE = {
  id: "0196f1b2-0000-7000-8000-000000000001",
  name: "Acme Corp",
  domain: "acme.example",
  address1: "1 Main Street",
  address2: null,
  city: "Lisbon",
  zipcode: "1100-001",
  phone: "+351 21 000 0000",
  state: null,
  country: "PT",
  deletedAt: null,
  reposDisabled: false,
  website: "https://acme.example",
  is_business: true,
  mfaEnforced: false,
};

export const OrganizationSchema = z
  .strictObject({
    id: wire.id,
    name: wire.text(200),
    domain: wire.text(253).nullable(),
    address1: optionalText,
    address2: optionalText,
    city: optionalText,
    zipcode: optionalText,
    phone: optionalText,
    state: optionalText,
    country: optionalText,
    deletedAt: wire.timestamp.nullable(),
    reposDisabled: z.boolean(),
    website: wire.text(200).nullable().openapi({ format: "uri" }),
    is_business: z.boolean(),
    mfaEnforced: z.boolean(),
  })
  .openapi("Organization", { example: ORGANIZATION_EXAMPLE });

// An http(s) URI as RFC 3986 writes it (what `format: uri` promises): ASCII only, with a host,
// anything else percent-encoded (internationalised host names in their xn-- form).
const PCHAR = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";
const HTTP_URI = new RegExp(
  "^https?://" +
    "(?:(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*@)?" + // userinfo
    "(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+" + // host
    "(?::[0-9]*)?" + // port
    `(?:/${PCHAR}*)*` + // path
    `(?:\\?(?:${PCHAR}|[/?])*)?` + // query
    `(?:#(?:${PCHAR}|[/?])*)?$`, // fragment
  "i",
);
// The same rule for the document, whose patterns take no flags (the rest of HTTP_URI spells both
// cases already), with the empty string that clears the field.
const HTTP_URI_PATTERN = `^(?:|${HTTP_URI.source.slice(1, -1).replace("https?", "[Hh][Tt][Tt][Pp][Ss]?")})$`;

export const website = clearableText(200)
  .refine((value) => value === null || HTTP_URI.test(value), "Must be an http(s) URL")
  .openapi({
    type: ["string", "null"],
    format: "uri",
    maxLength: 200,
    pattern: HTTP_URI_PATTERN,
    description: "An http or https URL with a host; null or an empty string clears it",
  });

export const UpdateOrganizationBody = partialUpdate(
  z.strictObject({
    name: text(1, 200).optional(),
    address1: clearableText(200).optional(),
    address2: clearableText(200).optional(),
    city: clearableText(200).optional(),
    zipcode: clearableText(200).optional(),
    phone: clearableText(200).optional(),
    state: clearableText(200).optional(),
    country: clearableText(200).optional(),
    website: website.optional(),
    is_business: z.boolean().optional(),
    mfaEnforced: z.boolean().optional(),
  }),
).openapi("UpdateOrganization", { example: { city: "Lisbon", website: "https://acme.example", mfaEnforced: true } });

export const OrgIdParams = z.object({ orgId: uuid.openapi({ param: { name: "orgId", in: "path" } }) });

export type Organization = z.infer<typeof OrganizationSchema>;

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    address1: row.address1,
    address2: row.address2,
    city: row.city,
    zipcode: row.zipcode,
    phone: row.phone,
    state: row.state,
    country: row.country,
    deletedAt: row.deletedAt,
    reposDisabled: row.reposDisabled,
    website: row.website,
    is_business: row.isBusiness,
    mfaEnforced: row.mfaEnforced,
  };
}
