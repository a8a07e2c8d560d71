import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, pageOf, type Cursor } from "../../src/lib/cursor";

const encodeText = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const encodeJson = (value: unknown) => encodeText(JSON.stringify(value));

const CURSOR: Cursor = { createdAt: "2026-11-22T18:00:00.000Z", id: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f" };

describe("encodeCursor / decodeCursor", () => {
  it.each<[string, Cursor]>([
    ["a typical position", CURSOR],
    ["a v4 id", { createdAt: "2026-01-01T00:00:00.000Z", id: "3f2504e0-4f89-41d3-9a0c-0305e82c3301" }],
    ["the epoch", { createdAt: "1970-01-01T00:00:00.000Z", id: "00000000-0000-4000-8000-000000000000" }],
  ])("round-trips %s", (_name, cursor) => {
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it("produces an opaque base64url string", () => {
    const text = encodeCursor(CURSOR);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text).not.toContain(CURSOR.id);
  });
});

describe("decodeCursor refuses anything it did not produce", () => {
  it.each<[string, string]>([
    ["an empty string", ""],
    ["plain text", "garbage"],
    ["standard base64 characters", encodeCursor(CURSOR).replace(/-/g, "+").replace(/_/g, "/") + "+/"],
    ["padding", `${encodeCursor(CURSOR)}==`],
    ["an impossible base64 length", "AAAAA"],
    ["invalid UTF-8", "_w"],
    ["text that is not JSON", encodeText("[2026, oops")],
    ["a JSON object", encodeJson(CURSOR)],
    ["a JSON string", encodeJson(CURSOR.id)],
    ["JSON null", encodeJson(null)],
    ["an empty array", encodeJson([])],
    ["a one-element array", encodeJson([CURSOR.createdAt])],
    ["a three-element array", encodeJson([CURSOR.createdAt, CURSOR.id, "org"])],
    ["swapped elements", encodeJson([CURSOR.id, CURSOR.createdAt])],
    ["a numeric timestamp", encodeJson([Date.parse(CURSOR.createdAt), CURSOR.id])],
    ["a date without time", encodeJson(["2026-11-22", CURSOR.id])],
    ["an impossible date in the right shape", encodeJson(["2026-13-45T99:99:99.999Z", CURSOR.id])],
    ["a timestamp without milliseconds", encodeJson(["2026-11-22T18:00:00Z", CURSOR.id])],
    ["a timestamp with an offset", encodeJson(["2026-11-22T18:00:00.000+01:00", CURSOR.id])],
    ["a timestamp with SQL appended", encodeJson([`${CURSOR.createdAt}' OR 1=1--`, CURSOR.id])],
    ["an upper-case id", encodeJson([CURSOR.createdAt, CURSOR.id.toUpperCase()])],
    ["an id without dashes", encodeJson([CURSOR.createdAt, CURSOR.id.replace(/-/g, "")])],
    ["a truncated id", encodeJson([CURSOR.createdAt, CURSOR.id.slice(0, -1)])],
    ["a numeric id", encodeJson([CURSOR.createdAt, 42])],
    ["a null id", encodeJson([CURSOR.createdAt, null])],
  ])("returns null for %s", (_name, text) => {
    expect(decodeCursor(text)).toBeNull();
  });
});

describe("pageOf", () => {
  it("shows every row and no end when the read did not pass the limit", () => {
    expect(pageOf([1, 2], 2)).toEqual({ items: [1, 2], end: undefined });
    expect(pageOf([], 2)).toEqual({ items: [], end: undefined });
  });

  it("drops the row past the limit and ends at the last row shown", () => {
    expect(pageOf([1, 2, 3], 2)).toEqual({ items: [1, 2], end: 2 });
  });
});
