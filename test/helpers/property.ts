import { env } from "cloudflare:workers";
import fc from "fast-check";
import { onTestFailed } from "vitest";

// Seeds for the property tests (test/property). A run uses FC_SEED (and FC_PATH, FC_REPLAY_PATH)
// when given, so a failure replays exactly:
//
//   FC_SEED=<seed> npx vitest run test/property/<file> -t "<test name>"      (the whole property again)
//   FC_SEED=<seed> FC_PATH=<path> npx vitest run ...                          (straight to the counterexample)
//
// plus FC_REPLAY_PATH=<replayPath> for a command sequence (model.test.ts prints it beside the
// commands as /*replayPath="..."*/). vitest.config.ts passes them into the worker as bindings.
// Without them every run draws a new seed. fast-check's error names the seed, the path and the
// counterexample; the seed is printed too when the test fails another way (a timeout), so no
// failure goes unreplayable.

function seedFor(): number {
  if (env.FC_SEED) {
    const seed = Number(env.FC_SEED);
    if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(env.FC_SEED)}`);
    return seed;
  }
  return (Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0;
}

/** fast-check parameters for one property: a printable seed, the replay path if given, `numRuns`. */
export function propertyParameters<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seed = seedFor();
  const path = env.FC_PATH || undefined;
  onTestFailed(({ task }) => {
    console.error(
      `[fast-check] replay: FC_SEED=${seed}${path ? ` FC_PATH=${path}` : ""} npx vitest run ${task.file.name} -t ${JSON.stringify(task.name)}` +
        " (add FC_PATH=<path> from the failure above to jump straight to the counterexample, and for commands FC_REPLAY_PATH=<replayPath>)",
    );
  });
  // Shrinking a failure reruns requests; stop in time for fast-check to report the seed, the path
  // and the smallest counterexample found so far, rather than hitting the test's own timeout.
  return { interruptAfterTimeLimit: 80_000, markInterruptAsFailure: true, ...extra, seed, path, numRuns };
}

/** Runs an async property with `propertyParameters`. */
export async function checkProperty<Ts>(property: fc.IAsyncPropertyWithHooks<Ts>, numRuns: number): Promise<void> {
  await fc.assert(property, propertyParameters<Ts>(numRuns));
}

// ---------------------------------------------------------------------------------------------
// Text: lengths count code points, as JSON Schema and the server do.

export function codePoints(value: string): number {
  return [...value].length;
}

const SPECIAL = [
  "'",
  '"',
  ";",
  "--",
  "%",
  "_",
  "\\",
  "/*",
  "`",
  "$",
  "é",
  "e\u0301", // e + combining acute (NFD)
  "\u202e", // right-to-left override
  "\u{1F600}", // 4 bytes in UTF-8, a surrogate pair in UTF-16
  "\u{10FFFF}",
  "\u00a0", // no-break space: whitespace to trim()
  "\u0085", // a C1 control: allowed (only C0 and DEL are refused)
];

/** One code point that may be stored as is: no C0 control, no DEL, never a lone surrogate. */
export const printableChar: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }).filter((c) => c >= " " && c !== "\u007f"),
    weight: 4,
  },
  {
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => !/[\u0000-\u001f\u007f]/.test(c)),
    weight: 3,
  },
  { arbitrary: fc.constantFrom(...SPECIAL.filter((s) => codePoints(s) === 1)), weight: 2 },
);

const solidChar = printableChar.filter((c) => !/\s/.test(c));

/** A length in [min, max], often exactly at a bound. */
export function lengthIn(min: number, max: number): fc.Arbitrary<number> {
  return fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }));
}

/** Exactly `n` code points that trim() leaves alone (no whitespace at either end). */
export function trimmedText(n: number): fc.Arbitrary<string> {
  if (n === 0) return fc.constant("");
  if (n === 1) return solidChar;
  return fc
    .tuple(solidChar, fc.array(printableChar, { minLength: n - 2, maxLength: n - 2 }), solidChar)
    .map(([first, middle, last]) => first + middle.join("") + last);
}

