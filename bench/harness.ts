// What `npm run bench` (bench/run.ts) and `npm run soak` (bench/soak.ts) share:
// - percentiles of latency samples;
// - the local D1's schema (every migration) and seeded organizations;
// - serving: the worker built as deployed, served from workerd through Miniflare's API on direct
//   sockets (no `wrangler dev` proxy, no Miniflare entry worker), and stopping all of it on every
//   way out: the first failure or signal cleans up (bounded) and exits 2; a watchdog bounds the run;
// - load generation, always in processes of their own (the load never shares a process with the
//   server): the bench's scenarios (autocannon, in this module's process) and the soak's mix
//   (keep-alive loops that wait for every answer, in the soak's process).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

// ---------------------------------------------------------------------------------------------
// Latency percentiles (milliseconds).

/** The nearest-rank percentile of ascending samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** The median; of an even count, the mean of the middle two. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export type Summary = { requests: number; seconds: number; rps: number; p50: number; p90: number; p99: number; mean: number };

export function summarize(samples: ArrayLike<number>, seconds: number): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    requests: sorted.length,
    seconds,
    rps: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// Schema and data. Every migration in migrations/ (split as `wrangler d1 migrations apply` splits
// them), then one organization per size, its users written by INSERT ... SELECT over a generated
// series, several thousand rows per statement and several statements per batch.

/** Seeded users are created one second apart from here (2025-01-01T00:00:00Z), all in the past. */
const EPOCH_SECONDS = 1_735_689_600;
const ROWS_PER_STATEMENT = 5_000;
const STATEMENTS_PER_BATCH = 4;

export type SeededOrg = {
  size: number;
  id: string;
  ownerId: string;
  /** A live USER-role member, for GET and PUT of one user, and the one who signs in. */
  memberId: string;
  /** That member's address (verified, with the seeded password hash). */
  memberEmail: string;
  /** Another live member, the target of PUT. */
  editId: string;
};

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0");
export const orgId = (index: number) => `${hex(index, 8)}-0000-4000-8000-000000000000`;
export const userId = (index: number, n: number) => `${hex(index, 8)}-0000-7000-8000-${hex(n, 12)}`;
/** As insertUsers writes it. */
export const memberEmail = (index: number, n: number) => `member${n}@org${index}.bench.example`;

export async function applyMigrations(db: D1Database, dir: string, split: (sql: string) => string[]): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  for (const file of files) {
    const statements = split(readFileSync(join(dir, file), "utf8")).filter((s) => s.trim());
    await db.batch(statements.map((sql) => db.prepare(sql)));
  }
  return files;
}

// Roles: member 0 is the OWNER; then ADMINISTRATOR, WORKSPACES, BILLING and USER in a fixed mix.
// One member in 97 is soft-deleted (never the owner or the members the scenarios use).
const ROLE_SQL = "CASE WHEN n = 0 THEN 255 WHEN n % 50 = 1 THEN 254 WHEN n % 10 = 2 THEN 2 WHEN n % 10 = 3 THEN 1 ELSE 0 END";
const DELETED_SQL = "CASE WHEN n % 97 = 96 THEN strftime('%Y-%m-%dT%H:%M:%S.000Z', EPOCH + n, 'unixepoch') END";

function insertUsers(index: number, from: number, to: number): string {
  const created = `strftime('%Y-%m-%dT%H:%M:%S.000Z', ${EPOCH_SECONDS} + n, 'unixepoch')`;
  return `WITH RECURSIVE seq(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM seq WHERE n < ${to - 1})
INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
  validated, password_hash, provider, auth_method, created_at, updated_at, deleted_at)
SELECT printf('%08x-0000-7000-8000-%012x', ${index}, n), '${orgId(index)}',
  printf('member%d@org%d.bench.example', n, ${index}), 'Member' || n, 'Org' || ${index}, 'member' || n, 'org' || ${index},
  ${ROLE_SQL}, 1, ?, NULL, 'LOCAL', ${created}, ${created}, ${DELETED_SQL.replace("EPOCH", String(EPOCH_SECONDS))}
FROM seq`;
}

export type Progress = (done: number, total: number) => void;

