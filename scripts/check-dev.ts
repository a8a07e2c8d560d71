// npm run check:dev: `npm run dev` keeps serving other clients after it refuses an oversize body,
// and its console gives what the invitation flow needs.
// The body limit answers 413 with the request body half read; wrangler's dev proxy before 4.114
// then parked the next request, from any connection, until yet another one arrived
// (workers-sdk#14593), and a GET / in that window could make `npm run dev` exit. This starts
// `npm run dev` on a free port, sends an 80 KB chunked PUT (no Content-Length) as the demo owner
// and expects 413, then expects prompt answers on new connections, GET / included, and the server
// still running. Then it creates a user with an invitation, waits for the console's report of the
// email, and with the link and the token printed there walks the flow: pre-verify 200, the new
// user refused with 403 email_not_verified, verify 200, the organization read as the new user 200.
// Last, the README's sign-in flow: the demo owner signs in, reads, refreshes, signs out, and the
// next read is 401. Stops the whole dev server process group on every way out.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { listenOn, spawnGroup, stopGroup } from "./lib/process-group";

const READY_MS = 180_000; // migrations, the demo seed and a cold wrangler start on a busy 2-core machine
const ANSWER_MS = 5_000; // what "promptly" means for a local request
const OVERALL_MS = 300_000;
const OVERSIZE_BYTES = 80 * 1024; // past the 64 KiB body limit
const EMAIL_MS = 60_000; // the queue's 5 s batch timeout, the send, the report's database lookup

