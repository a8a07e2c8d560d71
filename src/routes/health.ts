import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import * as z from "../lib/zod";
import { pingDatabase } from "../db/client";
import type { AppEnv } from "../env";
import { MESSAGES, unavailableFor } from "../errors";
import { summarizeError } from "../log";
import { allowOnly } from "../middleware/method-not-allowed";
import { limitByClient } from "../middleware/rate-limit";
import { refuseEmptyParameterNames, validationHook } from "../middleware/validate";
import { errorResponse, noQuery, wire } from "../schemas/common";
import { methodNotAllowed, rateLimited, successResponse } from "../schemas/envelope";

export const health = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const PATH = "/health";
const METHODS = ["GET"];
// A health check must answer even when D1 does not: past this, the database counts as down.
const DATABASE_TIMEOUT_MS = 2_000;
const RETRY_AFTER_SECONDS = 5;

const healthRoute = createRoute({
  method: "get",
  operationId: "getHealth",
  path: PATH,
  tags: ["Health"],
  summary: "Whether the service and its database answer",
  description: "No authentication; limited per client address like every unauthenticated request.",
  security: [],
  middleware: [limitByClient, refuseEmptyParameterNames],
  request: { query: noQuery },
  responses: {
    200: successResponse("The service and its database answer", z.strictObject({ database: z.literal("ok") }), {
      database: "ok",
    }),
    400: errorResponse("A query parameter was sent", "validation_failed", "Validation failed: foo: Unknown field"),
    405: methodNotAllowed(METHODS),
    429: rateLimited,
    503: errorResponse("The database did not answer", "service_unavailable", MESSAGES.serviceUnavailable, {
      "Retry-After": wire.integer(1, 60).openapi({ description: "Seconds to wait before asking again" }),
    }),
  },
});

health.openapi(healthRoute, async (c) => {
  try {
    await pingDatabase(c.env.DB, DATABASE_TIMEOUT_MS);
  } catch (error) {
    c.set("failure", summarizeError(error));
    throw unavailableFor(RETRY_AFTER_SECONDS);
  }
  return c.json({ success: true as const, data: { database: "ok" as const } }, 200);
});

allowOnly(health, PATH, METHODS);
