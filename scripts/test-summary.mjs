// Prints vitest's JSON report as the one line CI reads: `N passed, N failed` (', N skipped' when any).
// Exits non-zero when the report is missing, any test failed, or no test ran.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest/report.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  console.error(`no test report at ${file}: the build, typecheck or lint step failed before the tests ran`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A file that fails to load fails its suite without failing a test: count those too.
const failedTests = report.numFailedTests ?? 0;
const failed = failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
