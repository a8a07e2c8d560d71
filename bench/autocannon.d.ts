// The part of autocannon's API the load process uses (the package ships no types).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  namespace autocannon {
    type Request = {
      setupRequest?: (request: Record<string, unknown>) => Record<string, unknown>;
      onResponse?: (status: number, body: string) => void;
    };
    /** One connection; `setupClient` receives it before its first request. */
    type Client = { setRequests(requests: Request[]): void };
    type Options = {
      url: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      requests?: Request[];
      setupClient?: (client: Client) => void;
      connections?: number;
      pipelining?: number;
      duration?: number;
      amount?: number;
      maxOverallRequests?: number;
      timeout?: number;
      excludeErrorStats?: boolean;
    };
    type Instance = EventEmitter & { stop(): void };
  }

  function autocannon(options: autocannon.Options, done: (error: Error | null, result: unknown) => void): autocannon.Instance;
  export default autocannon;
}
