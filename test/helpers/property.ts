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

/**
 * Runs an async property with `propertyParameters`. `examples` run first on every run, before the
 * generated inputs: the rows a reader would otherwise look for in an example test.
 */
export async function checkProperty<Ts>(
  property: fc.IAsyncPropertyWithHooks<Ts>,
  numRuns: number,
  examples: Ts[] = [],
): Promise<void> {
  await fc.assert(property, propertyParameters<Ts>(numRuns, { examples }));
}

// ---------------------------------------------------------------------------------------------
// Text and values of the request schemas: test/helpers/document-arbitraries.ts.

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
