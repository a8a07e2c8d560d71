// The peer in the benchmark: better-auth's organization plugin as a second worker in the same
// workerd, on a D1 database of its own, seeded with organizations of the smallest and the largest
// size, against the API on the same operations, in one set of interleaved rounds. bench/run.ts
// calls, in order: buildPeer, peerWorkers (Miniflare options), seedPeer (./seed), preparePeerSet
// (the set's scenarios, every request sent once and its status and content checked before any is
// timed), then comparePeer on the measurements.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROLE } from "../../src/auth/roles";
import { median } from "../harness";
import type { Budget, Measurement } from "../report";
import type { PeerOrg, PeerSeed } from "./seed";

// better-auth's exports do not include its package.json.
const manifest = new URL("../../node_modules/better-auth/package.json", import.meta.url);
export const PEER_VERSION = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
const PEER_D1_ID = "peer-better-auth";
/** better-auth's baseURL in the peer: the origin it trusts, sent as `Origin` on POST (its CSRF check). */
const PEER_ORIGIN = "http://peer.bench.localhost";
/** better-auth's secret: it signs the session cookie with it (seed.ts signs the seeded ones). */
export const PEER_SECRET = randomBytes(32).toString("base64url");
const PAGE = 100;
// better-auth's list-members reads a page's users with one `id IN (...)` and a bound LIMIT: a page
// of 100 binds 101 parameters, over D1's 100, and answers 500 ("too many SQL variables"). 99 is
// the largest page it can serve on D1, so theirs is measured at 99 against ours at 100 (checked
// once each run: pageOf100 below).
export const PEER_PAGE = PAGE - 1;
/** Largest ÷ smallest p50 that still counts as flat with organization size (as the list budgets). */
const FLAT = 1.5;

export type PeerBuild = { script: string; dir: string; probeDir: string; bytes: number; gzipBytes: number };

/**
 * `wrangler deploy --dry-run` of bench/peer/wrangler.toml into `work`: the peer as it would be
 * uploaded; and beside it, the bundle under bench/workers/probe.js, as the API's is probed.
 */
export function buildPeer(work: string): PeerBuild {
  const dir = join(work, "peer-build");
  const build = spawnSync(
    "node_modules/.bin/wrangler",
    ["deploy", "--dry-run", "--config", "bench/peer/wrangler.toml", "--outdir", dir],
    { encoding: "utf8", env: { ...process.env, CI: "true" }, timeout: 120_000 },
  );
  if (build.status !== 0) throw new Error(`peer build failed:\n${build.stdout}\n${build.stderr}`);
  const script = join(dir, "worker.js");
  const probeDir = join(dir, "probe");
  mkdirSync(probeDir);
  copyFileSync(script, join(probeDir, "api.js"));
  copyFileSync("bench/workers/probe.js", join(probeDir, "probe.js"));
  const text = readFileSync(script);
  return { script, dir, probeDir, bytes: text.length, gzipBytes: gzipSync(text, { level: 9 }).length };
}

/** Miniflare (v4 shape) options of the peer worker, "peer", and of its probe, "peer-probe", on the same D1. */
export function peerWorkers(build: PeerBuild, compatibilityDate: string | undefined, direct: object[]) {
  const common = {
    compatibilityDate,
    compatibilityFlags: ["nodejs_compat"],
    bindings: { BETTER_AUTH_SECRET: PEER_SECRET, BETTER_AUTH_URL: PEER_ORIGIN },
    d1Databases: { DB: PEER_D1_ID },
    unsafeDirectSockets: direct,
  };
  return [
    { name: "peer", modules: true, modulesRoot: build.dir, scriptPath: build.script, ...common },
    {
      name: "peer-probe",
      modulesRoot: build.probeDir,
      modules: ["probe.js", "api.js"].map((file) => ({ type: "ESModule", path: join(build.probeDir, file) })),
      ...common,
    },
  ];
}

export const OPERATIONS = [
  {
    op: "listFirst",
    name: "list members, first page",
    ours: `GET /organization/users?limit=${PAGE}`,
    theirs: `GET /api/auth/organization/list-members?limit=${PEER_PAGE}`,
  },
  {
    op: "listDeep",
    name: "list members, last full page",
    ours: `GET /organization/users?limit=${PAGE}&cursor=…`,
    theirs: `GET /api/auth/organization/list-members?limit=${PEER_PAGE}&offset=<members − ${PEER_PAGE}>`,
  },
  {
    op: "getMember",
    name: "get one member",
    ours: "GET /organization/users/{id}",
    theirs: "GET /api/auth/organization/get-active-member",
  },
  {
    op: "updateRole",
    name: "update a member's role (two roles in turn)",
    ours: "PUT /organization/users/{id} {orgRole}",
    theirs: "POST /api/auth/organization/update-member-role {memberId, role}",
  },
] as const;
export type Operation = (typeof OPERATIONS)[number]["op"];
type Side = "ours" | "theirs";

