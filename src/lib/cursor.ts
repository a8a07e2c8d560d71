import { decodeBase64UrlText, encodeBase64UrlText } from "./base64url";

// The position after the last item of a page (creation time, then id). Opaque to clients;
// it carries no organization, since every list is scoped to the caller's own.

export type Cursor = { createdAt: string; id: string };

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(cursor: Cursor): string {
  return encodeBase64UrlText(JSON.stringify([cursor.createdAt, cursor.id]));
}

export function decodeCursor(text: string): Cursor | null {
  const json = decodeBase64UrlText(text);
  if (json === null) return null;
  try {
    const value: unknown = JSON.parse(json);
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== "string" || typeof id !== "string" || !TIMESTAMP.test(createdAt) || !ID.test(id)) return null;
    // A real instant, written as we write them (rejects month 13, hour 99, ...).
    if (new Date(Date.parse(createdAt)).toISOString() !== createdAt) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}

/** The RFC 8288 Link header of a list's next page: its own URL with `cursor` moved, every other parameter kept. */
export function nextPageLink(current: string, cursor: string): string {
  const url = new URL(current);
  url.searchParams.set("cursor", cursor);
  return `<${url}>; rel="next"`;
}

/**
 * A page read one row past `limit`: that row is not shown, it only says a next page exists, which
 * starts after `end`, the last row shown (undefined on the last page).
 */
export function pageOf<T>(rows: T[], limit: number): { items: T[]; end: T | undefined } {
  if (rows.length <= limit) return { items: rows, end: undefined };
  const items = rows.slice(0, limit);
  return { items, end: items.at(-1) };
}