/** Writes one organization per size (indexes 1, 2, ...) and returns what the scenarios need. */
export async function seedOrganizations(
  db: D1Database,
  sizes: number[],
  passwordHash: string,
  progress: Progress,
): Promise<SeededOrg[]> {
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const orgs: SeededOrg[] = [];
  for (const [position, size] of sizes.entries()) {
    const index = position + 1;
    const created = new Date(EPOCH_SECONDS * 1000 - 86_400_000).toISOString();
    await db
      .prepare("INSERT INTO organizations (id, name, domain, website, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(
        orgId(index),
        `Bench org of ${size}`,
        `org${index}.bench.example`,
        `https://org${index}.bench.example`,
        created,
        created,
      )
      .run();
    for (let from = 0; from < size;) {
      const statements: D1PreparedStatement[] = [];
      let to = from;
      for (let s = 0; s < STATEMENTS_PER_BATCH && to < size; s++) {
        const end = Math.min(size, to + ROWS_PER_STATEMENT);
        statements.push(db.prepare(insertUsers(index, to, end)).bind(passwordHash));
        to = end;
      }
      await db.batch(statements);
      done += to - from;
      from = to;
      progress(done, total);
    }
    // Members 5 and 7 are USER-role and live in every size (see ROLE_SQL and DELETED_SQL).
    orgs.push({
      size,
      id: orgId(index),
      ownerId: userId(index, 0),
      memberId: userId(index, 5),
      memberEmail: memberEmail(index, 5),
      editId: userId(index, 7),
    });
  }
  return orgs;
}

/**
 * The cursor position of a deep page: the live member after which exactly one full page (100)
 * remains, the last full page of the list; for an organization too small for that, its first member.
 * With `term`, the same among the members a search for it matches (a term of three characters or
 * more, matched here by a scan, untimed), the first member when fewer than a page match.
 */
export async function deepPosition(
  db: D1Database,
  org: string,
  pageSize: number,
  term?: string,
): Promise<{ createdAt: string; id: string }> {
  const matches = term
    ? " AND (instr(email, ?2) > 0 OR instr(first_name_folded, ?2) > 0 OR instr(last_name_folded, ?2) > 0)"
    : "";
  const bound = term ? [org, term.toLowerCase()] : [org];
  const row =
    (await db
      .prepare(
        `SELECT created_at, id FROM users WHERE org_id = ?1 AND deleted_at IS NULL${matches} ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ${pageSize}`,
      )
      .bind(...bound)
      .first<{ created_at: string; id: string }>()) ??
    (await db
      .prepare("SELECT created_at, id FROM users WHERE org_id = ? AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1")
      .bind(org)
      .first<{ created_at: string; id: string }>());
  if (!row) throw new Error(`organization ${org} has no live member`);
  return { createdAt: row.created_at, id: row.id };
}

// ---------------------------------------------------------------------------------------------
// Serving.

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export type MiniflareInstance = {
  ready: Promise<URL>;
  dispose(): Promise<void>;
  unsafeGetDirectURL(workerName?: string): Promise<URL>;
  getD1Database(bindingName: string, workerName?: string): Promise<D1Database>;
};

type WorkerOptions = Record<string, unknown> & {
  bindings?: Record<string, unknown>;
  ratelimits?: Record<string, { simple: { limit: number; period: number } }>;
  compatibilityDate?: string;
};

export type Build = { dir: string; script: string; output: string };

