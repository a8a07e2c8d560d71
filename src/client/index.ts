import createFetchClient, { type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema";

// A client for TypeScript users, typed from the published OpenAPI document (schema.d.ts is
// generated from openapi.json by `npm run openapi`), so it can never disagree with the contract.

export type { components, paths } from "./schema";

export type OrgApiClientOptions = ClientOptions & {
  /** The bearer token sent with every request. */
  token: string;
};

export function createOrgApiClient({ token, headers, ...options }: OrgApiClientOptions) {
  return createFetchClient<paths>({ ...options, headers: { ...headers, Authorization: `Bearer ${token}` } });
}

export type OrgApiClient = ReturnType<typeof createOrgApiClient>;
