// The benchmark's report: a markdown document (tables, budget verdicts, before/after) and a chart,
// a Vega-Lite specification rendered to SVG by vega and to PNG by resvg (no browser, no network).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Resvg } from "@resvg/resvg-js";
import { parse, textMetrics, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { median, type LoadResult } from "./harness";
import type { PeerComparison } from "./peer/compare";
import { renderPeer } from "./peer/report";

export type Measurement = Omit<LoadResult, "samples"> & {
  id: string;
  label: string;
  /** "peer": the comparison with better-auth, reported in its own section (bench/peer/report.ts). */
  group: "baseline" | "read" | "list" | "search" | "write" | "peer";
  connections: number;
  size?: number;
  rpsVsTrivial?: number;
  rpsVsMinimal?: number;
  p50VsMinimal?: number;
  /** The set of scenarios it was measured with, round by round. */
  set: number;
  rounds: { rps: number; p50: number; p99: number }[];
};

export type Budget = { name: string; limit: string; value: number; display: string; pass: boolean };

export type ColdStart = {
  readyMs: number;
  firstResponseMs: number;
  secondResponseMs: number;
  statuses: number[];
  /** Each round's first response (ms); absent from older runs. */
  rounds?: number[];
};

export type BenchResults = {
  generatedAt: string;
  quick: boolean;
  runSeconds: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number };
  versions: Record<string, string>;
  commit: string;
  settings: {
    connections: number;
    rounds: number;
    read: { warmup: number; seconds: number };
    write: { warmup: number; seconds: number };
    sizes: number[];
    page: number;
    pbkdf2Iterations: number;
    /** The search scenarios (absent from runs before they existed): timing, terms, live matches per size. */
    search?: {
      warmup: number;
      seconds: number;
      rounds: number;
      terms: Record<string, string>;
      matches: Record<string, number[]>;
    };
  };
  bundle: {
    bytes: number;
    gzipBytes: number;
    wranglerKiB: number;
    wranglerGzipKiB: number;
    largest: { name: string; bytes: number }[];
  };
  seed: { users: number; seconds: number; migrations: string[] };
  probes: {
    name: string;
    read: boolean;
    roundTrips: number[];
    status: number[];
    statements?: { sql: string; params: unknown[] }[];
  }[];
  keyImports: number;
  baselines: {
    trivialRps: number;
    minimalRps: number;
    minimalP50: number;
    trivialDrift: number;
    minimalDrift: number;
  };
  measurements: Measurement[];
  pbkdf2Share: number;
  signIn: {
    /** The seeded member every POST /user/login signs in as. */
    email: string;
    loginPbkdf2Share: number;
    /** Sign-ins that started the refresh chains: one per connection and phase. */
    refreshSessions: number;
    endedByReuse: number;
  };
  /** `minimal` is baseline (2); absent from runs recorded before it was measured. */
  coldStart: Record<"trivial" | "api", ColdStart> & { minimal?: ColdStart };
  budgets: Budget[];
  /** Against better-auth (bench/peer); absent from runs before it was added. */
  peer?: PeerComparison;
  /** `--label`: what this run measured (set for the "before" run). */
  label?: string;
  /** Written by hand into before.json: the changes made after it, listed in the report. */
  changes?: string[];
};

