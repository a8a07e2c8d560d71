// The benchmark's report: a markdown document (tables, budget verdicts, before/after) and a chart
// drawn as SVG here, converted to PNG with resvg (no browser, no network).
import { Resvg } from "@resvg/resvg-js";
import type { LoadResult } from "./load";
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
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
// Chart

const COLORS = {
  p50: "#2563eb",
  p99: "#93c5fd",
  first: "#2563eb",
  deep: "#ea580c",
  budget: "#dc2626",
  grid: "#e5e7eb",
  text: "#111827",
  muted: "#6b7280",
};
// A white outline under text drawn over lines, so that it stays legible.
const HALO = 'stroke="#ffffff" stroke-width="3" paint-order="stroke"';
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const text = (x: number, y: number, s: string, attrs = "") =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;

function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const f = rough / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const f of [1, 2, 5]) {
      const v = f * 10 ** e;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

function latencyPanel(r: BenchResults, x0: number, y0: number, width: number): { svg: string; height: number } {
  // Searches at the largest size only: the table has every size; the comparison with better-auth has its own section.
  const rows = r.measurements.filter(
    (m) => !m.id.endsWith("-2") && notPeer(m) && (m.group !== "search" || m.size === r.settings.sizes.at(-1)),
  );
  const rowH = 26;
  const labelW = 330;
  const plotW = width - labelW - 40;
  const height = 70 + rows.length * rowH + 40;
  const min = 0.05;
  const max = Math.max(...rows.map((m) => m.p99)) * 1.6;
  const x = (v: number) => x0 + labelW + (Math.log10(Math.max(v, min) / min) / Math.log10(max / min)) * plotW;
  const parts: string[] = [];
  parts.push(
    text(x0, y0 + 20, "Latency by endpoint: p50 (bar) and p99 (light bar), ms, log scale", 'font-size="18" font-weight="bold"'),
  );
  const top = y0 + 50;
  for (const t of logTicks(min, max)) {
    parts.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${top + rows.length * rowH}" stroke="${COLORS.grid}"/>`);
    parts.push(
      text(x(t), top + rows.length * rowH + 18, String(t), `font-size="12" text-anchor="middle" fill="${COLORS.muted}"`),
    );
  }
  rows.forEach((m, i) => {
    const y = top + i * rowH;
    parts.push(
      text(
        x0 + labelW - 10,
        y + 17,
        m.label,
        `font-size="13" text-anchor="end" fill="${m.group === "baseline" ? COLORS.muted : COLORS.text}"`,
      ),
    );
    parts.push(
      `<rect x="${x(min)}" y="${y + 4}" width="${Math.max(1, x(m.p99) - x(min))}" height="${rowH - 8}" fill="${COLORS.p99}"/>`,
    );
    parts.push(
      `<rect x="${x(min)}" y="${y + 8}" width="${Math.max(1, x(m.p50) - x(min))}" height="${rowH - 16}" fill="${COLORS.p50}"/>`,
    );
    parts.push(text(x(m.p99) + 6, y + 17, `${ms(m.p50)} / ${ms(m.p99)}`, `font-size="12" fill="${COLORS.muted}"`));
  });
  return { svg: parts.join("\n"), height };
}

function listPanel(r: BenchResults, x0: number, y0: number, width: number, height: number): string {
  const sizes = r.settings.sizes;
  const lists = listRows(r);
  const left = x0 + 60;
  const right = x0 + width - 20;
  const top = y0 + 60;
  const bottom = y0 + height - 50;
  const max =
    Math.max(...lists.flatMap((l) => l.cells.map((c) => c?.p50 ?? 0)), ...lists.map((l) => 1.5 * (l.cells[0]?.p50 ?? 0))) * 1.25;
  const x = (i: number) => left + 40 + (i / Math.max(1, sizes.length - 1)) * (right - left - 80);
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  const parts: string[] = [];
  parts.push(text(x0, y0 + 20, "List latency against organization size (ms)", 'font-size="18" font-weight="bold"'));
  parts.push(
    text(
      x0,
      y0 + 40,
      "GET /organization/users?limit=100, p50; red dotted: budget, 1.5 × p50 at the smallest",
      `font-size="12" fill="${COLORS.muted}"`,
    ),
  );
  const step = niceStep(max / 6);
  for (let v = 0; v <= max; v += step) {
    parts.push(`<line x1="${left}" y1="${y(v)}" x2="${right}" y2="${y(v)}" stroke="${COLORS.grid}"/>`);
    parts.push(text(left - 8, y(v) + 4, String(Number(v.toFixed(3))), `font-size="12" text-anchor="end" fill="${COLORS.muted}"`));
  }
  sizes.forEach((s, i) => parts.push(text(x(i), bottom + 20, `${size(s)} users`, 'font-size="13" text-anchor="middle"')));
  for (const l of lists) {
    const color = l.page === "first" ? COLORS.first : COLORS.deep;
    const p50 = l.cells.map((c, i) => `${x(i)},${y(c?.p50 ?? 0)}`).join(" ");
    parts.push(`<polyline points="${p50}" fill="none" stroke="${color}" stroke-width="3"/>`);
    const other = lists.find((o) => o.page !== l.page);
    l.cells.forEach((c, i) => {
      const value = c?.p50 ?? 0;
      // The higher of the two lines is labelled above its points, the lower one below.
      const above = value >= (other?.cells[i]?.p50 ?? 0);
      parts.push(`<circle cx="${x(i)}" cy="${y(value)}" r="4" fill="${color}"/>`);
      parts.push(text(x(i) + 8, y(value) + (above ? -8 : 16), ms(value), `font-size="12" fill="${color}" ${HALO}`));
    });
    const budget = 1.5 * (l.cells[0]?.p50 ?? 0);
    parts.push(
      `<line x1="${x(0)}" y1="${y(budget)}" x2="${x(sizes.length - 1)}" y2="${y(budget)}" stroke="${COLORS.budget}" stroke-width="1.5" stroke-dasharray="2 3"/>`,
    );
    const higher = budget >= 1.5 * (other?.cells[0]?.p50 ?? 0);
    parts.push(
      text(
        higher ? x(sizes.length - 1) - 4 : x(0) + 4,
        y(budget) + (higher ? -5 : 13),
        `${l.page} page budget ${ms(budget)}`,
        `font-size="11" text-anchor="${higher ? "end" : "start"}" fill="${COLORS.budget}" ${HALO}`,
      ),
    );
  }
  const legendY = top + 4;
  parts.push(`<rect x="${right - 210}" y="${legendY - 10}" width="12" height="4" fill="${COLORS.first}"/>`);
  parts.push(text(right - 194, legendY - 4, "first page", 'font-size="12"'));
  parts.push(`<rect x="${right - 110}" y="${legendY - 10}" width="12" height="4" fill="${COLORS.deep}"/>`);
  parts.push(text(right - 94, legendY - 4, "deep page", 'font-size="12"'));
  return parts.join("\n");
}

function ratioPanel(r: BenchResults, x0: number, y0: number, width: number, height: number): string {
  const rows = r.measurements.filter(
    (m) =>
      m.group !== "baseline" &&
      m.group !== "search" &&
      notPeer(m) &&
      m.id !== "pbkdf2" &&
      m.id !== "postUser" &&
      m.id !== "login" &&
      (m.group !== "list" || m.size === r.settings.sizes.at(-1)),
  );
  const labelW = 250;
  const left = x0 + labelW;
  const right = x0 + width - 60;
  const top = y0 + 60;
  const rowH = Math.min(30, (height - 100) / rows.length);
  const max = Math.max(1.1, ...rows.map((m) => m.rpsVsMinimal ?? 0));
  const x = (v: number) => left + (v / max) * (right - left);
  const parts: string[] = [];
  parts.push(text(x0, y0 + 20, "Throughput ÷ baseline (2)", 'font-size="18" font-weight="bold"'));
  parts.push(
    text(
      x0,
      y0 + 40,
      `as in the table; baseline (2) = 1; red: the 0.7 budget of GET /organization/{id}`,
      `font-size="12" fill="${COLORS.muted}"`,
    ),
  );
  for (let v = 0; v <= max; v += 0.25) {
    parts.push(`<line x1="${x(v)}" y1="${top - 4}" x2="${x(v)}" y2="${top + rows.length * rowH}" stroke="${COLORS.grid}"/>`);
    parts.push(
      text(x(v), top + rows.length * rowH + 16, v.toFixed(2), `font-size="11" text-anchor="middle" fill="${COLORS.muted}"`),
    );
  }
  rows.forEach((m, i) => {
    const yy = top + i * rowH;
    const short = m.label.replace("GET /organization/users?limit=100 ", "list ").replace(/ @([\d,]+)$/, " @$1");
    parts.push(text(left - 8, yy + rowH / 2 + 4, short, 'font-size="12" text-anchor="end"'));
    parts.push(
      `<rect x="${left}" y="${yy + 4}" width="${Math.max(1, x(m.rpsVsMinimal ?? 0) - left)}" height="${rowH - 8}" fill="${COLORS.p50}"/>`,
    );
    parts.push(
      text(
        x(m.rpsVsMinimal ?? 0) + 5,
        yy + rowH / 2 + 4,
        `${ratio(m.rpsVsMinimal)} (${int(m.rps)}/s)`,
        `font-size="11" fill="${COLORS.muted}" ${HALO}`,
      ),
    );
  });
  parts.push(
    `<line x1="${x(0.7)}" y1="${top - 8}" x2="${x(0.7)}" y2="${top + rows.length * rowH}" stroke="${COLORS.budget}" stroke-width="2" stroke-dasharray="4 3"/>`,
  );
  parts.push(
    `<line x1="${x(1)}" y1="${top - 8}" x2="${x(1)}" y2="${top + rows.length * rowH}" stroke="${COLORS.text}" stroke-width="1"/>`,
  );
  return parts.join("\n");
}

export function renderSvg(r: BenchResults): string {
  const width = 1200;
  const latency = latencyPanel(r, 30, 70, width - 60);
  const lowerTop = 70 + latency.height + 20;
  const lowerH = 340;
  const verdict = r.budgets.every((b) => b.pass)
    ? "all budgets met"
    : `budget missed: ${r.budgets
        .filter((b) => !b.pass)
        .map((b) => b.name)
        .join("; ")}`;
  const height = lowerTop + lowerH + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" fill="${COLORS.text}">
<rect width="100%" height="100%" fill="#ffffff"/>
${text(30, 36, `org-api benchmark${r.quick ? " (quick run)" : ""}: workerd ${r.versions.workerd}, ${r.machine.cpus} cores`, 'font-size="22" font-weight="bold"')}
${text(30, 58, `${r.generatedAt.slice(0, 16).replace("T", " ")} UTC, commit ${r.commit}; ${verdict}`, `font-size="13" fill="${r.budgets.every((b) => b.pass) ? COLORS.muted : COLORS.budget}"`)}
${latency.svg}
${listPanel(r, 30, lowerTop, 560, lowerH)}
${ratioPanel(r, 620, lowerTop, 550, lowerH)}
</svg>
`;
}

export async function renderReport(
  r: BenchResults,
  before?: BenchResults,
): Promise<{ markdown: string; svg: string; png: Buffer }> {
  const svg = renderSvg(r);
  const png = new Resvg(svg, {
    background: "#ffffff",
    fitTo: { mode: "width", value: 1800 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  })
    .render()
    .asPng();
  return { markdown: renderMarkdown(r, before), svg, png };
}