type Json = Record<string, unknown>;
export type PlannedRequest = {
  method: "GET" | "PUT" | "POST";
  url: string;
  headers: Record<string, string>;
  /** Sent in turn, request after request (the `bodies` of a bench/harness.ts Scenario). */
  bodies?: string[];
  expect: number;
};
export type ComparisonScenario = {
  id: string;
  label: string;
  group: "peer";
  size: number;
  request: PlannedRequest;
  /** What the answer to each body (or to the GET) must hold, checked once before the load. */
  check: (body: Json, index: number) => string | undefined;
};

/** The API's side, per organization: its caller's headers, a deep cursor, a member to read, one to edit. */
export type OursOrg = { size: number; headers: Record<string, string>; deepCursor: string; memberId: string; editId: string };

const id = (op: Operation, side: Side, size: number) => `peer-${op}-${side}-${size}`;
const sizeLabel = (size: number) => size.toLocaleString("en");
const items = (body: Json, key: string) => (Array.isArray(body[key]) ? (body[key] as Json[]) : []);
const expectPage = (body: Json, key: string, length: (total: number) => number) => {
  const total = Number(body.total);
  const got = items(body, key).length;
  return got === length(total) && got > 0 ? undefined : `${got} ${key} of total ${body.total}, expected ${length(total)}`;
};

/** Ours and theirs, per operation and size: the order of the set's rounds. */
function comparisonPlan(apiUrl: string, peerUrl: string, ours: OursOrg[], theirs: PeerOrg[]): ComparisonScenario[] {
  const JSON_TYPE = { "Content-Type": "application/json" };
  const ourRoles = [ROLE.ADMINISTRATOR, ROLE.USER];
  const theirRoles = ["admin", "member"];
  const plan: ComparisonScenario[] = [];
  for (const { op } of OPERATIONS) {
    for (const [index, our] of ours.entries()) {
      const their = theirs[index] as PeerOrg;
      const peerHeaders = { Cookie: their.cookie };
      const api = `${apiUrl}/organization/users`;
      const list = `${peerUrl}/api/auth/organization/list-members?limit=${PEER_PAGE}`;
      type ScenarioSide = Pick<ComparisonScenario, "request" | "check">;
      const byOperation: Record<Operation, Record<Side, ScenarioSide>> = {
        listFirst: {
          ours: {
            request: { method: "GET", url: `${api}?limit=${PAGE}`, headers: our.headers, expect: 200 },
            check: (body) => expectPage(body, "data", (total) => Math.min(PAGE, total)),
          },
          theirs: {
            request: { method: "GET", url: list, headers: peerHeaders, expect: 200 },
            check: (body) =>
              expectPage(body, "members", (total) => Math.min(PEER_PAGE, total)) ??
              (body.total === their.size ? undefined : `total ${body.total}, expected ${their.size}`),
          },
        },
        listDeep: {
          ours: {
            request: { method: "GET", url: `${api}?limit=${PAGE}&cursor=${our.deepCursor}`, headers: our.headers, expect: 200 },
            // The last full page; an organization too small for one pages from its first member.
            check: (body) => expectPage(body, "data", (total) => (total >= 2 * PAGE ? PAGE : total - 1)),
          },
          theirs: {
            request: {
              method: "GET",
              url: `${list}&offset=${Math.max(0, their.size - PEER_PAGE)}`,
              headers: peerHeaders,
              expect: 200,
            },
            check: (body) => expectPage(body, "members", (total) => Math.min(PEER_PAGE, total)),
          },
        },
        getMember: {
          ours: {
            request: { method: "GET", url: `${api}/${our.memberId}`, headers: our.headers, expect: 200 },
            check: (body) => (body.id === our.memberId ? undefined : `id ${String(body.id)}, expected ${our.memberId}`),
          },
          theirs: {
            request: {
              method: "GET",
              url: `${peerUrl}/api/auth/organization/get-active-member`,
              headers: peerHeaders,
              expect: 200,
            },
            check: (body) =>
              body.role === "owner" && (body.user as Json | undefined)?.id === their.ownerUserId
                ? undefined
                : `role ${String(body.role)} of ${JSON.stringify(body.user)}, expected the owner`,
          },
        },
        updateRole: {
          ours: {
            request: {
              method: "PUT",
              url: `${api}/${our.editId}`,
              headers: { ...our.headers, ...JSON_TYPE },
              bodies: ourRoles.map((orgRole) => JSON.stringify({ orgRole })),
              expect: 200,
            },
            check: (body, i) => {
              const role = (body.data as Json | undefined)?.orgRole;
              return role === ourRoles[i] ? undefined : `orgRole ${String(role)}, expected ${ourRoles[i]}`;
            },
          },
          theirs: {
            request: {
              method: "POST",
              url: `${peerUrl}/api/auth/organization/update-member-role`,
              // A browser sends Origin on a POST; better-auth refuses a cookie-authenticated POST without it.
              headers: { ...peerHeaders, ...JSON_TYPE, Origin: PEER_ORIGIN },
              bodies: theirRoles.map((role) => JSON.stringify({ memberId: their.editMemberId, role })),
              expect: 200,
            },
            check: (body, i) =>
              body.role === theirRoles[i] ? undefined : `role ${String(body.role)}, expected ${theirRoles[i]}`,
          },
        },
      };
      const sides = byOperation[op];
      for (const side of ["ours", "theirs"] as const) {
        const operation = OPERATIONS.find((o) => o.op === op);
        plan.push({
          id: id(op, side, our.size),
          label: `${side === "ours" ? "ours" : "better-auth"}: ${operation?.[side]} @${sizeLabel(our.size)}`,
          group: "peer",
          size: our.size,
          ...sides[side],
        });
      }
    }
  }
  return plan;
}