const int = (n: number) => Math.round(n).toLocaleString("en");
const ms = (n: number) => (n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ratio = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "" : n.toFixed(2));
const size = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;
// The comparison with better-auth has a section of its own, and stays out of the tables and the chart.
const notPeer = (m: Measurement) => m.group !== "peer";

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Per list page: the scenario of each size, and p50 at the largest ÷ p50 at the smallest (median of the rounds' ratios). */
function listRows(r: BenchResults) {
  return (["first", "deep"] as const).map((page) => {
    const cells = r.settings.sizes.map((s) => r.measurements.find((m) => m.id === `list-${page}-${s}`));
    const smallest = cells[0];
    const largest = cells.at(-1);
    const ratios = (largest?.rounds ?? []).map((round, i) => round.p50 / (smallest?.rounds?.[i]?.p50 ?? NaN));
    return { page, cells, ratio: ratios.length ? median(ratios) : (largest?.p50 ?? NaN) / (smallest?.p50 ?? NaN) };
  });
}

/** Per search term and page: the scenario of each size, and p50 at the largest ÷ p50 at the smallest (median of rounds). */
function searchRows(r: BenchResults) {
  return Object.keys(r.settings.search?.terms ?? {}).flatMap((term) =>
    (["first", "deep"] as const).map((page) => {
      const cells = r.settings.sizes.map((s) => r.measurements.find((m) => m.id === `search-${term}-${page}-${s}`));
      const smallest = cells[0];
      const largest = cells.at(-1);
      const ratios = (largest?.rounds ?? []).map((round, i) => round.p50 / (smallest?.rounds?.[i]?.p50 ?? NaN));
      return { term, page, cells, ratio: ratios.length ? median(ratios) : NaN };
    }),
  );
}

export function renderMarkdown(r: BenchResults, before?: BenchResults): string {
  const out: string[] = [];
  const verdicts = r.budgets.every((b) => b.pass) ? "all budgets met" : "BUDGET MISSED";
  out.push(`# Benchmark results${r.quick ? " (quick run: smaller sizes, shorter runs; not comparable)" : ""}`);
  out.push(
    `${r.generatedAt}, commit ${r.commit}; \`npm run bench\` took ${int(r.runSeconds)} s; ${verdicts}. ` +
      `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB; Node ${r.versions.node}, ` +
      `wrangler ${r.versions.wrangler} (build), workerd ${r.versions.workerd} via Miniflare ${r.versions.miniflare} ` +
      `(direct sockets), autocannon ${r.versions.autocannon} in separate processes on 127.0.0.1. ` +
      `Reads and PUT: ${r.settings.connections} connections, ${r.settings.rounds} rounds of ${r.settings.read.seconds} s each ` +
      `(the first after a ${r.settings.read.warmup} s warm-up), the scenarios of a set interleaved round by round, each next to ` +
      `the one it is compared with and in reverse order every other round, so that background load on this shared ` +
      `machine falls on all of them alike; POST /user/refresh the same, in a set of its own; ` +
      `POST /organization/users, POST /user/login and PBKDF2: 1 connection, 2 rounds of ` +
      `${r.settings.write.seconds} s. A scenario's figures pool its rounds; the ratios the budgets judge are taken within ` +
      `each round, then their median. Latency is per response, in milliseconds, as the load generator saw it.`,
  );
  out.push("![Latency by endpoint, list latency against organization size, throughput against the baselines](latest.png)");

  out.push("## Budgets");
  out.push(
    table(
      ["budget", "limit", "measured", "verdict"],
      r.budgets.map((b) => [b.name, b.limit, b.display, b.pass ? "pass" : "**FAIL**"]),
    ),
  );

  out.push("## Throughput and latency");
  out.push(
    `Ratios are to the two baselines, measured in the same rounds as the API's reads: (1) a constant-JSON worker, ${int(r.baselines.trivialRps)} req/s (spread between rounds ${pct(r.baselines.trivialDrift)}); ` +
      `(2) a hand-written GET /organization/{id} (Web Crypto HS256 and the API's single D1 statement, the API's headers and log line, no framework), ` +
      `${int(r.baselines.minimalRps)} req/s, p50 ${ms(r.baselines.minimalP50)} ms (spread ${pct(r.baselines.minimalDrift)}). ` +
      "For the scenarios measured in the baselines' rounds, a ratio is the median of the rounds' ratios; for the lists and " +
      "the writes, measured in later rounds, it is the ratio of the pooled figures.",
  );
  const measured = r.measurements.filter(notPeer);
  out.push(
    table(
      ["scenario", "conns", "req/s", "req/s per round", "p50 ms", "p99 ms", "req/s ÷ (1)", "req/s ÷ (2)", "p50 ÷ (2)"],
      measured.map((m) => [
        m.label,
        m.connections,
        int(m.rps),
        m.rounds.map((round) => int(round.rps)).join(" / "),
        ms(m.p50),
        ms(m.p99),
        ratio(m.rpsVsTrivial),
        ratio(m.rpsVsMinimal),
        ratio(m.p50VsMinimal),
      ]),
    ),
  );

  out.push("## List latency against organization size");
  const lists = listRows(r);
  out.push(
    table(
      [
        "GET /organization/users?limit=100",
        ...r.settings.sizes.map((s) => `p50 @${int(s)}`),
        ...r.settings.sizes.map((s) => `p99 @${int(s)}`),
        "p50 largest ÷ smallest (median of rounds)",
      ],
      lists.map((l) => [
        `${l.page} page`,
        ...l.cells.map((c) => ms(c?.p50 ?? NaN)),
        ...l.cells.map((c) => ms(c?.p99 ?? NaN)),
        `${ratio(l.ratio)}x`,
      ]),
    ),
  );
  out.push(
    `The deep page's cursor is the last full page of each organization (at ${int(r.settings.sizes.at(-1) ?? 0)} users, ` +
      `past 99.9% of the list). Seeded: ${int(r.seed.users)} users in ${r.seed.seconds.toFixed(1)} s; one in 97 soft-deleted.`,
  );

  const search = r.settings.search;
  if (search) {
    out.push("## Search latency against organization size");
    out.push(
      table(
        [
          "GET /organization/users?limit=100&q=",
          ...r.settings.sizes.map((s) => `matches @${int(s)}`),
          ...r.settings.sizes.map((s) => `p50 @${int(s)}`),
          ...r.settings.sizes.map((s) => `p99 @${int(s)}`),
          "p50 largest ÷ smallest (median of rounds)",
        ],
        searchRows(r).map((row) => [
          `${search.terms[row.term]} (${row.term}), ${row.page} page`,
          ...(search.matches[row.term] ?? []).map(int),
          ...row.cells.map((c) => ms(c?.p50 ?? NaN)),
          ...row.cells.map((c) => ms(c?.p99 ?? NaN)),
          `${ratio(row.ratio)}x`,
        ]),
      ),
    );
    out.push(
      `${search.rounds} rounds of ${search.seconds} s per scenario (the first after a ${search.warmup} s warm-up), ` +
        `${r.measurements.find((m) => m.group === "search")?.connections ?? NaN} connections. Terms of three characters or more, served by the full-text index in the ` +
        "organization's rowid range: a page and its total read the organization's matches, never its other members nor " +
        "other organizations' matches. So the rare term costs the same at every size (budgeted, like the list), while the " +
        "common one costs what its matches cost: it grows with the organization, as any exact total must. That growth is " +
        "not budgeted; what is, is that the smallest organization's common search costs a fraction of the largest one's, " +
        "though the database holds the largest one's matches too. The deep page's cursor leaves one full page of matches.",
    );
  }
  if (r.peer) out.push(...renderPeer(r.peer));

  out.push("## POST /organization/users: the PBKDF2 share");
  const post = r.measurements.find((m) => m.id === "postUser");
  const hash = r.measurements.find((m) => m.id === "pbkdf2");
  out.push(
    `PBKDF2-SHA256 with ${int(r.settings.pbkdf2Iterations)} iterations alone (in baseline (2), same runtime): p50 ${ms(hash?.p50 ?? NaN)} ms. ` +
      `POST /organization/users: p50 ${ms(post?.p50 ?? NaN)} ms. **PBKDF2 is ${pct(r.pbkdf2Share)} of a user creation** (median of the rounds' ratios); ` +
      `the rest (auth, validation, the insert batch) is ${ms((post?.p50 ?? NaN) - (hash?.p50 ?? NaN))} ms.`,
  );

  out.push("## Sign-in: POST /user/login and POST /user/refresh");
  const login = r.measurements.find((m) => m.id === "login");
  const refresh = r.measurements.find((m) => m.id === "refresh");
  out.push(
    `POST /user/login as ${r.signIn.email}, whose stored hash is PBKDF2-SHA256 with ${int(r.settings.pbkdf2Iterations)} iterations ` +
      `of the seed's password, 1 connection: p50 ${ms(login?.p50 ?? NaN)} ms, ${int(login?.rps ?? NaN)} req/s. ` +
      `**PBKDF2 is ${pct(r.signIn.loginPbkdf2Share)} of a sign-in** (median of the rounds' ratios, measured in the same rounds as ` +
      `the hash alone); the rest (the account lookup, the session batch, signing the access token) is ` +
      `${ms((login?.p50 ?? NaN) - (hash?.p50 ?? NaN))} ms.`,
  );
  const refreshOther = Object.values(refresh?.unexpected ?? {}).reduce((a, n) => a + n, 0) + (refresh?.errors ?? 0);
  out.push(
    `POST /user/refresh, ${refresh?.connections ?? NaN} connections, each a chain that starts from a sign-in of its own (new ones ` +
      `for every warm-up and every measured run: ${int(r.signIn.refreshSessions)} in all) and presents the refresh token the ` +
      `previous answer carried, so that every request uses a token never used before: ${int(refresh?.rps ?? NaN)} req/s, ` +
      `p50 ${ms(refresh?.p50 ?? NaN)} ms, p99 ${ms(refresh?.p99 ?? NaN)} ms. Of the measured refreshes, ` +
      `${int(refresh?.requests ?? NaN)} answered 200 and ${refreshOther} otherwise; answers without a new refresh token: ` +
      `${refresh?.chainBreaks ?? "not counted"}; sessions ended as reuse (a used token presented again), in any phase: ` +
      `${r.signIn.endedByReuse}.`,
  );

  out.push("## Bundle");
  out.push(
    `Built by \`wrangler deploy --dry-run\` (minified): ${int(r.bundle.bytes)} bytes, gzip ${int(r.bundle.gzipBytes)} bytes (zlib -9); ` +
      `wrangler reports ${r.bundle.wranglerKiB} KiB / gzip ${r.bundle.wranglerGzipKiB} KiB. Largest inputs (minified bytes in the bundle):`,
  );
  out.push(
    table(
      ["input", "bytes"],
      r.bundle.largest.map((l) => [l.name, int(l.bytes)]),
    ),
  );

  out.push("## Fresh isolate to first response");
  out.push(
    `A new workerd process each time (median of ${r.coldStart.api.rounds?.length ?? 3}): the time until it listens (which includes compiling and evaluating ` +
      "the worker's modules), then the first and second responses of GET /organization/{id} on the seeded database " +
      "(the first one imports the verification key and opens D1), for the API and baseline (2), and of baseline (1)'s constant JSON.",
  );
  const coldRows = [
    ["baseline (1)", r.coldStart.trivial],
    ["baseline (2)", r.coldStart.minimal],
    ["this API", r.coldStart.api],
  ] as const;
  out.push(
    table(
      ["worker", "workerd ready ms", "first response ms", "second response ms"],
      coldRows.flatMap(([name, c]) => (c ? [[name, int(c.readyMs), ms(c.firstResponseMs), ms(c.secondResponseMs)]] : [])),
    ),
  );

  out.push("## D1 round trips and key imports");
  out.push(
    "Counted on the built bundle wrapped by an instrumented worker (bench/workers/probe.js), three requests each, " +
      `in the largest organization. Verification keys imported in that isolate after all of them: ${r.keyImports}.`,
  );
  out.push(
    table(
      ["request", "statuses", "D1 round trips"],
      r.probes.map((p) => [p.name, p.status.join(", "), p.roundTrips.join(", ")]),
    ),
  );

  if (before) {
    out.push("## Before and after");
    out.push(
      `Before: ${before.label ?? `commit ${before.commit}, the same harness`} (run ${before.generatedAt}). ` +
        "Absolute figures of two runs drift with what else the machine does; the ratios, taken within each run, are what compares.",
    );
    if (before.changes?.length) out.push(`Changes between the two:\n\n${before.changes.map((c) => `- ${c}`).join("\n")}`);
    out.push(table(["figure", "before", "after"], beforeAfter(before, r)));
  }
  return `${out.join("\n\n")}\n`;
}

/** Within each round, `of` ÷ `by` for a figure; the median over the rounds. */
function roundRatio(r: BenchResults, of: string, by: string, figure: "rps" | "p50"): number {
  const a = r.measurements.find((m) => m.id === of);
  const b = r.measurements.find((m) => m.id === by);
  return median((a?.rounds ?? []).map((round, i) => round[figure] / (b?.rounds[i]?.[figure] ?? NaN)));
}

function beforeAfter(before: BenchResults, after: BenchResults): string[][] {
  const rows: string[][] = [];
  const both = (name: string, f: (r: BenchResults) => string) => rows.push([name, f(before), f(after)]);
  both("bundle gzip (bytes, zlib -9)", (r) => int(r.bundle.gzipBytes));
  both("bundle gzip (wrangler, KiB)", (r) => String(r.bundle.wranglerGzipKiB));
  both("bundle minified (bytes)", (r) => int(r.bundle.bytes));
  both("workerd ready with the API (ms)", (r) => int(r.coldStart.api.readyMs));
  both("first response of a fresh isolate (ms)", (r) => ms(r.coldStart.api.firstResponseMs));
  both("first response of a fresh isolate, baseline (2) (ms)", (r) =>
    r.coldStart.minimal ? ms(r.coldStart.minimal.firstResponseMs) : "",
  );
  const m = (r: BenchResults, id: string) => r.measurements.find((x) => x.id === id);
  for (const [name, probe] of [
    ["GET /organization/{id}", "getOrg"],
    ["GET /organization/users/{id}", "getUser"],
    ["PUT /organization/users/{id}", "putUser"],
    ["POST /organization/users", "postUser"],
    ["the list's first page", "listFirst"],
  ] as const) {
    both(`D1 round trips of ${name}`, (r) => String(Math.max(...(r.probes.find((p) => p.name === probe)?.roundTrips ?? [NaN]))));
  }
  both("GET /organization/{id} req/s ÷ baseline (2), median of rounds", (r) => ratio(roundRatio(r, "getOrg", "minimal", "rps")));
  both("GET /organization/users/{id} req/s ÷ baseline (2), median of rounds", (r) =>
    ratio(roundRatio(r, "getUser", "minimal", "rps")),
  );
  for (const page of ["first", "deep"] as const) {
    for (const s of after.settings.sizes) {
      both(`list ${page} page p50 @${int(s)} (ms)`, (r) => ms(m(r, `list-${page}-${s}`)?.p50 ?? NaN));
    }
    both(`list ${page} page p50 largest ÷ smallest`, (r) => `${ratio(listRows(r).find((l) => l.page === page)?.ratio)}x`);
  }
  for (const row of searchRows(after)) {
    for (const s of after.settings.sizes) {
      const id = `search-${row.term}-${row.page}-${s}`;
      both(`search ${after.settings.search?.terms[row.term]} ${row.page} page p50 @${int(s)} (ms)`, (r) => {
        const found = m(r, id);
        return found ? ms(found.p50) : "not measured";
      });
    }
  }
  both("POST /organization/users p50 (ms)", (r) => ms(m(r, "postUser")?.p50 ?? NaN));
  for (const [id, name] of [
    ["login", "POST /user/login"],
    ["refresh", "POST /user/refresh"],
  ] as const) {
    both(`${name} p50 (ms)`, (r) => {
      const found = m(r, id);
      return found ? ms(found.p50) : "not measured";
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Chart: a Vega-Lite specification of three views, compiled by vega-lite and rendered to SVG by
// vega without a browser, then to PNG by resvg.

const COLORS = { p50: "#2563eb", p99: "#93c5fd", first: "#2563eb", deep: "#ea580c", budget: "#dc2626", muted: "#6b7280" };
const LEGEND = { orient: "top", direction: "horizontal", title: null, labelLimit: 0 } as const;

/** p50 and p99 of every scenario but the peer's; searches at the largest size only (the table has every size). */
function latencyView(r: BenchResults): TopLevelSpec {
  const rows = r.measurements
    .filter((m) => !m.id.endsWith("-2") && notPeer(m) && (m.group !== "search" || m.size === r.settings.sizes.at(-1)))
    .map((m) => ({ scenario: m.label, p50: m.p50, p99: m.p99, figures: `${ms(m.p50)} / ${ms(m.p99)}` }));
  const floor = 0.05;
  const y = { field: "scenario", type: "nominal", sort: null, title: null } as const;
  const bar = (figure: "p50" | "p99", height: number) => ({
    mark: { type: "bar", height },
    encoding: {
      y,
      x: { field: figure, type: "quantitative" },
      x2: { datum: floor },
      color: {
        datum: figure,
        scale: { domain: ["p50", "p99"], range: [COLORS.p50, COLORS.p99] },
        legend: { ...LEGEND, labelExpr: "datum.label === 'p50' ? 'p50 (median)' : 'p99'" },
      },
    },
  });
  return {
    title: { text: "Latency by endpoint (ms, log scale)", subtitle: "light bar: p99, dark bar: p50; grey labels: baselines" },
    width: 760,
    height: { step: 22 },
    data: { values: rows },
    encoding: {
      x: {
        field: "p99",
        type: "quantitative",
        title: "latency (ms)",
        scale: { type: "log", domain: [floor, Math.max(...rows.map((row) => row.p99)) * 1.6] },
      },
    },
    layer: [
      bar("p99", 18),
      bar("p50", 9),
      {
        mark: { type: "text", align: "left", dx: 4, color: COLORS.muted },
        encoding: { y, x: { field: "p99", type: "quantitative" }, text: { field: "figures" } },
      },
    ],
  } as TopLevelSpec;
}

/** The list's p50 at each size, first and deep page, and each page's budget (1.5 × its p50 at the smallest). */
function listView(r: BenchResults): TopLevelSpec {
  const lists = listRows(r);
  // The higher of the two lines is labelled above its points, the lower one below.
  const points = lists.flatMap((l) =>
    l.cells.map((c, i) => ({
      page: `${l.page} page`,
      size: `${size(r.settings.sizes[i] ?? NaN)} users`,
      p50: c?.p50 ?? NaN,
      above: lists.every((other) => (c?.p50 ?? NaN) >= (other.cells[i]?.p50 ?? NaN)),
    })),
  );
  const budgets = lists.map((l) => {
    const budget = 1.5 * (l.cells[0]?.p50 ?? NaN);
    return { page: `${l.page} page`, budget, text: `${l.page} page budget ${ms(budget)}` };
  });
  const x = { field: "size", type: "nominal", sort: null, title: "organization size", axis: { labelAngle: 0 } } as const;
  const color = {
    field: "page",
    type: "nominal",
    scale: { domain: ["first page", "deep page"], range: [COLORS.first, COLORS.deep] },
    legend: LEGEND,
  } as const;
  return {
    title: {
      text: "List latency against organization size",
      subtitle: "GET /organization/users?limit=100, p50; dashed: budget, 1.5 × p50 at the smallest",
    },
    width: 420,
    height: 260,
    layer: [
      {
        data: { values: points },
        mark: { type: "line", point: true, strokeWidth: 3 },
        encoding: { x, y: { field: "p50", type: "quantitative", title: "p50 (ms)" }, color },
      },
      ...[true, false].map((above) => ({
        data: { values: points.filter((point) => point.above === above) },
        mark: { type: "text", dx: 6, dy: above ? -10 : 12, align: "left" },
        encoding: { x, y: { field: "p50", type: "quantitative" }, color, text: { field: "p50", format: ".1f" } },
      })),
      {
        data: { values: budgets },
        mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { y: { field: "budget", type: "quantitative" }, color },
      },
      {
        data: { values: budgets },
        mark: { type: "text", align: "right", dy: -6, x: "width", dx: -2 },
        encoding: { y: { field: "budget", type: "quantitative" }, color, text: { field: "text" } },
      },
    ],
  } as TopLevelSpec;
}

/** Throughput ÷ baseline (2) of the reads, PUT, the lists at the largest size and the refresh, as in the table. */
function ratioView(r: BenchResults): TopLevelSpec {
  const rows = r.measurements
    .filter(
      (m) =>
        m.group !== "baseline" &&
        m.group !== "search" &&
        notPeer(m) &&
        !["pbkdf2", "postUser", "login"].includes(m.id) &&
        (m.group !== "list" || m.size === r.settings.sizes.at(-1)),
    )
    .map((m) => ({
      scenario: m.label.replace("GET /organization/users?limit=100 ", "list "),
      ratio: m.rpsVsMinimal ?? NaN,
      text: `${ratio(m.rpsVsMinimal)} (${int(m.rps)}/s)`,
    }));
  const marks = [
    { at: 0.7, mark: "budget of GET /organization/{id}: 0.70" },
    { at: 1, mark: "baseline (2) = 1" },
  ];
  const y = { field: "scenario", type: "nominal", sort: null, title: null, axis: { labelLimit: 0 } } as const;
  return {
    title: { text: "Throughput ÷ baseline (2)", subtitle: "req/s of each scenario over baseline (2)'s, as in the table" },
    width: 300,
    height: { step: 30 },
    layer: [
      {
        data: { values: marks },
        mark: { type: "rule", strokeWidth: 2 },
        encoding: {
          x: { field: "at", type: "quantitative" },
          color: {
            field: "mark",
            type: "nominal",
            scale: { domain: marks.map((m) => m.mark), range: [COLORS.budget, "#111827"] },
            legend: { ...LEGEND, columns: 1 },
          },
          strokeDash: {
            field: "mark",
            type: "nominal",
            scale: {
              domain: marks.map((m) => m.mark),
              range: [
                [4, 3],
                [1, 0],
              ],
            },
            legend: null,
          },
        },
      },
      {
        data: { values: rows },
        mark: { type: "bar", color: COLORS.p50, height: 20 },
        encoding: {
          y,
          x: {
            field: "ratio",
            type: "quantitative",
            title: "throughput ÷ baseline (2)",
            scale: { domain: [0, Math.max(1.1, ...rows.map((row) => row.ratio))] },
          },
        },
      },
      {
        data: { values: rows },
        mark: { type: "text", align: "left", dx: 4, color: COLORS.muted },
        encoding: { y, x: { field: "ratio", type: "quantitative" }, text: { field: "text" } },
      },
    ],
  } as TopLevelSpec;
}

export function chartSpec(r: BenchResults): TopLevelSpec {
  const met = r.budgets.every((b) => b.pass);
  const verdict = met
    ? "all budgets met"
    : `budget missed: ${r.budgets
        .filter((b) => !b.pass)
        .map((b) => b.name)
        .join("; ")}`;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `org-api benchmark${r.quick ? " (quick run)" : ""}: workerd ${r.versions.workerd}, ${r.machine.cpus} cores`,
      subtitle: `${r.generatedAt.slice(0, 16).replace("T", " ")} UTC, commit ${r.commit}; ${verdict}`,
      subtitleColor: met ? COLORS.muted : COLORS.budget,
      anchor: "start",
      offset: 16,
      fontSize: 20,
      subtitleFontSize: 13,
    },
    background: "#ffffff",
    padding: 20,
    vconcat: [
      latencyView(r),
      { hconcat: [listView(r), ratioView(r)], spacing: 60, resolve: { scale: { color: "independent" } } },
    ],
    spacing: 40,
    center: true,
    resolve: { scale: { color: "independent" } },
    config: {
      font: "DejaVu Sans",
      title: { anchor: "start", fontSize: 15, subtitleColor: COLORS.muted, subtitleFontSize: 12 },
      axis: { labelFontSize: 12, titleFontSize: 12, titleColor: COLORS.muted, gridColor: "#e5e7eb" },
      legend: { labelFontSize: 12 },
      // The baselines' labels in grey, the API's in black (the y axes label scenarios).
      axisY: {
        labelLimit: 0,
        labelColor: { condition: { test: "indexof(datum.label, 'baseline') === 0", value: COLORS.muted }, value: "#111827" },
      },
    },
  } as TopLevelSpec;
}

const FONT = { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" };

// Without a canvas, vega estimates a text's width as 0.8 em per character, half again as wide as
// DejaVu Sans, and lays labels and titles out by that. Measured instead as resvg draws it.
const widths = new Map<string, number>();
const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
textMetrics.width = (item, value) => {
  const text = value == null ? "" : String(value).trim();
  const style =
    `font-family="${item.font ?? FONT.defaultFontFamily}" font-size="${item.fontSize ?? 11}" ` +
    `font-weight="${item.fontWeight ?? "normal"}" font-style="${item.fontStyle ?? "normal"}"`;
  const key = `${style} ${text}`;
  let width = widths.get(key);
  if (width === undefined) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="100"><text x="0" y="50" ${style}>${escapeXml(text)}</text></svg>`;
    const box = text ? new Resvg(svg, { font: FONT }).getBBox() : undefined;
    width = box ? box.x + box.width : 0;
    widths.set(key, width);
  }
  return width;
};

/** The chart as SVG (vega, headless: no canvas, no browser) and as PNG (resvg). */
export async function renderChart(r: BenchResults): Promise<{ svg: string; png: Buffer }> {
  const view = new View(parse(compile(chartSpec(r)).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: "#ffffff", fitTo: { mode: "zoom", value: 1.5 }, font: FONT }).render().asPng();
  return { svg, png };
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The committed results: a run writes them only with --record. */
export const RECORDED = join(ROOT, "bench/results");

/** The figures before the changes that met the budget, kept with the committed results. */
export function readBefore(): BenchResults | undefined {
  const file = join(RECORDED, "before.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as BenchResults) : undefined;
}

/** Writes latest.{md,svg,png} of `r` into `dir`; the markdown, to print. */
export async function writeReport(dir: string, r: BenchResults): Promise<string> {
  const markdown = renderMarkdown(r, readBefore());
  const { svg, png } = await renderChart(r);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "latest.md"), markdown);
  writeFileSync(join(dir, "latest.svg"), svg);
  writeFileSync(join(dir, "latest.png"), png);
  return markdown;
}

// `tsx bench/report.ts [results.json] [--out dir]`: the report of recorded results again (by
// default the committed bench/results/latest.json, into the ignored bench/out), without a run.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const out = resolve(outIndex >= 0 ? (args[outIndex + 1] ?? "") : join(ROOT, "bench/out"));
  const input = resolve(
    args.find((arg, i) => !arg.startsWith("--") && (outIndex < 0 || i !== outIndex + 1)) ?? join(RECORDED, "latest.json"),
  );
  await writeReport(out, JSON.parse(readFileSync(input, "utf8")) as BenchResults);
  console.log(`wrote ${out}/latest.{md,svg,png} from ${input}`);
}
