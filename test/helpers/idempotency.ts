import { env } from "cloudflare:workers";

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) on the POSTs that do work: the first
// answer is recorded with the work, in its batch; a retry with the key gets it again and does nothing.

export type KeyRow = {
  caller_id: string;
  key: string;
  fingerprint: string;
  snapshot: string | null;
  created_at: string;
  expires_at: string;
};

/** The idempotency keys a caller has recorded, by key. */
export async function keysOf(callerId: string): Promise<KeyRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM idempotency_keys WHERE caller_id = ? ORDER BY key")
    .bind(callerId)
    .all<KeyRow>();
  return results;
}

/** A fresh Idempotency-Key value. */
export const key = () => crypto.randomUUID();
