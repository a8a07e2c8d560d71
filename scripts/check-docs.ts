// npm run check:docs [-- --port N]: the browser check of the API reference. Starts the local server
// (the same setup as `npm run dev`, then `wrangler dev`), opens /docs in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; CHROMIUM_PATH overrides), asserts that every operation
// is listed and that the page asked no host but localhost, and saves a full-page screenshot to
// docs/reference.png. Stops the browser and the whole server process group on every way out.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { listenOn, spawnGroup, stopGroup as stopProcessGroup } from "./lib/process-group";

// Importing wrangler (through ./lib/local) installs SIGINT/SIGTERM handlers that call process.exit()
// at once, which would leave the server running: they are removed (tsx's own handlers are kept, or
// tsx would SIGKILL this process), and the handlers at the end of this file stop everything first.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const ownListeners = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
const { ensureJwtSecret, WRANGLER } = await import("./lib/local");
for (const signal of SIGNALS) {
  for (const listener of process.listeners(signal)) if (!ownListeners.get(signal)?.has(listener)) process.off(signal, listener);
}

// The eight operations of the contract; any further operation in openapi.json is expected too.
const CONTRACT = [
  "GET /organization/{orgId}",
  "PUT /organization/{orgId}",
  "GET /organization/users",
  "POST /organization/users",
  "GET /organization/users/{userId}",
  "PUT /organization/users/{userId}",
  "DELETE /organization/users/{userId}",
  "POST /organization/users/{userId}/activate",
];

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOT = "docs/reference.png";
const FAILURE_SCREENSHOT = "test-results/check-docs-failure.png";
// Generous for a cold start on a 2-core machine, but every wait is bounded.
const MIGRATIONS_MS = 120_000;
const SERVER_READY_MS = 120_000;
const STEP_MS = 60_000;
const OVERALL_MS = 300_000;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

type Operation = { method: string; path: string; summary: string };

