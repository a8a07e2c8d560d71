import { vi } from "vitest";

/** A log line as the worker writes it (src/log.ts): one JSON object. */
export type LoggedLine = Record<string, unknown> & { level: string; event: string };

/**
 * Records what the worker logs (console.log, warn and error, which Workers Logs collects) until
 * `restore`: the raw text of every line, and the lines parsed as JSON (a line that is not JSON fails).
 */
export function captureLogs() {
  const raw: string[] = [];
  const spies = (["log", "warn", "error", "info", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      raw.push(args.map((arg) => (typeof arg === "string" ? arg : (JSON.stringify(arg) ?? String(arg)))).join(" "));
    }),
  );
  return {
    raw,
    lines: (): LoggedLine[] => raw.map((line) => JSON.parse(line) as LoggedLine),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}
