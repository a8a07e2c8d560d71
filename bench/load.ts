// One load scenario, run as its own process (the load generator never shares a process with the
// server): `node --import tsx bench/load.ts '<Scenario JSON>'`. Drives the URL with autocannon over
// loopback, first for the warm-up (discarded), then for the measurement, each bounded in time and
// in request count, and prints one JSON line: a LoadResult.
//
// Latencies are taken from every 2xx response's own timing (float milliseconds): autocannon's
// histogram keeps whole milliseconds, too coarse for sub-millisecond requests.
import autocannon from "autocannon";
import { summarize, type Summary } from "./stats";

export type Scenario = {
  url: string;
  method: "GET" | "PUT" | "POST";
  headers: Record<string, string>;
  /** A JSON body; with `uniqueEmail`, `{{n}}` in it becomes a per-request number. */
  body?: string;
  uniqueEmail?: boolean;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Upper bound on requests in the measured phase (and on the warm-up's). */
  maxRequests: number;
  expectStatus: number;
};

export type LoadResult = Summary & {
  unexpected: Record<string, number>;
  errors: number;
  /** Every expected response's latency (ms, to the microsecond), for pooling rounds. */
  samples: number[];
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
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: scenario.url,
        method: scenario.method,
        headers: scenario.headers,
        ...(scenario.body !== undefined && !scenario.uniqueEmail ? { body: scenario.body } : {}),
        ...(requestTemplate ? { requests: requestTemplate } : {}),
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

const scenario = JSON.parse(process.argv[2] ?? "{}") as Scenario;
if (scenario.warmupSeconds > 0) await phase(scenario, scenario.warmupSeconds, false);
const result = await phase(scenario, scenario.seconds, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
