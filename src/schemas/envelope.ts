import { z } from "@hono/zod-openapi";
import { errorResponse } from "./common";

export function envelope<T extends z.ZodType>(data: T, message?: string) {
  return z.object({
    success: z.literal(true),
    data,
    ...(message ? { message: z.string().openapi({ example: message }) } : {}),
  });
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonBodyOf<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

export const bearer = [{ bearerAuth: [] }];

export const errorResponses = {
  400: errorResponse("Invalid input"),
  401: errorResponse("Missing, invalid or expired token"),
  403: errorResponse("Role too low for this operation"),
};

export const bodyErrorResponses = {
  413: errorResponse("Body larger than 64 KiB"),
  415: errorResponse("Body is not JSON"),
};
