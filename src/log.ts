// Structured logs: one JSON object per line, which Workers Logs indexes field by field. Only the
// fields named here are ever written, so no body, bound value, token, hash, email or name can
// reach a log: an error object is never logged whole, because driver messages (Drizzle's
// "Failed query ... params: ...") carry the values a statement was bound to.

export type LogLine = {
  level: "info" | "warn" | "error";
  event: string;
  requestId?: string;
  method?: string;
  route?: string | null;
  status?: number;
  durationMs?: number;
  callerId?: string;
  code?: string;
  /** Delivery of invitations (src/invitations): which one, the queue's attempt, how many. */
  invitationId?: string;
  attempt?: number;
  count?: number;
  error?: ErrorSummary;
};

/** An error as a log may show it; `message` only where it can carry no value (see summarizeError). */
export type ErrorSummary = { class: string; message?: string; cause?: string };

/** The error's class name: all a log says of an error whose message may hold input. */
export function errorClass(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

export function log(line: LogLine): void {
  const text = JSON.stringify(line);
  if (line.level === "error") console.error(text);
  else if (line.level === "warn") console.warn(text);
  else console.log(text);
}

const MAX_MESSAGE = 400;
const MAX_CAUSE = 200;

/** The values an error says its statement was bound to (Drizzle's DrizzleQueryError keeps them as `params`). */
function boundValues(error: unknown): string[] {
  const values: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const params = (e as { params?: unknown }).params;
    if (Array.isArray(params)) for (const value of params) if (value !== null && value !== undefined) values.push(String(value));
  }
  // Longest first, so a value that contains another is removed whole.
  return values.filter((value) => value.length > 0).sort((a, b) => b.length - a.length);
}

/** Removes the bound values from a message, cuts off a `params:` list and clips the rest. */
function redact(message: string, values: string[], max: number): string {
  let text = message.split(/\nparams:/)[0] ?? "";
  for (const value of values) text = text.split(value).join("?");
  return text.replace(/\s+/g, " ").slice(0, max);
}

/**
 * An error as a log may show it: its class, its message and its innermost cause's (the driver's
 * reason: D1_ERROR ...), each with every bound value removed, the `params:` list cut off, clipped.
 */
export function summarizeError(error: unknown): ErrorSummary {
  if (!(error instanceof Error)) return { class: errorClass(error) };
  const values = boundValues(error);
  let innermost: Error = error;
  while (innermost.cause instanceof Error) innermost = innermost.cause;
  return {
    class: errorClass(error),
    message: redact(error.message, values, MAX_MESSAGE),
    ...(innermost === error ? {} : { cause: redact(innermost.message, values, MAX_CAUSE) }),
  };
}
