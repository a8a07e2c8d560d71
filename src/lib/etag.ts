// Entity tags (RFC 9110 §8.8.3) of the rows the API shows, and the conditions of §13.1 on them.
// A row's tag is its version, which advances with every change to what the API shows of it
// (organizations.version, users.version), so the tag is strong: equal tags, identical answers.

/** The strong entity tag of a row at `version`. */
export function entityTag(version: number): string {
  return `"${version}"`;
}

// entity-tag = [ weak ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E (obs-text, which RFC 9110
// keeps only for old senders, is not accepted).
const ETAG = String.raw`(W\/)?"([\x21\x23-\x7e]*)"`;
const TAG = new RegExp(`^${ETAG}$`);

/** The form of an If-Match or If-None-Match value: `*`, or a list of entity tags (what the request schema requires). */
export const ENTITY_TAG_LIST = new RegExp(String.raw`^\s*(?:\*|${ETAG}(?:\s*,\s*${ETAG})*)\s*$`);
const VERSION = /^[1-9][0-9]{0,14}$/;

type Tag = { weak: boolean; opaque: string };

/** The tags of an If-Match or If-None-Match value: `*`, or the list; an element that is not a tag is left out. */
function parseTags(value: string): "*" | Tag[] {
  if (value.trim() === "*") return "*";
  return value.split(",").flatMap((part) => {
    const match = TAG.exec(part.trim());
    return match ? [{ weak: match[1] !== undefined, opaque: match[2] as string }] : [];
  });
}

/**
 * The versions an If-Match value accepts, by strong comparison (§13.1.1): undefined when there is
 * no condition (no header, or `*`, which any current row meets), else the versions its strong tags
 * name (none, for a value with only weak or foreign tags: no row matches it).
 */
export function ifMatchVersions(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const tags = parseTags(value);
  if (tags === "*") return undefined;
  return tags.filter((tag) => !tag.weak && VERSION.test(tag.opaque)).map((tag) => Number(tag.opaque));
}

/** Whether If-None-Match `value` names the row at `version`, by weak comparison (§13.1.2): a GET answers 304. */
export function noneMatchMeets(value: string | undefined, version: number): boolean {
  if (value === undefined) return false;
  const tags = parseTags(value);
  return tags === "*" || tags.some((tag) => tag.opaque === String(version));
}
