import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

// What the checks that start a local server share: the server runs as the leader of its own
// process group, because `npm run dev` is a chain (npm, tsx, wrangler, workerd) and stopping only
// its head would leave workerd serving.

/** Spawns a command as the leader of a new process group, output piped, with CI=true. */
export function spawnGroup(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" } });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after 10 s. Resolves true once it is gone. */
export async function stopGroup(group: number): Promise<boolean> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    if (!groupAlive(group)) break;
    try {
      process.kill(-group, signal);
    } catch {
      break;
    }
    for (let i = 0; i < 40 && groupAlive(group); i++) await sleep(250);
  }
  return !groupAlive(group);
}

/** Listens on `port` (0: any free one) and releases it; the port, or undefined when it is taken. */
export function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(undefined));
    probe.listen(port, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : undefined));
    });
  });
}
