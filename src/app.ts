import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./errors";
import { validationHook } from "./middleware/validate";
import { organization } from "./routes/organization";
import { users } from "./routes/users";

export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });

// Users first: `/organization/users` must not be taken for `/organization/{orgId}`.
app.route("/", users);
app.route("/", organization);

app.onError(onError);
app.notFound(onNotFound);

export type AppType = typeof app;