export async function startHarness(name: string, overallLimitMs: number) {
  process.chdir(ROOT);
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const log = (message: string) => console.log(`[${name} ${elapsed()}] ${message}`);

  // Importing wrangler, and starting Miniflare, install SIGINT/SIGTERM handlers that exit at once;
  // they are removed (tsx's are kept), and ours (below) stop workerd and the load processes first.
  const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const ownListeners = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const dropForeignSignalHandlers = () => {
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal))
        if (!ownListeners.get(signal)?.has(listener)) process.off(signal, listener);
    }
  };
  process.env.WRANGLER_SEND_METRICS ??= "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
  const wrangler = await import("wrangler");
  dropForeignSignalHandlers();

  // Miniflare as the pinned wrangler ships it (its workerd is the one `wrangler dev` runs).
  // Miniflare 5 takes a new options shape; wrangler still describes a worker in the v4 shape
  // (unstable_getMiniflareWorkerOptions), so the options here are v4 and converted on start.
  const wranglerRequire = createRequire(createRequire(import.meta.url).resolve("wrangler/package.json"));
  const { Miniflare, convertV4MiniflareOptions } = wranglerRequire("miniflare") as {
    Miniflare: new (options: object) => MiniflareInstance;
    convertV4MiniflareOptions: (options: object) => object;
  };
  const versions = {
    node: process.version,
    wrangler: (wranglerRequire("./package.json") as { version: string }).version,
    miniflare: (wranglerRequire("miniflare/package.json") as { version: string }).version,
    workerd: (createRequire(wranglerRequire.resolve("miniflare"))("workerd/package.json") as { version: string }).version,
    autocannon: (createRequire(import.meta.url)("autocannon/package.json") as { version: string }).version,
  };

  const instances = new Set<MiniflareInstance>();
  const children = new Set<ChildProcess>();
  const work = mkdtempSync(join(tmpdir(), `org-api-${name}-`));

  async function cleanup(): Promise<void> {
    for (const child of children) child.kill("SIGKILL");
    children.clear();
    // Miniflare's dispose stops its workerd; bounded, so that a stuck runtime cannot hold the exit.
    const disposed = Promise.allSettled([...instances].map((mf) => mf.dispose()));
    await Promise.race([disposed, new Promise((resolveTimer) => setTimeout(resolveTimer, 15_000).unref())]);
    instances.clear();
    rmSync(work, { recursive: true, force: true });
  }

  // Whatever arrives while exiting is ignored: the runtime that a terminal's Ctrl-C stopped first
  // failing, and the copy of the signal that tsx's parent process relays.
  let exiting: Promise<never> | undefined;
  function fail(reason: unknown): Promise<never> {
    exiting ??= (async () => {
      console.error(
        `[${name} ${elapsed()}] failed: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
      );
      await cleanup();
      process.exit(2);
    })();
    return exiting;
  }
  for (const signal of SIGNALS) {
    const listener = () => void (exiting ?? fail(`stopped by ${signal}`));
    process.on(signal, listener);
    ownListeners.get(signal)?.add(listener);
  }
  process.on("uncaughtException", (error) => void (exiting ?? fail(error)));
  process.on("unhandledRejection", (error) => void (exiting ?? fail(error)));
  const watchdog = setTimeout(() => void fail(`over the overall limit of ${overallLimitMs / 60_000} minutes`), overallLimitMs);
  watchdog.unref();

  /** A workerd with `options`, by default without outbound requests, on the run's persisted state (its D1). */
  async function startMiniflare(options: object): Promise<MiniflareInstance> {
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        cf: false,
        verbose: false,
        resourcePersistencePath: join(work, "state"),
        // The worker's own log lines (one JSON object per request, src/log.ts) would bury the
        // report; anything else the runtime prints still shows.
        handleStructuredLogs: (entry: { message: string }) => {
          if (!entry.message.startsWith('{"level":')) process.stderr.write(`${entry.message}\n`);
        },
        ...options,
      }),
    );
    instances.add(mf);
    dropForeignSignalHandlers();
    await mf.ready;
    return mf;
  }

  async function stopMiniflare(mf: MiniflareInstance): Promise<void> {
    instances.delete(mf);
    await mf.dispose();
  }

  /** `wrangler deploy --dry-run` into the work directory: the bundle as it would be uploaded. */
  async function buildWorker(extraArgs: string[] = []): Promise<Build> {
    log(`building the worker: wrangler deploy --dry-run --outdir <tmp> ${extraArgs.join(" ")}`.trimEnd());
    const dir = join(work, "build");
    const build = spawnSync("node_modules/.bin/wrangler", ["deploy", "--dry-run", "--outdir", dir, ...extraArgs], {
      encoding: "utf8",
      env: { ...process.env, CI: "true" },
      timeout: 120_000,
    });
    if (build.status !== 0) await fail(`wrangler deploy --dry-run failed:\n${build.stdout}\n${build.stderr}`);
    return { dir, script: join(dir, "index.js"), output: build.stdout + build.stderr };
  }

  // Read after the build: wrangler.toml's [build] command creates the assets directory that
  // reading the configuration requires (absent on a fresh clone until then).
  let configuration: { worker: WorkerOptions; ratelimits: WorkerOptions["ratelimits"] } | undefined;
  function configured() {
    if (!configuration) {
      // The bundle is one module, named explicitly below; Miniflare 5's v4 converter refuses
      // module rules (it no longer locates modules by them).
      const {
        assets: _assets,
        modulesRules: _modulesRules,
        ...worker
      } = wrangler.unstable_getMiniflareWorkerOptions("wrangler.toml").workerOptions as WorkerOptions;
      // Rate limits stay in the request path, with a limit the load cannot reach.
      const ratelimits = Object.fromEntries(
        Object.entries(worker.ratelimits ?? {}).map(([binding, limit]) => [
          binding,
          { ...limit, simple: { ...limit.simple, limit: 1e9 } },
        ]),
      );
      configuration = { worker, ratelimits };
    }
    return configuration;
  }
  const direct = [{ host: "127.0.0.1", port: 0 }];

  /** The API's worker options from wrangler.toml, on D1 database `d1Id`, with its own JWT secret. */
  function apiWorker(workerName: string, scriptOptions: object, d1Id: string, jwtSecret: string) {
    const { worker, ratelimits } = configured();
    return {
      ...worker,
      ...scriptOptions,
      name: workerName,
      bindings: { ...worker.bindings, JWT_SECRET: jwtSecret },
      ratelimits,
      d1Databases: { DB: d1Id },
      unsafeDirectSockets: direct,
    };
  }

  /** Every migration in migrations/, split as `wrangler d1 migrations apply` splits them. */
  const migrate = (db: D1Database) => applyMigrations(db, "migrations", wrangler.unstable_splitSqlQuery);

  /** Runs `script` as a load process on `input`, and parses the last line it prints. */
  function runProcess<Output>(script: string, input: unknown, limitMs: number): Promise<Output> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", script, LOAD_PROCESS, JSON.stringify(input)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        if (code === 0) resolvePromise(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Output);
        else reject(new Error(`${script} failed (${signal ?? `exit ${code}`}): ${stderr.slice(-2000)}`));
      });
    });
  }

  /** One bench scenario, measured in a load process of its own. */
  const measure = (scenario: Scenario, limitMs: number) => runProcess<LoadResult>(HARNESS, scenario, limitMs);

  /** Stops everything started here and the watchdog; the run's seconds. */
  async function finish(): Promise<number> {
    await cleanup();
    clearTimeout(watchdog);
    return (Date.now() - started) / 1000;
  }

  return {
    log,
    fail,
    work,
    versions,
    compatibilityDate: () => configured().worker.compatibilityDate,
    direct,
    startMiniflare,
    stopMiniflare,
    buildWorker,
    apiWorker,
    migrate,
    runProcess,
    measure,
    finish,
  };
}

export function gitCommit(): string {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" });
  return `${head.stdout.trim() || "unknown"}${dirty.stdout.trim() ? " (with uncommitted changes)" : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Load processes: `node --import tsx <script> --load-process '<input JSON>'`, started by
// runProcess, print one JSON line, their output.

const LOAD_PROCESS = "--load-process";
const HARNESS = fileURLToPath(import.meta.url);

/** In a load process that runProcess started on the module `moduleUrl`: its input; otherwise undefined. */
export function loadProcessInput<Input>(moduleUrl: string): Input | undefined {
  const index = process.argv.indexOf(LOAD_PROCESS);
  if (index < 0 || !process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return undefined;
  return JSON.parse(process.argv[index + 1] ?? "{}") as Input;
}

/** A load process's output, the line runProcess parses. */
export function answerLoadProcess(output: unknown): void {
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The bench's scenarios, each in a load process of its own (this module's): drives the URL with
// autocannon over loopback, first for the warm-up (discarded), then for the measurement, each
// bounded in time and in request count.
//
// Latencies are taken from every 2xx response's own timing (float milliseconds): autocannon's
// histogram keeps whole milliseconds, too coarse for sub-millisecond requests.
//
// With `refreshTokens`, each connection is a refresh chain: it presents a token of its own that
// was never used, then the one each answer carries, so that no request presents a used token
// (which would end the session and measure the refusal instead).

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

/** A scenario's warm-up (discarded), then its measurement. */
async function measureScenario(scenario: Scenario): Promise<LoadResult> {
  if (scenario.warmupSeconds > 0) await phase(scenario, scenario.warmupSeconds, false);
  return phase(scenario, scenario.seconds, true);
}

// ---------------------------------------------------------------------------------------------
// The soak's mix, in a load process of the soak's own: `connections` loops over keep-alive sockets
// on loopback, each sending the request `next` gives it until the deadline, then waiting for its
// request in flight: autocannon stops at its deadline with requests unanswered, whose writes may or
// may not have landed, and the soak must know the outcome of every write it sent.

/** What an answer said: its status, body, ETag (null when it had none), whether it was a replay (Idempotent-Replayed), and when. */
export type MixAnswer = { status: number; body: string; etag: string | null; replayed: boolean; sent: number; received: number };

/** One request of a mix: its operation, the statuses that are correct answers, and what a correct answer records. */
export type MixRequest = {
  operation: string;
  expected: number[];
  method: "GET" | "PUT" | "POST" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  onAnswer?: (answer: MixAnswer) => void;
};

export type MixResult = {
  requests: number;
  seconds: number;
  /** Per operation: how many of each status. */
  statuses: Record<string, Record<string, number>>;
  latency: Record<string, Summary>;
  /** Answers an operation must never give (any 5xx among them), and a sample of them. */
  unexpectedAnswers: number;
  unexpected: { op: string; status: number; body: string }[];
  /** Requests that got no HTTP answer (reset, timeout). */
  transportErrors: string[];
};

/** Sends what `next` gives each connection (0 to connections - 1), for `seconds`; every answer is waited for. */
export async function driveMix(
  origin: string,
  connections: number,
  seconds: number,
  next: (connection: number) => MixRequest,
): Promise<MixResult> {
  const result: MixResult = {
    requests: 0,
    seconds: 0,
    statuses: {},
    latency: {},
    unexpectedAnswers: 0,
    unexpected: [],
    transportErrors: [],
  };
  const latencies = new Map<string, number[]>();
  const agent = new Agent({ keepAlive: true, maxSockets: connections });

  function send(call: MixRequest): Promise<Omit<MixAnswer, "sent" | "received">> {
    return new Promise((resolvePromise, reject) => {
      const body = call.body === undefined ? undefined : JSON.stringify(call.body);
      const req = request(
        `${origin}${call.path}`,
        { method: call.method, agent, headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...call.headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolvePromise({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              etag: typeof res.headers.etag === "string" ? res.headers.etag : null,
              replayed: res.headers["idempotent-replayed"] === "true",
            }),
          );
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", reject);
      req.end(body);
    });
  }

  async function connection(id: number, deadline: number): Promise<void> {
    while (performance.now() < deadline) {
      const call = next(id);
      const sent = performance.now();
      let answer: Omit<MixAnswer, "sent" | "received">;
      try {
        answer = await send(call);
      } catch (error) {
        result.transportErrors.push(`${call.operation}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const received = performance.now();
      result.requests++;
      const counts = (result.statuses[call.operation] ??= {});
      counts[answer.status] = (counts[answer.status] ?? 0) + 1;
      if (!latencies.has(call.operation)) latencies.set(call.operation, []);
      latencies.get(call.operation)?.push(received - sent);
      if (!call.expected.includes(answer.status)) {
        result.unexpectedAnswers++;
        if (result.unexpected.length < 200)
          result.unexpected.push({ op: call.operation, status: answer.status, body: answer.body.slice(0, 300) });
        continue;
      }
      call.onAnswer?.({ ...answer, sent, received });
    }
  }

  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, (_, id) => connection(id, started + seconds * 1000)));
  result.seconds = (performance.now() - started) / 1000;
  for (const [name, samples] of latencies) result.latency[name] = summarize(samples, result.seconds);
  agent.destroy();
  return result;
}

const scenario = loadProcessInput<Scenario>(import.meta.url);
if (scenario) answerLoadProcess(await measureScenario(scenario));