const started = Date.now();
const log = (message: string) => console.log(`[check:dev ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: ChildProcess | undefined;
let serverOutput = "";

type Answer = { status: number; headers: IncomingHttpHeaders; body: string; ms: number };

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
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, ms: Date.now() - sent });
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
  // src/index.ts: the isolate's start is logged (and pays for the console's first use).
  if (!serverOutput.includes('{"level":"info","event":"isolate_started"}')) problems.push("no isolate_started log line");
  await sleep(1_000);
  if (server.exitCode !== null || server.signalCode !== null)
    problems.push(`npm run dev exited (${server.signalCode ?? `exit ${server.exitCode}`})`);
  else {
    // Static assets (scripts/docs-assets.mjs): the committed document and the reference page, with
    // the headers `_headers` gives them.
    const document = await expect("GET /openapi.json, new connection", `${origin}/openapi.json`, { method: "GET" }, 200);
    if (document && document.body !== readFileSync("openapi.json", "utf8"))
      problems.push("GET /openapi.json: not the committed openapi.json");
    const page = await expect("GET /docs", `${origin}/docs`, { method: "GET" }, 200);
    if (page && !page.body.includes('<script src="/docs/scalar.js"></script>'))
      problems.push("GET /docs: not the reference page");
    for (const [path, answer] of [
      ["/openapi.json", document],
      ["/docs", page],
    ] as const) {
      for (const [name, value] of [
        ["cache-control", "no-cache"],
        ["x-content-type-options", "nosniff"],
      ] as const) {
        if (answer && answer.headers[name] !== value)
          problems.push(`GET ${path}: ${name} is ${answer.headers[name]}, expected ${value}`);
      }
    }
  }
  if (problems.length === 0) await invitationFlow(origin, auth, orgId, expect, problems);
  if (problems.length === 0) await signInFlow(origin, orgId, expect, problems);
  return problems;
}

const jsonPost = (body: unknown) => {
  const text = JSON.stringify(body);
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) },
    chunks: [text],
  };
};

/** The README's sign-in flow: the demo owner signs in, reads, refreshes, signs out, and is refused. */
async function signInFlow(origin: string, orgId: string, expect: Expect, problems: string[]): Promise<void> {
  const count = problems.length;
  const organization = `${origin}/organization/${orgId}`;
  const signedIn = await expect(
    "sign in as the demo owner",
    `${origin}/user/login`,
    jsonPost({ email: "owner@acme.example", password: "Demo-pass-1" }),
    200,
  );
  if (!signedIn || problems.length > count) return;
  const first = JSON.parse(signedIn.body) as { accessToken: string; refreshToken: string };
  await expect(
    "GET of the organization with the access token",
    organization,
    { method: "GET", headers: bearer(first.accessToken) },
    200,
  );
  const refreshed = await expect("refresh", `${origin}/user/refresh`, jsonPost({ refresh_token: first.refreshToken }), 200);
  if (!refreshed || problems.length > count) return;
  const second = JSON.parse(refreshed.body) as { accessToken: string; refreshToken: string };
  await expect("sign out", `${origin}/user/logout`, jsonPost({ refresh_token: second.refreshToken }), 200);
  await expect(
    "GET of the organization after signing out",
    organization,
    { method: "GET", headers: bearer(second.accessToken) },
    401,
  );
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

type Expect = (label: string, url: string, init: Parameters<typeof send>[1], status: number) => Promise<Answer | undefined>;

/** The console's report of the email to `address` (scripts/lib/email-report.ts), once complete. */
function emailReport(address: string): { link: string; token: string; userId?: string } | undefined {
  const start = serverOutput.indexOf(`\n  to:       ${address}\n`);
  const end = start < 0 ? -1 : serverOutput.indexOf("\n\n", start);
  if (end < 0) return undefined;
  const report = serverOutput.slice(start, end);
  const link = /^ {2}link: +(\S+)$/m.exec(report)?.[1];
  const dev = /^ {2}local development token for \S+ \(user ([0-9a-f-]{36}),.*\n {4}([\w-]+\.[\w-]+\.[\w-]+)$/m.exec(report);
  if (!link || !dev?.[2]) throw new Error(`the email report for ${address} has no link or no local development token`);
  return { link, token: dev[2], userId: dev[1] };
}

/** The invitation flow, with nothing but what the dev console printed. Stops at the first failure. */
async function invitationFlow(
  origin: string,
  auth: Record<string, string>,
  orgId: string,
  expect: Expect,
  problems: string[],
): Promise<void> {
  const address = `invitee-${Date.now()}@acme.example`;
  const post = (body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    const type = { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) };
    return { method: "POST", headers: { ...headers, ...type }, chunks: [text] };
  };
  const fail = (message: string) => void problems.push(`invitation flow: ${message}`);
  const count = problems.length;
  const ok = () => problems.length === count;

  const created = await expect(
    "create a user with sendInvite",
    `${origin}/organization/users`,
    post(
      { email: address, password: "Str0ng-pass-1", firstName: "Ivy", lastName: "Invitee", orgRole: 0, sendInvite: true },
      auth,
    ),
    201,
  );
  if (!created || !ok()) return;
  const userId = (JSON.parse(created.body) as { data?: { id?: string } }).data?.id;

  const deadline = Date.now() + EMAIL_MS;
  let report = emailReport(address);
  while (!report && Date.now() < deadline) {
    if (!server || server.exitCode !== null || server.signalCode !== null) return fail("npm run dev exited");
    await sleep(250);
    report = emailReport(address);
  }
  if (!report) return fail(`no email report for ${address} in the dev console within ${EMAIL_MS / 1000}s`);
  log(`email report for ${address} printed`);
  if (report.userId !== userId) return fail(`the report's token is for user ${report.userId}, the created user is ${userId}`);
  const token = new URL(report.link).searchParams.get("token") ?? "";
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return fail(`the link's token is not 43 base64url characters (${token.length})`);
  // Only the dev console's report may show the link's token: never the Worker's own log lines.
  const elsewhere = serverOutput.split("\n").filter((line) => line.includes(token) && !/^ {2}(link|check|verify): /.test(line));
  if (elsewhere.length)
    return fail(
      `the verification token appears outside the email report: ${elsewhere[0]?.replaceAll(token, "<token>").slice(0, 200)}`,
    );

  const invitee = { Authorization: `Bearer ${report.token}` };
  const organization = `${origin}/organization/${orgId}`;
  await expect("pre-verify with the link's token", `${origin}/user/pre-verify-email`, post({ token }), 200);
  if (!ok()) return;
  const refused = await expect(
    "GET of the organization as the invitee, unverified",
    organization,
    { method: "GET", headers: invitee },
    403,
  );
  if (!ok()) return;
  if (!refused?.body.includes('"email_not_verified"'))
    return fail(`403 without email_not_verified: ${refused?.body.slice(0, 200)}`);
  await expect("verify with the link's token", `${origin}/user/verify-email`, post({ token }), 200);
  if (!ok()) return;
  await expect("GET of the organization as the invitee, verified", organization, { method: "GET", headers: invitee }, 200);
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
