// Prints the plain closing line CI reads ("N passed, M failed") from vitest's JSON report.
import { readFileSync } from "node:fs";

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch {
  console.log("0 passed, 1 failed");
  console.error(`no test report at ${file}`);
  process.exit(1);
}
// A file that failed to load ran no test, but it is a failure all the same. (numFailedTestSuites
// does not serve: vitest 5 counts describe blocks in it too.)
const failed = report.numFailedTests + filesFailedWithoutTests(report);
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${report.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || report.numTotalTests === 0 ? 1 : 0);

function filesFailedWithoutTests(r) {
  return r.testResults.filter((s) => s.status === "failed" && !s.assertionResults.some((a) => a.status === "failed")).length;
}
