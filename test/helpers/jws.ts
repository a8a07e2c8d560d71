// An encoder independent of src/lib/base64url.ts, so token and hash tests do not trust the code they test.

const encoder = new TextEncoder();

export function b64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A JWS part: a string is encoded as is, anything else as its JSON text. */
export const encodePart = (value: unknown) => b64url(encoder.encode(typeof value === "string" ? value : JSON.stringify(value)));
