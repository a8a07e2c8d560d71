// What `npm run bench` and `npm run soak` share: the worker built as deployed, served from workerd
// through Miniflare's API on direct sockets (no `wrangler dev` proxy, no Miniflare entry worker),
// the local D1 it runs on, load processes of their own, and stopping all of it on every way out:
// the first failure or signal cleans up (bounded) and exits 2; a watchdog bounds the whole run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { applyMigrations } from "./seed";

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

  async function startMiniflare(options: object): Promise<MiniflareInstance> {
    const mf = new Miniflare(
      convertV4MiniflareOptions({
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

  /** Runs `node --import tsx <script> '<input JSON>'` and parses the last line it prints. */
  function runProcess<Output>(script: string, input: unknown, limitMs: number): Promise<Output> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(input)], {
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
    finish,
  };
}

export function gitCommit(): string {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" });
  return `${head.stdout.trim() || "unknown"}${dirty.stdout.trim() ? " (with uncommitted changes)" : ""}`;
}
