import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { readOrganization, updateOrganization } from "../db/organizations";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { admit, operation } from "../middleware/operation";
import { jsonBody } from "../middleware/json-body";
import { ifMatchOf, tagAnswer } from "../middleware/preconditions";
import { allowOnly } from "../middleware/method-not-allowed";
import { validationHook } from "../middleware/validate";
import {
  errorResponse,
  etagHeader,
  ifMatchHeaders,
  ifNoneMatchHeaders,
  noQuery,
  notModified,
  preconditionResponses,
} from "../schemas/common";
import { bearer, bodyErrorResponses, errorResponses, jsonBodyOf, methodNotAllowed, successResponse } from "../schemas/envelope";
import {
  ORGANIZATION_EXAMPLE,
  OrganizationSchema,
  OrgIdParams,
  toOrganization,
  UpdateOrganizationBody,
} from "../schemas/organization";

export const organization = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const PATH = "/organization/{orgId}";
const METHODS = ["GET", "PUT"];
const GET_ORGANIZATION = operation("getOrganization");
const UPDATE_ORGANIZATION = operation("updateOrganization");

const getOrganizationRoute = createRoute({
  method: "get",
  operationId: "getOrganization",
  path: PATH,
  tags: ["Organization"],
  summary: "Get the caller's organization",
  description: "Any member.",
  security: bearer,
  ...GET_ORGANIZATION.documented,
  middleware: GET_ORGANIZATION.middleware,
  request: { params: OrgIdParams, query: noQuery, headers: ifNoneMatchHeaders },
  responses: {
    200: successResponse("The organization", OrganizationSchema, ORGANIZATION_EXAMPLE, undefined, etagHeader),
    304: notModified,
    ...errorResponses(MESSAGES.viewOrgDenied, "Not the caller's organization"),
    405: methodNotAllowed(METHODS),
    404: errorResponse(
      "Listed as Flashback lists it; not answered here: the members of a deleted organization are unauthenticated (401)",
      "not_found",
      MESSAGES.orgNotFound,
    ),
  },
});

organization.openapi(getOrganizationRoute, async (c) => {
  const { orgId } = c.req.valid("param");
  // Flashback answers 403 for any other id, existing or not, so existence is never revealed.
  const read = await readOrganization(c.var.db, GET_ORGANIZATION.policy, {
    caller: c.get("caller"),
    organizationId: orgId,
  });
  admit(c, GET_ORGANIZATION, read.verdict);
  if (!read.row) throw new ApiError("not_found", MESSAGES.orgNotFound);
  if (tagAnswer(c, read.row.version)) return c.body(null, 304);
  return c.json({ success: true as const, data: toOrganization(read.row) }, 200);
});

const updateOrganizationRoute = createRoute({
  method: "put",
  operationId: "updateOrganization",
  path: PATH,
  tags: ["Organization"],
  summary: "Update the caller's organization",
  description: "ADMINISTRATOR or OWNER. Partial update; strings are trimmed and an empty string clears an optional field.",
  security: bearer,
  ...UPDATE_ORGANIZATION.documented,
  middleware: [...UPDATE_ORGANIZATION.middleware, jsonBody],
  request: { params: OrgIdParams, query: noQuery, headers: ifMatchHeaders, body: jsonBodyOf(UpdateOrganizationBody) },
  responses: {
    200: successResponse(
      "The organization after the update",
      OrganizationSchema,
      ORGANIZATION_EXAMPLE,
      MESSAGES.orgUpdated,
      etagHeader,
    ),
    ...preconditionResponses,
    ...errorResponses(MESSAGES.modifyOrgRole, "The caller's role is too low, or it is not the caller's organization"),
    405: methodNotAllowed(METHODS),
    404: errorResponse(
      "Listed as Flashback lists it; not answered here: the members of a deleted organization are unauthenticated (401)",
      "not_found",
      MESSAGES.orgNotFound,
    ),
    ...bodyErrorResponses,
  },
});

organization.openapi(updateOrganizationRoute, async (c) => {
  const { orgId } = c.req.valid("param");
  const { is_business: isBusiness, ...rest } = c.req.valid("json");
  const { verdict, row } = await updateOrganization(
    c.var.db,
    UPDATE_ORGANIZATION.policy,
    { caller: c.get("caller"), organizationId: orgId, ifMatch: ifMatchOf(c) },
    { ...rest, ...(isBusiness === undefined ? {} : { isBusiness }) },
  );
  admit(c, UPDATE_ORGANIZATION, verdict);
  if (!row) throw new ApiError("not_found", MESSAGES.orgNotFound);
  tagAnswer(c, row.version);
  return c.json({ success: true as const, data: toOrganization(row), message: MESSAGES.orgUpdated }, 200);
});

allowOnly(organization, PATH, METHODS);
