import createFetchClient, { type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema";

// A client for TypeScript users, typed from the published OpenAPI document (schema.d.ts is
// generated from openapi.json by `npm run openapi`), so it can never disagree with the contract.

export type { components, paths } from "./schema";

export type OrgApiClientOptions = ClientOptions & {
  /** The bearer token sent with every request. */
  token: string;
};

const BOOKMARK = "x-d1-bookmark";

/**
 * A client that sends its bearer token, and the newest D1 bookmark it has been answered with, so
 * that each request reads at least what the client last wrote or saw, whichever region serves it.
 */
export function createOrgApiClient({ token, headers, ...options }: OrgApiClientOptions) {
  const client = createFetchClient<paths>({ ...options, headers: { ...headers, Authorization: `Bearer ${token}` } });
  let bookmark: string | undefined;
  client.use({
    onRequest({ request }) {
      if (bookmark !== undefined && !request.headers.has(BOOKMARK)) request.headers.set(BOOKMARK, bookmark);
      return request;
    },
    onResponse({ response }) {
      const seen = response.headers.get(BOOKMARK);
      // Bookmarks are fixed-width hex: a later one sorts after an earlier one, whatever order the answers arrive in.
      if (seen !== null && (bookmark === undefined || seen > bookmark)) bookmark = seen;
      return response;
    },
  });
  return client;
}

export type OrgApiClient = ReturnType<typeof createOrgApiClient>;
