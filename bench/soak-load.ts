// The soak's load, run as its own process: `node --import tsx bench/soak-load.ts '<SoakPlan JSON>'`.
// `connections` loops over keep-alive sockets on loopback, each sending a random mix of the eight
// operations for `seconds`, then waiting for its request in flight: autocannon stops at its
// deadline with requests unanswered, whose writes may or may not have landed, and the soak must
// know the outcome of every write it sent. Prints one JSON line: a SoakLedger.
import { Agent, request } from "node:http";
import { answerLoadProcess, loadProcessInput, summarize, type Summary } from "./harness";

export type SoakOrg = {
  id: string;
  token: string;
  /** Live members the load only reads. The three sets are disjoint. */
  readIds: string[];
  /** Live members whose names and roles the load rewrites, many times each, from every connection. */
  hotIds: string[];
  /** Members the load deletes, reactivates and renames at once. */
  toggleIds: string[];
  /** Addresses of verified members (one live, one soft-deleted): no organization may create them (409). */
  verifiedEmails: string[];
};

export type SoakPlan = { origin: string; seconds: number; connections: number; orgs: SoakOrg[] };

/** An acknowledged (2xx) write of one field, with when it was sent and when its answer arrived. */
export type FieldWrite = { key: string; value: string | number; sent: number; received: number };

export type SoakLedger = {
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
  /** 201s; `shared`: the address is also held by an unverified user of the other organization. */
  created: { org: number; id: string; email: string; invited: boolean; shared: boolean }[];
  deleted: number[];
  activated: number[];
  writes: FieldWrite[];
  /** Every value sent in a write that was refused: none of them may be in the database. */
  refusedValues: string[];
  /** Responses that showed, or changed, another organization's data. */
  tenancyViolations: string[];
  /** Creations retried with their Idempotency-Key: how many, and those not answered with the first's user, marked replayed. */
  retried: number;
  retriesMismatched: string[];
};

type Call = { method: "GET" | "PUT" | "POST" | "DELETE"; path: string; body?: unknown; headers?: Record<string, string> };
/** What an answer said: its status, body, ETag (null when it had none) and whether it was a replay (Idempotent-Replayed). */
type OnAnswer = (status: number, body: string, sent: number, received: number, etag: string | null, replayed: boolean) => void;
type Operation = {
  name: string;
  weight: number;
  /** Statuses that are correct answers under concurrency (a user deleted meanwhile is a 404). */
  expected: number[];
  run(org: number, state: ConnectionState): Call & { onAnswer?: OnAnswer };
};
/** `tags`: the last ETag this connection saw of each organization, for its conditional requests. */
type ConnectionState = { id: number; sequence: number; cursor: (string | null)[]; tags: (string | null)[] };

const plan = loadProcessInput<SoakPlan>(import.meta.url) as SoakPlan;
const orgs = plan.orgs;
const ledger: SoakLedger = {
  requests: 0,
  seconds: 0,
  statuses: {},
  latency: {},
  unexpectedAnswers: 0,
  unexpected: [],
  transportErrors: [],
  created: [],
  deleted: orgs.map(() => 0),
  activated: orgs.map(() => 0),
  writes: [],
  refusedValues: [],
  tenancyViolations: [],
  retried: 0,
  retriesMismatched: [],
};
const latencies = new Map<string, number[]>();

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const other = (org: number) => (org + 1) % orgs.length;
const at = (org: number) => orgs[org] as SoakOrg;
const unique = (state: ConnectionState) => `soak${process.pid}c${state.id}n${state.sequence++}`;
// Addresses of each organization's 201s (unverified users); those not yet created in the other
// organization too. Taken from synchronously, so no two requests reuse one.
const createdEmails: string[][] = orgs.map(() => []);
const shareable: string[][] = orgs.map(() => []);
// Creations made with an Idempotency-Key, waiting for their retry: the retry must get the same user.
const retriable: { org: number; key: string; call: Call; id: string }[] = [];

/** Records every field of an acknowledged write; on refusal, its values must never appear. */
function fieldWrites(key: string, fields: Record<string, string | number>) {
  return (status: number, _body: string, sent: number, received: number) => {
    for (const [field, value] of Object.entries(fields)) {
      if (status < 300) ledger.writes.push({ key: `${key}.${field}`, value, sent, received });
      else if (typeof value === "string") ledger.refusedValues.push(value);
    }
  };
}