/**
 * Sends every request of the plan (each body in turn) once and checks the answer, the first
 * failure throws; then sends it twice through the probe of the same bundle (bench/workers/probe.js)
 * for its D1 round trips and the keys it imports (the second request's).
 */
async function verifyPlan(plan: ComparisonScenario[], probeOf: (url: string) => string): Promise<PeerStructure[]> {
  const structure: PeerStructure[] = [];
  for (const scenario of plan) {
    const { method, url, headers, bodies, expect } = scenario.request;
    for (const [index, body] of (bodies ?? [undefined]).entries()) {
      const response = await fetch(url, { method, headers, body });
      const text = await response.text();
      let parsed: Json = {};
      try {
        parsed = JSON.parse(text) as Json;
      } catch {
        // Reported below with the text.
      }
      const problem =
        response.status === expect ? scenario.check(parsed, index) : `status ${response.status}, expected ${expect}`;
      if (problem) throw new Error(`${scenario.label}: ${problem}: ${text.slice(0, 300)}`);
    }
    const probed = [];
    for (const body of bodies ?? [undefined, undefined]) {
      const response = await fetch(probeOf(url), { method, headers, body });
      await response.arrayBuffer();
      if (response.status !== expect) throw new Error(`${scenario.label} (probe): status ${response.status}`);
      probed.push({
        roundTrips: Number(response.headers.get("X-Probe-D1-Round-Trips")),
        keyImports: Number(response.headers.get("X-Probe-Key-Imports")),
      });
    }
    structure.push({
      id: scenario.id,
      roundTrips: Math.max(...probed.map((p) => p.roundTrips)),
      keyImports: (probed[1]?.keyImports ?? NaN) - (probed[0]?.keyImports ?? NaN),
    });
  }
  return structure;
}

/** The status of list-members with a page of 100 (see PEER_PAGE), in the largest organization. */
async function pageOf100Status(peerUrl: string, their: PeerOrg): Promise<number> {
  const url = `${peerUrl}/api/auth/organization/list-members?limit=${PAGE}`;
  const response = await fetch(url, { headers: { Cookie: their.cookie } });
  await response.arrayBuffer();
  return response.status;
}

/** A scenario's request as the probe saw it: D1 round trips, keys imported (by one request). */
export type PeerStructure = { id: string; roundTrips: number; keyImports: number };
export type PeerSet = { plan: ComparisonScenario[]; structure: PeerStructure[]; pageOf100: number };
type Origins = { api: string; probe: string; peer: string; "peer-probe": string };

/**
 * The set's scenarios, each request checked once and probed; and what list-members with a page of
 * 100 answers.
 */
export async function preparePeerSet(urls: Origins, ours: OursOrg[], seed: PeerSeed): Promise<PeerSet> {
  const plan = comparisonPlan(urls.api, urls.peer, ours, seed.orgs);
  const probeOf = (url: string) =>
    url.startsWith(urls.api) ? urls.probe + url.slice(urls.api.length) : urls["peer-probe"] + url.slice(urls.peer.length);
  const structure = await verifyPlan(plan, probeOf);
  return { plan, structure, pageOf100: await pageOf100Status(urls.peer, seed.orgs.at(-1) as PeerOrg) };
}

