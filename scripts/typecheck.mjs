// npm run typecheck: the four TypeScript projects (the Worker, the tests, the scripts, the bench).
// tsc checks on one core, so they run side by side, as many at once as there are cores; each
// one's output is printed whole when it ends, and any failure fails the run.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

const PROJECTS = [".", "test", "scripts", "bench"];

function check(project) {
  return new Promise((resolve) => {
    const child = spawn("node_modules/.bin/tsc", ["-p", project], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", (error) => {
      process.stdout.write(`tsc -p ${project}: failed to start (${error.message})\n`);
      resolve(false);
    });
    child.on("close", (code) => {
      process.stdout.write(`tsc -p ${project}: ${code === 0 ? "ok" : "failed"}\n${output}`);
      resolve(code === 0);
    });
  });
}

const queue = [...PROJECTS];
const results = [];
const worker = async () => {
  while (queue.length > 0) results.push(await check(queue.shift()));
};
await Promise.all(Array.from({ length: Math.min(availableParallelism(), PROJECTS.length) }, worker));
process.exit(results.every(Boolean) ? 0 : 1);