const WHITESPACE = fc.constantFrom("", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\ufeff");

/** A valid text field of `min`..`max` code points: what is sent (maybe padded) and what must be stored. */
export function validText(min: number, max: number): fc.Arbitrary<{ sent: string; stored: string }> {
  return lengthIn(min, max)
    .chain((n) => fc.tuple(WHITESPACE, trimmedText(n), WHITESPACE))
    .map(([before, stored, after]) => ({ sent: before + stored + after, stored }));
}

const CONTROL = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f)).map((c) => String.fromCharCode(c));
const LONE_SURROGATE = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Puts `inner` between two non-blank characters, so trimming cannot remove it. */
const embedded = (inner: fc.Arbitrary<string>, max: number) =>
  fc
    .tuple(trimmedText(1), inner, lengthIn(0, Math.max(0, max - 3)).chain(trimmedText), trimmedText(1))
    .map(([a, x, middle, b]) => a + middle + x + b);

/** Strings a text field of `min`..`max` code points must refuse, each kind of violation. */
export function invalidText(min: number, max: number): fc.Arbitrary<string> {
  const kinds: fc.Arbitrary<string>[] = [
    // One past the limit, and further, also in 4-byte characters (2 UTF-16 units each).
    lengthIn(max + 1, max + 40).chain(trimmedText),
    fc.integer({ min: max + 1, max: max + 3 }).map((n) => "\u{1F600}".repeat(n)),
    embedded(CONTROL, max),
    embedded(LONE_SURROGATE, max),
    // A lone surrogate at either end, which no trim removes.
    fc.tuple(LONE_SURROGATE, trimmedText(3)).map(([s, t]) => s + t),
    fc.tuple(trimmedText(3), LONE_SURROGATE).map(([t, s]) => t + s),
  ];
  if (min > 0) kinds.push(fc.constantFrom("", " ", "\t\n", "\u00a0\u3000"));
  if (min > 1) kinds.push(lengthIn(1, min - 1).chain(trimmedText));
  return fc.oneof(...kinds);
}

/** JSON values of another type than a string (or than `except`). */
export function notOfType(except: "string" | "boolean" | "number" | "nullable-string"): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.string({ maxLength: 5 }),
    number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    boolean: fc.boolean(),
    null: fc.constant(null),
    array: fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
    object: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
  };
  const skip = except === "nullable-string" ? ["string", "null"] : [except];
  return fc.oneof(
    ...Object.entries(all)
      .filter(([kind]) => !skip.includes(kind))
      .map(([, arb]) => arb),
  );
}

/** Letters of `value` in random case, one flag per character. */
export function randomCase(value: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: value.length, maxLength: value.length })
    .map((flags) => [...value].map((ch, i) => (flags[i] ? ch.toUpperCase() : ch)).join(""));
}

// ---------------------------------------------------------------------------------------------
// Ids

// Any well-formed UUID, whatever its version or variant nibble, is an id (one that names nothing is not found).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A well-formed id that names nothing: any version (v1 to v8), the nil and max UUIDs, any letter case. */
export const unknownId: fc.Arbitrary<string> = fc.oneof(
  fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8] }),
  fc.constantFrom("00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
  fc.uuid().map((id) => id.toUpperCase()),
);

/** Path segments that are not ids: random text, near-misses of a UUID, injection attempts. */
export function malformedId(real: string): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ unit: "grapheme-ascii", maxLength: 40 }),
      fc.constantFrom("' OR 1=1--", "%", "_", "%25", "*", "null", "undefined", "0", "-1", "1e309", "\u0000"),
      // One character replaced, dropped or added, padding.
      fc
        .tuple(fc.nat({ max: 35 }), fc.constantFrom("g", "z", "-", "", "00", "%", " ", "\u0000", "é"))
        .map(([i, ch]) => real.slice(0, i) + ch + real.slice(i + 1)),
      fc.constantFrom(` ${real}`, `${real} `, `${real}0`, real.slice(1), `{${real}}`, real.replace(/-/g, "")),
    )
    .filter((s) => !UUID.test(s));
}

/** A path segment as a client would send it; lone surrogates go as the bytes TextEncoder makes of them. */
export function segment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...new TextEncoder().encode(value)].map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`).join("");
  }
}

/** Segments URL resolution turns into another path ("", "." and ".."): those cannot reach the id check. */
export function reachesRoute(value: string): boolean {
  return !["", ".", ".."].includes(segment(value)) && !/^%2e$|^\.%2e$|^%2e\.$|^%2e%2e$/i.test(segment(value));
}
