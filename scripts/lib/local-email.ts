import { readFile } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";

// Locally, the send_email binding delivers nothing: Miniflare writes each message's parts under
// .wrangler/tmp/email/<session>/ (removed when the dev server stops), then logs one block naming
// the files:
//
//   send_email binding called with MessageBuilder:
//   From: ...
//   To: someone@example.com
//   Subject: ...
//
//   Text: /.../email-text/<id>.txt
//   HTML: /.../email-html/<id>.html
//
// The block is logged after the files are written, so a file it names can be read at once.

export type StoredEmail = { to: string[]; subject: string; textPath: string; htmlPath?: string };

const BLOCK_START = "send_email binding called with MessageBuilder:";
// CSI and OSC escape sequences: wrangler's output is colored when `npm run dev` runs in a terminal.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

/** The address part of "Name <address>" or of a bare address. */
function address(display: string): string {
  return (/<([^>]+)>\s*$/.exec(display)?.[1] ?? display).trim().toLowerCase();
}

/**
 * Finds the binding's blocks in one output stream of `wrangler dev`, fed chunk by chunk. A block
 * is complete once its Text line is read and a chunk ends at the end of a line (Miniflare logs the
 * block in one write, so its HTML line comes with it): a text-only email is reported at once, not
 * when the next log line comes.
 */
export class EmailBlockReader {
  private decoder = new StringDecoder("utf8");
  private partial = "";
  private block: { to: string[]; subject?: string; textPath?: string; htmlPath?: string } | undefined;

  feed(chunk: Buffer): StoredEmail[] {
    const found: StoredEmail[] = [];
    const lines = (this.partial + this.decoder.write(chunk)).split(/\r?\n/);
    this.partial = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.replace(ANSI, "");
      if (line.includes(BLOCK_START)) {
        this.finish(found);
        this.block = { to: [] };
        continue;
      }
      if (!this.block) continue;
      const field = /^(To|Cc|Bcc|From|Subject|Text|HTML|Attachment[^:]*): (.*)$/.exec(line);
      if (field?.[1] === "To") this.block.to = (field[2] ?? "").split(",").map(address).filter(Boolean);
      else if (field?.[1] === "Subject") this.block.subject = field[2];
      else if (field?.[1] === "Text") this.block.textPath = field[2]?.trim();
      else if (field?.[1] === "HTML") this.block.htmlPath = field[2]?.trim();
      else if (!field && line.trim() !== "") this.finish(found); // the next log line
    }
    if (this.block?.textPath && this.partial === "") this.finish(found);
    return found;
  }

  private finish(found: StoredEmail[]): void {
    const block = this.block;
    this.block = undefined;
    if (block?.textPath && block.to.length > 0) {
      found.push({ to: block.to, subject: block.subject ?? "", textPath: block.textPath, htmlPath: block.htmlPath });
    }
  }
}

/** The verification link in a stored text part, and its token; undefined when it has none. */
export async function readVerificationLink(textPath: string): Promise<{ link: string; token: string } | undefined> {
  const text = await readFile(textPath, "utf8");
  for (const candidate of text.match(/https?:\/\/\S+/g) ?? []) {
    try {
      const url = new URL(candidate);
      const token = url.searchParams.get("token");
      if (url.pathname.endsWith("/verify-email") && token) return { link: url.toString(), token };
    } catch {
      // not a URL after all
    }
  }
  return undefined;
}