const started = Date.now();
const log = (message: string) => console.log(`[check:docs ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

let server: ChildProcess | undefined;
let serverOutput = "";
const groups = new Set<number>(); // process groups started here, stopped on every way out
let context: BrowserContext | undefined;
let profileDir: string | undefined;

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium (or set CHROMIUM_PATH)`);
  rmSync(FAILURE_SCREENSHOT, { force: true });
  const port = await choosePort();

  // The setup of `npm run dev` (without the demo data, which the page does not need).
  log("setup: .dev.vars, local migrations");
  ensureJwtSecret();
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local"], MIGRATIONS_MS);

  log(`starting wrangler dev on port ${port}`);
  server = start(WRANGLER, ["dev", "--port", String(port), "--show-interactive-dev-session=false"]);
  server.stdout?.on("data", (chunk: Buffer) => (serverOutput += chunk));
  server.stderr?.on("data", (chunk: Buffer) => (serverOutput += chunk));
  const origin = `http://localhost:${port}`;
  const spec = await waitForDocument(origin);
  const expected = expectedOperations(spec);
  log(`server ready; openapi.json has ${Object.keys(spec.paths ?? {}).length} paths, expecting ${expected.length} operations`);

  profileDir = mkdtempSync(join(tmpdir(), "check-docs-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    // Playwright adds --headless; the rest keep Chromium off the (closed) network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
    reducedMotion: "reduce",
    // Signals are handled below, so that the server is stopped too (Playwright would just exit).
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  context.setDefaultTimeout(STEP_MS);
  log(`chromium ${context.browser()?.version() ?? ""} started`.replace("  ", " "));

  // Every request the page makes is recorded; any to another host is refused and fails the check.
  const foreign: string[] = [];
  const failed: string[] = [];
  await context.route(
    (url) => !isLocal(url),
    (route) => route.abort("blockedbyclient"),
  );
  context.on("request", (request) => {
    if (!isLocal(new URL(request.url()))) foreign.push(`${request.method()} ${request.url()}`);
  });
  context.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  context.on("requestfailed", (request) => {
    if (isLocal(new URL(request.url()))) failed.push(`${request.failure()?.errorText ?? "failed"} ${request.url()}`);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  try {
    await page.goto(`${origin}/docs`, { waitUntil: "load" });
    // Rendered: the document's title is a heading and the first operation's section is there.
    await page
      .getByRole("heading", { name: spec.info?.title ?? "Organization API" })
      .first()
      .waitFor();
    await page.locator("section[id] h3").first().waitFor();
    const sections = await renderAllSections(page, expected.length);
    const sidebar = await page.evaluate<string>(`document.querySelector("aside, nav")?.innerText ?? ""`);

    const problems: string[] = [];
    for (const operation of expected) {
      const label = `${operation.method} ${operation.path} ("${operation.summary}")`;
      const section = sections.find((s) => s.heading === operation.summary);
      if (!section) problems.push(`not listed: ${label}: no section headed "${operation.summary}"`);
      else if (!endpointPattern(operation).test(section.text))
        problems.push(`not listed: ${label}: its section does not show "${operation.method} ${operation.path}"`);
      if (!normalize(sidebar).includes(operation.summary)) problems.push(`not in the sidebar: ${label}`);
    }
    for (const url of foreign) problems.push(`request to another host than localhost: ${url}`);
    for (const failure of failed) problems.push(`failed request: ${failure}`);
    for (const error of pageErrors) problems.push(`uncaught error in the page: ${error}`);

    if (problems.length) {
      await screenshot(page, FAILURE_SCREENSHOT);
      throw new Error(`${problems.join("\n")}\n(screenshot of the page: ${FAILURE_SCREENSHOT})`);
    }
    log(`all ${expected.length} operations listed: ${expected.map((o) => `${o.method} ${o.path}`).join(", ")}`);
    log("no request left localhost");
    await screenshot(page, SCREENSHOT);
    log(`saved ${SCREENSHOT}`);
  } catch (error) {
    if (!existsSync(FAILURE_SCREENSHOT)) await screenshot(page, FAILURE_SCREENSHOT).catch(() => {});
    throw error;
  }
}

/** Spawns a command as the leader of its own process group, so that stopping it stops its children (workerd) too. */
function start(command: string, args: string[]): ChildProcess {
  const child = spawnGroup(command, args);
  if (child.pid) groups.add(child.pid);
  return child;
}

/** Runs a command to completion within `ms`; its output is shown only when it fails. */
function run(command: string, args: string[], ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = start(command, args);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => void (child.pid && stopGroup(child.pid)), ms);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}; limit ${ms / 1000}s):\n${output.slice(-4000)}`,
          ),
        );
    });
  });
}

/** 8797 unless --port says otherwise; when it is taken, any free port (a stale server must not answer). */
async function choosePort(): Promise<number> {
  const args = process.argv.slice(2);
  const index = args.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
  const wanted = Number(index < 0 ? 8797 : (args[index]?.split("=")[1] ?? args[index + 1]));
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) throw new Error("usage: npm run check:docs [-- --port N]");
  const free = await listenOn(wanted);
  if (free !== undefined) return free;
  const other = await listenOn(0);
  if (other === undefined) throw new Error("no free port");
  log(`port ${wanted} is taken; using ${other}`);
  return other;
}

type OpenApiDocument = { info?: { title?: string }; paths?: Record<string, Record<string, { summary?: string }>> };

async function waitForDocument(origin: string): Promise<OpenApiDocument> {
  const deadline = Date.now() + SERVER_READY_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!server || server.exitCode !== null || server.signalCode !== null) throw new Error(`wrangler dev exited early (${last})`);
    try {
      const response = await fetch(`${origin}/openapi.json`, { signal: AbortSignal.timeout(5_000) });
      if (response.ok) return (await response.json()) as OpenApiDocument;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = String((error as Error).cause ?? error);
    }
    await sleep(500);
  }
  throw new Error(`${origin}/openapi.json did not answer within ${SERVER_READY_MS / 1000}s (${last})`);
}

function expectedOperations(spec: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      if (!operation.summary) throw new Error(`openapi.json: ${method.toUpperCase()} ${path} has no summary`);
      operations.push({ method: method.toUpperCase(), path, summary: normalize(operation.summary) });
    }
  }
  const missing = CONTRACT.filter((key) => !operations.some((o) => `${o.method} ${o.path}` === key));
  if (missing.length) throw new Error(`openapi.json does not document: ${missing.join(", ")}`);
  return operations;
}

/**
 * Scalar renders operation sections lazily as they scroll into view: scroll through the whole page
 * (bounded) until no new section appears, then back to the top. Returns each section's heading and text.
 */
async function renderAllSections(page: Page, expected: number): Promise<{ heading: string; text: string }[]> {
  // In-page code is passed as text: the scripts are type-checked without the DOM library.
  const read = () =>
    page.evaluate<{ heading: string; text: string }[]>(
      `[...document.querySelectorAll("section")]
        .filter((section) => section.querySelector("h3"))
        .map((section) => ({ heading: section.querySelector("h3").innerText, text: section.innerText }))`,
    );
  const deadline = Date.now() + STEP_MS;
  let count = -1;
  let unchanged = 0;
  while (Date.now() < deadline) {
    const atBottom = await page.evaluate<boolean>(
      `window.scrollBy(0, window.innerHeight);
       window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2`,
    );
    await sleep(250);
    const now = (await read()).length;
    unchanged = now === count ? unchanged + 1 : 0;
    count = now;
    // Done at the bottom once every operation has a section, or nothing new appeared for 5 s.
    if (atBottom && (count >= expected || unchanged >= 20)) break;
  }
  await page.evaluate("window.scrollTo(0, 0)");
  await sleep(500);
  return (await read()).map((s) => ({ heading: normalize(s.heading), text: normalize(s.text) }));
}

function endpointPattern(operation: Operation): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`\\b${operation.method}\\s*${escape(operation.path)}(?![\\w/{])`, "i");
}

/** Scalar puts zero-width spaces after headings for its anchor links. */
function normalize(text: string): string {
  return text.replace(/[\u200b\u00a0]/g, (c) => (c === "\u00a0" ? " " : "")).trim();
}

function isLocal(url: URL): boolean {
  if (["data:", "blob:", "about:"].includes(url.protocol)) return true;
  return LOCAL_HOSTS.has(url.hostname);
}

async function screenshot(page: Page, path: string): Promise<void> {
  mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await page.screenshot({ path, fullPage: true, animations: "disabled", timeout: STEP_MS });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withTimeout(action: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([action.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Stops a process group started here (SIGTERM, then SIGKILL after 10 s), bounded. */
async function stopGroup(group: number): Promise<void> {
  if (await stopProcessGroup(group)) groups.delete(group);
  else console.error(`[check:docs] process group ${group} still running after SIGKILL`);
}

/** Closes the browser, removes its profile and stops every process group started here. */
async function cleanUp(): Promise<void> {
  if (context) await withTimeout(context.close(), 15_000);
  context = undefined;
  if (profileDir) rmSync(profileDir, { recursive: true, force: true, maxRetries: 3 });
  profileDir = undefined;
  server = undefined;
  await Promise.all([...groups].map(stopGroup));
}

let exiting = false;
async function finish(code: number, error?: unknown): Promise<never> {
  if (exiting) return new Promise<never>(() => {}); // a second signal (e.g. relayed by tsx) waits for the first clean-up
  exiting = true;
  if (error) {
    console.error(
      `\ncheck:docs FAILED after ${((Date.now() - started) / 1000).toFixed(1)}s:\n${(error as Error).message ?? error}`,
    );
    if (serverOutput.trim()) console.error(`\n--- wrangler dev output (last 4000 characters) ---\n${serverOutput.slice(-4000)}`);
  }
  await cleanUp();
  if (!error) log("passed");
  process.exit(code);
}

for (const signal of SIGNALS) process.on(signal, () => void finish(1, new Error(`interrupted by ${signal}`)));
setTimeout(() => void finish(1, new Error(`gave up after ${OVERALL_MS / 1000}s`)), OVERALL_MS).unref();

main().then(
  () => finish(0),
  (error: unknown) => finish(1, error),
);
