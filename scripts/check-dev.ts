// npm run check:dev: `npm run dev` keeps serving other clients after it refuses an oversize body.
// The body limit answers 413 with the request body half read; wrangler's dev proxy before 4.114
// then parked the next request, from any connection, until yet another one arrived
// (workers-sdk#14593), and a GET / in that window could make `npm run dev` exit. This starts
// `npm run dev` on a free port, sends an 80 KB chunked PUT (no Content-Length) as the demo owner
// and expects 413, then expects prompt answers on new connections, GET / included, and the server
// still running. Stops the whole dev server process group on every way out.
import type { ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { listenOn, spawnGroup, stopGroup } from "./lib/process-group";

const READY_MS = 180_000; // migrations, the demo seed and a cold wrangler start on a busy 2-core machine
const ANSWER_MS = 5_000; // what "promptly" means for a local request
const OVERALL_MS = 300_000;
const OVERSIZE_BYTES = 80 * 1024; // past the 64 KiB body limit

const started = Date.now();
const log = (message: string) => console.log(`[check:dev ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: ChildProcess | undefined;
let serverOutput = "";

type Answer = { status: number; body: string; ms: number };

/**
 * One request on a connection of its own (a keep-alive agent per client, as curl or a browser
 * would hold), bounded by `ms`. A body given as chunks is sent without Content-Length, so it goes
 * chunked; the server may answer and close before the last chunk, which is not an error here.
 */
function send(
  url: string,
  init: { method: string; headers?: Record<string, string>; chunks?: string[] },
  ms: number,
): Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sent = Date.now();
  return new Promise<Answer>((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${ms / 1000}s`));
    }, ms);
    const req = request(url, { method: init.method, headers: init.headers, agent }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body, ms: Date.now() - sent });
      });
      response.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", (error) => {
      if (answered) return; // the server stopped reading the refused body
      clearTimeout(timer);
      reject(error);
    });
    for (const chunk of init.chunks ?? []) req.write(chunk);
    req.end();
  }).finally(() => agent.destroy());
}

async function waitForServer(origin: string): Promise<{ token: string; orgId: string }> {
  const deadline = Date.now() + READY_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!server || server.exitCode !== null || server.signalCode !== null) throw new Error(`npm run dev exited early (${last})`);
    // scripts/dev.ts prints the demo organizations, then a curl line with the first owner's token.
    const token = /Authorization: Bearer ([\w.-]+)/.exec(serverOutput)?.[1];
    const orgId = /\(orgId ([0-9a-f-]{36})\)/.exec(serverOutput)?.[1];
    if (token && orgId) {
      try {
        const answer = await send(`${origin}/openapi.json`, { method: "GET" }, ANSWER_MS);
        if (answer.status === 200) return { token, orgId };
        last = `HTTP ${answer.status}`;
      } catch (error) {
        last = String((error as Error).message ?? error);
      }
    }
    await sleep(500);
  }
  throw new Error(`npm run dev did not answer within ${READY_MS / 1000}s (${last})`);
}

async function main(): Promise<string[]> {
  const port = await listenOn(0);
  if (port === undefined) throw new Error("no free port");
  log(`starting npm run dev on port ${port}`);
  server = spawnGroup("npm", ["run", "dev", "--", "--port", String(port), "--show-interactive-dev-session=false"]);
  server.stdout?.on("data", (chunk: Buffer) => (serverOutput += chunk));
  server.stderr?.on("data", (chunk: Buffer) => (serverOutput += chunk));
  const origin = `http://localhost:${port}`;
  const { token, orgId } = await waitForServer(origin);
  log("server ready");

  const problems: string[] = [];
  const auth = { Authorization: `Bearer ${token}` };
  const organization = `${origin}/organization/${orgId}`;
  const expect = async (label: string, url: string, init: Parameters<typeof send>[1], status: number) => {
    try {
      const answer = await send(url, init, ANSWER_MS);
      if (answer.status !== status)
        problems.push(`${label}: HTTP ${answer.status}, expected ${status}: ${answer.body.slice(0, 200)}`);
      else log(`${label}: ${answer.status} in ${answer.ms} ms`);
      return answer;
    } catch (error) {
      problems.push(`${label}: ${(error as Error).message}`);
      return undefined;
    }
  };

  const value = "x".repeat(OVERSIZE_BYTES);
  const body = JSON.stringify({ city: value });
  const chunks = Array.from({ length: Math.ceil(body.length / 8192) }, (_, i) => body.slice(i * 8192, (i + 1) * 8192));
  const refused = await expect(
    `chunked PUT of ${body.length} bytes`,
    organization,
    { method: "PUT", headers: { ...auth, "Content-Type": "application/json" }, chunks },
    413,
  );
  if (refused && refused.status === 413 && !refused.body.includes('"payload_too_large"'))
    problems.push(`chunked PUT: 413 without the payload_too_large envelope: ${refused.body.slice(0, 200)}`);

  // Each of these is another client: a connection of its own, opened after the 413.
  await expect("GET of the organization, new connection", organization, { method: "GET", headers: auth }, 200);
  await expect("GET /, new connection", `${origin}/`, { method: "GET" }, 404);
  await sleep(1_000);
  if (server.exitCode !== null || server.signalCode !== null)
    problems.push(`npm run dev exited (${server.signalCode ?? `exit ${server.exitCode}`})`);
  else await expect("GET /openapi.json, new connection", `${origin}/openapi.json`, { method: "GET" }, 200);
  return problems;
}

let exiting = false;
async function finish(code: number, message?: string): Promise<never> {
  if (exiting) return new Promise<never>(() => {}); // a second signal waits for the first clean-up
  exiting = true;
  if (message) {
    console.error(`\ncheck:dev FAILED after ${((Date.now() - started) / 1000).toFixed(1)}s:\n${message}`);
    if (serverOutput.trim()) console.error(`\n--- npm run dev output (last 4000 characters) ---\n${serverOutput.slice(-4000)}`);
  }
  if (server?.pid && !(await stopGroup(server.pid))) {
    console.error(`[check:dev] process group ${server.pid} still running after SIGKILL`);
    code = 1;
  }
  if (!message) log("passed");
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(signal, () => void finish(1, `interrupted by ${signal}`));
setTimeout(() => void finish(1, `gave up after ${OVERALL_MS / 1000}s`), OVERALL_MS).unref();

main().then(
  (problems) => finish(problems.length ? 1 : 0, problems.length ? problems.join("\n") : undefined),
  (error: unknown) => finish(1, String((error as Error).message ?? error)),
);