const OPERATIONS: Operation[] = [
  {
    name: "GET organization",
    weight: 12,
    expected: [200],
    run: (org, state) => ({
      method: "GET",
      path: `/organization/${at(org).id}`,
      onAnswer: (_status, _body, _sent, _received, etag) => (state.tags[org] = etag),
    }),
  },
  {
    // With the tag this connection last saw: 304 while nobody changed the organization since.
    name: "GET organization If-None-Match",
    weight: 4,
    expected: [200, 304],
    run: (org, state) => ({
      method: "GET",
      path: `/organization/${at(org).id}`,
      headers: { "If-None-Match": state.tags[org] ?? '"0"' },
      onAnswer: (_status, _body, _sent, _received, etag) => (state.tags[org] = etag),
    }),
  },
  {
    name: "GET users (pages)",
    weight: 14,
    expected: [200],
    run: (org, state) => {
      const cursor = state.cursor[org];
      return {
        method: "GET",
        path: `/organization/users?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        onAnswer: (status, body) => {
          if (status !== 200) return;
          const page = JSON.parse(body) as { data: { orgId: string }[]; nextCursor: string | null };
          if (page.data.some((user) => user.orgId !== at(org).id))
            ledger.tenancyViolations.push("list showed another org's user");
          state.cursor[org] = page.nextCursor;
        },
      };
    },
  },
  {
    name: "GET users?q",
    weight: 4,
    expected: [200],
    run: () => ({ method: "GET", path: `/organization/users?limit=20&q=${pick(["member1", "org", "soak", "%", "_"])}` }),
  },
  {
    name: "GET user",
    weight: 12,
    expected: [200],
    run: (org) => ({ method: "GET", path: `/organization/users/${pick(at(org).readIds)}${pick(["", "?includeDeleted=true"])}` }),
  },
  {
    name: "GET user of other org",
    weight: 3,
    expected: [404],
    run: (org) => ({ method: "GET", path: `/organization/users/${pick(at(other(org)).readIds)}?includeDeleted=true` }),
  },
  {
    name: "PUT user",
    weight: 20,
    expected: [200],
    run: (org, state) => {
      const id = pick(at(org).hotIds);
      const body: Record<string, string | number> = {};
      const shape = Math.random();
      if (shape < 0.4) body.name = unique(state);
      else if (shape < 0.8) body.lastName = unique(state);
      else if (shape < 0.9) body.orgRole = pick([0, 1, 2]);
      else Object.assign(body, { name: unique(state), lastName: unique(state) });
      return { method: "PUT", path: `/organization/users/${id}`, body, onAnswer: fieldWrites(id, body) };
    },
  },
  {
    name: "PUT user being deleted",
    weight: 4,
    expected: [200, 404],
    run: (org, state) => {
      const id = pick(at(org).toggleIds);
      const body = { lastName: unique(state) };
      return { method: "PUT", path: `/organization/users/${id}`, body, onAnswer: fieldWrites(id, body) };
    },
  },
  {
    name: "PUT user of other org",
    weight: 2,
    expected: [404],
    run: (org, state) => {
      const body = { name: unique(state) };
      return { method: "PUT", path: `/organization/users/${pick(at(other(org)).hotIds)}`, body, onAnswer: fieldWrites("", body) };
    },
  },
  {
    name: "PUT organization",
    weight: 4,
    expected: [200],
    run: (org, state) => {
      const body = pick<Record<string, string>>([
        { name: unique(state) },
        { city: unique(state) },
        { name: unique(state), city: unique(state) },
      ]);
      return { method: "PUT", path: `/organization/${at(org).id}`, body, onAnswer: fieldWrites(at(org).id, body) };
    },
  },
  {
    // Only over the version this connection last saw: 412, writing nothing, once another write got in first.
    name: "PUT organization If-Match",
    weight: 3,
    expected: [200, 412],
    run: (org, state) => {
      const body = { city: unique(state) };
      const record = fieldWrites(at(org).id, body);
      return {
        method: "PUT",
        path: `/organization/${at(org).id}`,
        headers: { "If-Match": state.tags[org] ?? '"0"' },
        body,
        onAnswer: (status, text, sent, received, etag) => {
          record(status, text, sent, received);
          if (status === 200) state.tags[org] = etag;
        },
      };
    },
  },
  {
    name: "DELETE user",
    weight: 9,
    expected: [200, 404],
    run: (org) => ({
      method: "DELETE",
      path: `/organization/users/${pick(at(org).toggleIds)}`,
      onAnswer: (status) => {
        if (status === 200) ledger.deleted[org] = (ledger.deleted[org] ?? 0) + 1;
      },
    }),
  },
  {
    name: "POST activate",
    weight: 9,
    expected: [200, 400],
    run: (org) => ({
      method: "POST",
      path: `/organization/users/${pick(at(org).toggleIds)}/activate`,
      onAnswer: (status) => {
        if (status === 200) ledger.activated[org] = (ledger.activated[org] ?? 0) + 1;
      },
    }),
  },
  {
    name: "POST user",
    weight: 3,
    expected: [201],
    run: (org, state) => createUser(org, `${unique(state)}@soak.example`, false),
  },
  {
    // Unverified users of several organizations may hold one address (the first to verify wins).
    // A fresh address until the other organization has a 201 to share.
    name: "POST user, address of other org",
    weight: 1,
    expected: [201],
    run: (org, state) => {
      const email = shareable[other(org)]?.pop();
      return createUser(org, email ?? `${unique(state)}@soak.example`, email !== undefined);
    },
  },
  {
    name: "POST user with Idempotency-Key",
    weight: 2,
    expected: [201],
    run: (org, state) => keyedCreation(org, state),
  },
  {
    // The retry of a keyed creation (a client whose answer was lost): the first's answer, marked
    // replayed, and no second user (the user count and tallies check it). None waiting: a new one.
    name: "POST user, retried with its Idempotency-Key",
    weight: 2,
    expected: [201],
    run: (org, state) => {
      const first = retriable.findIndex((waiting) => waiting.org === org);
      if (first < 0) return keyedCreation(org, state);
      const [retry] = retriable.splice(first, 1);
      const { key, call, id } = retry as (typeof retriable)[number];
      ledger.retried++;
      return {
        ...call,
        onAnswer: (status, body, _sent, _received, _etag, replayed) => {
          const answered = (JSON.parse(body) as { data: { id: string } }).data.id;
          if (status !== 201 || answered !== id || !replayed) {
            ledger.retriesMismatched.push(`key ${key}: ${status}, user ${answered} (first ${id}), replayed ${replayed}`);
          }
        },
      };
    },
  },
  {
    name: "POST user, address verified",
    weight: 1,
    expected: [409],
    run: (org, state) => refusedCreation(pick([...at(org).verifiedEmails, ...at(other(org)).verifiedEmails]), state),
  },
  {
    name: "POST user, address in own org",
    weight: 1,
    expected: [409],
    run: (org, state) => refusedCreation(pick(createdEmails[org]?.length ? createdEmails[org] : at(org).verifiedEmails), state),
  },
];
const totalWeight = OPERATIONS.reduce((sum, op) => sum + op.weight, 0);

function createUser(org: number, email: string, shared: boolean): ReturnType<Operation["run"]> {
  const invited = Math.random() < 0.5;
  return {
    method: "POST",
    path: "/organization/users",
    body: { email, password: "Soak-pass-1", firstName: "Soak", lastName: "Created", orgRole: 0, sendInvite: invited },
    onAnswer: (status, body) => {
      if (status !== 201) return;
      const { data } = JSON.parse(body) as { data: { id: string; orgId: string } };
      if (data.orgId !== at(org).id) ledger.tenancyViolations.push(`created user ${data.id} in another org`);
      ledger.created.push({ org, id: data.id, email, invited, shared });
      createdEmails[org]?.push(email);
      if (!shared) shareable[org]?.push(email);
    },
  };
}

/** A creation with a fresh Idempotency-Key; its 201 waits for a retry. */
function keyedCreation(org: number, state: ConnectionState): ReturnType<Operation["run"]> {
  const key = unique(state);
  const creation = createUser(org, `${key}@soak.example`, false);
  const call: Call = { ...creation, headers: { "Idempotency-Key": key } };
  return {
    ...call,
    onAnswer: (status, body, sent, received, etag, replayed) => {
      creation.onAnswer?.(status, body, sent, received, etag, replayed);
      if (status === 201) retriable.push({ org, key, call, id: (JSON.parse(body) as { data: { id: string } }).data.id });
    },
  };
}

/** A creation that must be refused (409), in other letter case; its unique last name must never be stored. */
function refusedCreation(email: string, state: ConnectionState): ReturnType<Operation["run"]> {
  const body = { email: email.toUpperCase(), password: "Soak-pass-1", firstName: "Soak", lastName: unique(state) };
  return { method: "POST", path: "/organization/users", body, onAnswer: fieldWrites("", { lastName: body.lastName }) };
}

function chooseOperation(): Operation {
  let roll = Math.random() * totalWeight;
  for (const op of OPERATIONS) if ((roll -= op.weight) < 0) return op;
  return OPERATIONS.at(-1) as Operation;
}

const agent = new Agent({ keepAlive: true, maxSockets: plan.connections });

type Answer = { status: number; body: string; etag: string | null; replayed: boolean };

function send(call: Call, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const req = request(
      `${plan.origin}${call.path}`,
      {
        method: call.method,
        agent,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}), ...call.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
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
  const state: ConnectionState = { id, sequence: 0, cursor: orgs.map(() => null), tags: orgs.map(() => null) };
  while (performance.now() < deadline) {
    const op = chooseOperation();
    const org = Math.floor(Math.random() * orgs.length);
    const call = op.run(org, state);
    const sent = performance.now();
    let answer: Answer;
    try {
      answer = await send(call, at(org).token);
    } catch (error) {
      ledger.transportErrors.push(`${op.name}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const received = performance.now();
    ledger.requests++;
    const counts = (ledger.statuses[op.name] ??= {});
    counts[answer.status] = (counts[answer.status] ?? 0) + 1;
    if (!latencies.has(op.name)) latencies.set(op.name, []);
    latencies.get(op.name)?.push(received - sent);
    if (!op.expected.includes(answer.status)) {
      ledger.unexpectedAnswers++;
      if (ledger.unexpected.length < 200)
        ledger.unexpected.push({ op: op.name, status: answer.status, body: answer.body.slice(0, 300) });
      continue;
    }
    call.onAnswer?.(answer.status, answer.body, sent, received, answer.etag, answer.replayed);
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: plan.connections }, (_, id) => connection(id, started + plan.seconds * 1000)));
ledger.seconds = (performance.now() - started) / 1000;
for (const [name, samples] of latencies) ledger.latency[name] = summarize(samples, ledger.seconds);
agent.destroy();
answerLoadProcess(ledger);
