// One load scenario, run as its own process (the load generator never shares a process with the
// server): `node --import tsx bench/load.ts '<Scenario JSON>'`. Drives the URL with autocannon over
// loopback, first for the warm-up (discarded), then for the measurement, each bounded in time and
// in request count, and prints one JSON line: a LoadResult.
//
// Latencies are taken from every 2xx response's own timing (float milliseconds): autocannon's
// histogram keeps whole milliseconds, too coarse for sub-millisecond requests.
//
// With `refreshTokens`, each connection is a refresh chain: it presents a token of its own that
// was never used, then the one each answer carries, so that no request presents a used token
// (which would end the session and measure the refusal instead).
import autocannon from "autocannon";
import { summarize, type Summary } from "./stats";

export type Scenario = {
  url: string;
  method: "GET" | "PUT" | "POST";
  headers: Record<string, string>;
  /** A JSON body; with `uniqueEmail`, `{{n}}` in it becomes a per-request number. */
  body?: string;
  uniqueEmail?: boolean;
  /** JSON bodies sent in turn, request after request over all connections (a write that changes something each time). */
  bodies?: string[];
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Upper bound on requests in the measured phase (and on the warm-up's). */
  maxRequests: number;
  expectStatus: number;
  /**
   * POST /user/refresh: one unused refresh token per connection and phase (the warm-up's first,
   * when there is one); the body is `{"refresh_token": ...}`, the token of the chain.
   */
  refreshTokens?: string[];
};

export type LoadResult = Summary & {
  unexpected: Record<string, number>;
  errors: number;
  /** Every expected response's latency (ms, to the microsecond), for pooling rounds. */
  samples: number[];
  /** Refresh chains: answers that did not carry a new refresh token (the chain then sends `{}`, a 400). */
  chainBreaks?: number;
};

let sequence = 0;

function phase(scenario: Scenario, seconds: number, record: boolean): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const unexpected: Record<string, number> = {};
    let errors = 0;
    const requestTemplate = scenario.uniqueEmail
      ? [
          {
            setupRequest: (request: Record<string, unknown>) => ({
              ...request,
              body: (scenario.body ?? "").replaceAll("{{n}}", `${process.pid}-${Date.now()}-${sequence++}`),
            }),
          },
        ]
      : undefined;
    const bodies = scenario.bodies;
    const alternating = bodies?.length
      ? [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: bodies[sequence++ % bodies.length] }) }]
      : undefined;
    // Taken now, so that the warm-up's chains and the measurement's are distinct sessions: a
    // request in flight when a phase stops may have used its chain's token without an answer.
    const chains = scenario.refreshTokens?.splice(0, scenario.connections);
    let chainBreaks = 0;
    const setupClient = chains
      ? (client: autocannon.Client) => {
          let token = chains.shift();
          // Per connection (autocannon resets a request's context each time it loops over a
          // one-request list), so the chain lives in this closure; with one request in flight
          // per connection, each answer arrives before the next request is built.
          client.setRequests([
            {
              setupRequest: (request) => ({ ...request, body: JSON.stringify(token ? { refresh_token: token } : {}) }),
              onResponse: (status, body) => {
                if (token === undefined) return;
                const next = status === 200 ? refreshTokenOf(body) : undefined;
                if (next === undefined || next === token) {
                  chainBreaks++;
                  token = undefined;
                } else token = next;
              },
            },
          ]);
        }
      : undefined;
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: scenario.url,
        method: scenario.method,
        headers: scenario.headers,
        ...(scenario.body !== undefined && !scenario.uniqueEmail ? { body: scenario.body } : {}),
        ...(requestTemplate || alternating ? { requests: requestTemplate ?? alternating } : {}),
        ...(setupClient ? { setupClient } : {}),
        connections: scenario.connections,
        pipelining: 1,
        duration: seconds,
        amount: undefined,
        maxOverallRequests: scenario.maxRequests,
        timeout: 10,
        excludeErrorStats: true,
      } as autocannon.Options,
      (error) => {
        if (error) return reject(error);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        resolve({
          ...summarize(latencies, elapsed),
          unexpected,
          errors,
          samples: latencies.map((ms) => Math.round(ms * 1000) / 1000),
          ...(chains ? { chainBreaks } : {}),
        });
      },
    );
    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode === scenario.expectStatus) {
        if (record) latencies.push(responseTime);
      } else {
        unexpected[statusCode] = (unexpected[statusCode] ?? 0) + 1;
      }
    });
    instance.on("reqError", () => errors++);
  });
}

function refreshTokenOf(body: string): string | undefined {
  try {
    const token = (JSON.parse(body) as { refreshToken?: unknown }).refreshToken;
    return typeof token === "string" && token ? token : undefined;
  } catch {
    return undefined;
  }
}

const scenario = JSON.parse(process.argv[2] ?? "{}") as Scenario;
if (scenario.warmupSeconds > 0) await phase(scenario, scenario.warmupSeconds, false);
const result = await phase(scenario, scenario.seconds, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