type SideFigures = { rps: number; p50: number; roundTrips: number; keyImports: number };
export type PeerRow = {
  op: Operation;
  size: number;
  /** Throughput, p50, and (from the probe) D1 round trips and keys imported per request. */
  ours: SideFigures;
  theirs: SideFigures;
  /** Median over rounds of ours ÷ theirs: above 1 is ours ahead (req/s); below 1 is ours faster (p50). */
  rpsRatio: number;
  p50Ratio: number;
};
export type PeerFlatness = { op: Operation; ours: number; theirs: number };
export type PeerComparison = {
  version: string;
  adapter: string;
  authentication: string;
  bundle: { bytes: number; gzipBytes: number };
  seed: { rows: number; seconds: number };
  sizes: number[];
  rounds: number;
  /** Measured seconds per scenario and round, and connections. */
  secondsPerRound: number;
  connections: number;
  /** list-members?limit=100's status (500 on D1 for better-auth 1.7.25) and the page measured instead. */
  pageOf100: { status: number; measuredPage: number };
  rows: PeerRow[];
  /** p50 at the largest size ÷ at the smallest, median over rounds. */
  flatness: PeerFlatness[];
};

/** The comparison's figures and its two budgets, from the set's measurements. */
export function comparePeer(
  measurements: Measurement[],
  build: PeerBuild,
  seed: PeerSeed,
  set: PeerSet,
): { comparison: PeerComparison; budgets: Budget[] } {
  const sizes = seed.orgs.map((org) => org.size);
  const get = (op: Operation, side: Side, size: number) => {
    const found = measurements.find((m) => m.id === id(op, side, size));
    if (!found) throw new Error(`no measurement ${id(op, side, size)}`);
    return found;
  };
  const roundRatio = (of: Measurement, by: Measurement, figure: "rps" | "p50") =>
    median(of.rounds.map((round, i) => round[figure] / (by.rounds[i]?.[figure] ?? NaN)));
  const rows: PeerRow[] = OPERATIONS.flatMap(({ op }) =>
    sizes.map((size) => {
      const ours = get(op, "ours", size);
      const theirs = get(op, "theirs", size);
      const probed = (m: Measurement) => {
        const found = set.structure.find((s) => s.id === m.id);
        return { roundTrips: found?.roundTrips ?? NaN, keyImports: found?.keyImports ?? NaN };
      };
      return {
        op,
        size,
        ours: { rps: ours.rps, p50: ours.p50, ...probed(ours) },
        theirs: { rps: theirs.rps, p50: theirs.p50, ...probed(theirs) },
        rpsRatio: roundRatio(ours, theirs, "rps"),
        p50Ratio: roundRatio(ours, theirs, "p50"),
      };
    }),
  );
  const smallest = sizes[0] as number;
  const largest = sizes.at(-1) as number;
  const flatness = OPERATIONS.map(({ op }) => ({
    op,
    ours: roundRatio(get(op, "ours", largest), get(op, "ours", smallest), "p50"),
    theirs: roundRatio(get(op, "theirs", largest), get(op, "theirs", smallest), "p50"),
  }));
  const behind = rows.filter((r) => !(r.rpsRatio > 1));
  const notFlat = flatness.filter((f) => !(f.ours <= FLAT));
  const at = (size: number) => `@${sizeLabel(size)}`;
  const budgets: Budget[] = [
    {
      name: `ahead of better-auth ${PEER_VERSION} on every operation at every size (req/s ours ÷ theirs, median of rounds)`,
      limit: "> 1.00 each",
      value: Math.min(...rows.map((r) => r.rpsRatio)),
      display:
        rows.map((r) => `${r.op} ${at(r.size)} ${r.rpsRatio.toFixed(2)}`).join(", ") +
        (behind.length ? `; BEHIND: ${behind.map((r) => `${r.op} ${at(r.size)}`).join(", ")}` : ""),
      pass: behind.length === 0,
    },
    {
      name: `flat with size next to better-auth: ours p50 ${at(largest)} ÷ ${at(smallest)} on every operation (theirs in brackets)`,
      limit: `<= ${FLAT.toFixed(2)}x each`,
      value: Math.max(...flatness.map((f) => f.ours)),
      display:
        flatness.map((f) => `${f.op} ${f.ours.toFixed(2)}x (${f.theirs.toFixed(2)}x)`).join(", ") +
        (notFlat.length ? `; NOT FLAT: ${notFlat.map((f) => f.op).join(", ")}` : ""),
      pass: notFlat.length === 0,
    },
  ];
  const comparison: PeerComparison = {
    version: PEER_VERSION,
    adapter: "better-auth/adapters/drizzle (provider sqlite) over drizzle-orm/d1",
    authentication: "better-auth.session_token cookie (a seeded session, signed with the secret); Origin on POST",
    bundle: { bytes: build.bytes, gzipBytes: build.gzipBytes },
    seed: { rows: seed.rows, seconds: seed.seconds },
    sizes: [smallest, largest],
    rounds: get("listFirst", "ours", smallest).rounds.length,
    secondsPerRound: get("listFirst", "ours", smallest).seconds / get("listFirst", "ours", smallest).rounds.length,
    connections: get("listFirst", "ours", smallest).connections,
    pageOf100: { status: set.pageOf100, measuredPage: PEER_PAGE },
    rows,
    flatness,
  };
  return { comparison, budgets };
}
