/**
 * A vitest reporter that appends, synchronously, each test file's start and end and each test's
 * start to the file named by ACME_TEST_PROGRESS (and does nothing without it). vitest prints a
 * file's results only when the file ends, so a run that stops mid-file shows nothing of where it
 * was; .ci/run's stall watch reads it and prints its tail when a run stops making progress.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';

import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class ProgressReporter implements Reporter {
  private readonly file = process.env.ACME_TEST_PROGRESS;

  private write(line: string): void {
    if (this.file) appendFileSync(this.file, `${new Date().toISOString()} ${line}\n`);
  }

  onTestModuleStart(module: TestModule): void {
    this.write(`start ${relative(process.cwd(), module.moduleId)}`);
  }

  onTestCaseReady(test: TestCase): void {
    this.write(`  test ${test.fullName}`);
  }

  onTestModuleEnd(module: TestModule): void {
    this.write(`end   ${relative(process.cwd(), module.moduleId)} (${module.state()})`);
  }
}
