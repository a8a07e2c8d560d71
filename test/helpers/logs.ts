import { vi } from "vitest";

/** A log line as the worker writes it (src/log.ts): one JSON object. */
export type LoggedLine = Record<string, unknown> & { level: string; event: string };

/** An argument as a log would show it: an error with every message of its chain (as a console would print it). */
function text(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) {
    const parts: string[] = [];
    for (let e: unknown = arg; e instanceof Error; e = e.cause) parts.push(`${e.name}: ${e.message}`);
    return parts.join(" <- ");
  }
  return JSON.stringify(arg) ?? String(arg);
}

/**
 * Records what the worker logs (console.log, warn and error, which Workers Logs collects) until
 * `restore`: the raw text of every line, and the lines parsed as JSON (a line that is not JSON fails).
 */
export function captureLogs() {
  const raw: string[] = [];
  const spies = (["log", "warn", "error", "info", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      raw.push(args.map(text).join(" "));
    }),
  );
  return {
    raw,
    lines: (): LoggedLine[] => raw.map((line) => JSON.parse(line) as LoggedLine),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}
