import { z } from "@hono/zod-openapi";

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
