// The report's section on the peer: ours ÷ theirs per operation and size, and each side's p50 at
// the largest size ÷ at the smallest (bench/report.ts places it after the list section).
import { OPERATIONS, type PeerComparison } from "./compare";

const int = (n: number) => Math.round(n).toLocaleString("en");
const ms = (n: number) => (n >= 10 ? n.toFixed(1) : n.toFixed(2));
const x = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "");

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

const PAGE_NOTE = (peer: PeerComparison) =>
  `100 members a page; better-auth's ${peer.pageOf100.measuredPage}, because its list-members with limit=100 answered ` +
  `${peer.pageOf100.status}${peer.pageOf100.status === 500 ? " (D1: too many SQL variables)" : ""}: it reads a page's ` +
  "users with one `id IN (...)` of the page's ids plus a bound LIMIT, 101 parameters for 100 members, over D1's 100. " +
  `Its default page (membershipLimit) is 100 as well, so a plain list-members fails the same way in any organization ` +
  "of more than 99 members";

/** The keys one request imports, per side: one figure when every operation agrees. */
function importsOf(peer: PeerComparison, side: "ours" | "theirs"): string {
  const counts = [...new Set(peer.rows.map((r) => r[side].keyImports))];
  return counts.length === 1 ? String(counts[0]) : peer.rows.map((r) => `${r.op} ${r[side].keyImports}`).join(", ");
}

export function renderPeer(peer: PeerComparison): string[] {
  const [smallest, largest] = peer.sizes as [number, number];
  const operation = (op: string) => OPERATIONS.find((o) => o.op === op);
  return [
    `## Against better-auth ${peer.version} (organization plugin)`,
    `A second worker in the same workerd: better-auth ${peer.version} with its organization plugin (default roles and ` +
      `options, rate limiting off as the API's is), on a D1 database of its own through ${peer.adapter}, seeded as ours ` +
      `with organizations of ${int(smallest)} and ${int(largest)} members (${int(peer.seed.rows)} user and member rows in ` +
      `${peer.seed.seconds.toFixed(1)} s). Its bundle, built by wrangler as ours is: ${int(peer.bundle.bytes)} bytes, gzip ` +
      `${int(peer.bundle.gzipBytes)}. Callers authenticate as its documentation says: the ${peer.authentication}; ours with ` +
      `the bearer access token. Both callers are their organization's owner. Every request was sent once and its answer ` +
      `checked before the load; the scenarios ran in one set, ${peer.rounds} rounds of about ` +
      `${peer.secondsPerRound.toFixed(1)} s each, ours and theirs interleaved, ${peer.connections} connections; each ratio is the median ` +
      `of the rounds' ratios.`,
    table(
      [
        "operation",
        "ours",
        "better-auth",
        "members",
        "ours req/s",
        "theirs req/s",
        "req/s ours ÷ theirs",
        "ours p50 ms",
        "theirs p50 ms",
        "p50 ours ÷ theirs",
        "D1 round trips ours / theirs",
      ],
      peer.rows.map((r) => [
        operation(r.op)?.name ?? r.op,
        `\`${operation(r.op)?.ours}\``,
        `\`${operation(r.op)?.theirs}\``,
        int(r.size),
        int(r.ours.rps),
        int(r.theirs.rps),
        `**${x(r.rpsRatio)}**`,
        ms(r.ours.p50),
        ms(r.theirs.p50),
        x(r.p50Ratio),
        `${r.ours.roundTrips} / ${r.theirs.roundTrips}`,
      ]),
    ),
    `Above 1 in "req/s ours ÷ theirs" is ours ahead; below 1 in "p50 ours ÷ theirs" is ours faster. D1 round trips ` +
      "per request as bench/workers/probe.js counts them around each bundle (the most over the request's bodies). " +
      `Keys imported by one request, in an isolate already warm: ours ${importsOf(peer, "ours")}, better-auth ` +
      `${importsOf(peer, "theirs")} (it verifies the session cookie's HMAC with a key it imports from the secret each ` +
      "time). With size:",
    table(
      ["operation", `ours p50 @${int(largest)} ÷ @${int(smallest)}`, `better-auth p50 @${int(largest)} ÷ @${int(smallest)}`],
      peer.flatness.map((f) => [operation(f.op)?.name ?? f.op, `${x(f.ours)}x`, `${x(f.theirs)}x`]),
    ),
    `Pages: ours ${PAGE_NOTE(peer)}.`,
    "better-auth has no endpoint that reads another member by id; get-active-member (the caller's own membership, with " +
      "its user) is its documented way to read one member. Its list pages by offset and counts the organization's members " +
      "for `total` on every page; ours pages by cursor and reads the total from counts kept by triggers.",
  ];
}
