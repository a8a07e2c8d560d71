import type { ApiResponse } from "./api";

/**
 * What the list's q matches, as documented (GET /organization/users): q folded with toLowerCase; of
 * three characters or more, a substring of one of the folded fields; of one or two, a prefix of one.
 */
export function matchesQ(q: string, folded: string[]): boolean {
  const needle = q.toLowerCase();
  return [...needle].length >= 3 ? folded.some((f) => f.includes(needle)) : folded.some((f) => f.startsWith(needle));
}

/** The ids of a GET /organization/users page, in the order answered. */
export function ids(res: ApiResponse): string[] {
  return (res.body.data as { id: string }[]).map((u) => u.id);
}
