import type { ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { findRecipients, formatEmailReport } from "./email-report";
import { withLocalDb } from "./local";
import { EmailBlockReader, readVerificationLink, type StoredEmail } from "./local-email";

// `wrangler dev`'s output, passed on unchanged, with a report after each email the local
// simulation stored (scripts/lib/email-report.ts).

/** Passes `child`'s stdout and stderr on to this process's, and reports every email they announce. */
export function passThroughWithEmailReports(
  child: ChildProcessByStdio<null, Readable, Readable>,
  report: { secret: string; origin: string },
): void {
  // A report is written between wrangler's lines, never inside one; after 2 s on a line that does
  // not end, on a line of its own.
  let atLineStart = true;
  const waiting: string[] = [];
  const flush = () => {
    if (!waiting.length) return;
    process.stdout.write(`${atLineStart ? "" : "\n"}${waiting.splice(0).join("")}`);
    atLineStart = true;
  };
  const print = (text: string) => {
    waiting.push(text);
    if (atLineStart) flush();
    else setTimeout(flush, 2_000).unref();
  };

  // One local database handle per batch of emails: opening it takes a second or two.
  const queued: StoredEmail[] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (queued.length) {
      const batch = queued.splice(0);
      try {
        // Read at once: the simulation removes its files when the dev server stops.
        const links = await Promise.all(batch.map((email) => readVerificationLink(email.textPath)));
        const texts = await withLocalDb(async (db) => {
          const out: string[] = [];
          for (const [i, email] of batch.entries()) {
            const recipients = await findRecipients(db, email.to, links[i]?.token);
            out.push(await formatEmailReport(email, links[i], recipients, report.secret, report.origin));
          }
          return out;
        });
        for (const text of texts) print(text);
      } catch (error) {
        console.error(`Could not read a locally stored email: ${(error as Error).message ?? error}`);
      }
    }
    draining = false;
  };

  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    const reader = new EmailBlockReader();
    stream.on("data", (chunk: Buffer) => {
      out.write(chunk);
      if (out === process.stdout && chunk.length) {
        atLineStart = chunk[chunk.length - 1] === 0x0a;
        if (atLineStart) flush();
      }
      queued.push(...reader.feed(chunk));
      if (queued.length && !draining) void drain();
    });
  }
}
