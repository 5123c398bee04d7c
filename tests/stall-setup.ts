/**
 * Runs in every test process before its file: a watchdog that kills the process when its event
 * loop stops turning for a minute (see tests/local/stall-watchdog.ts), so a blocked test file
 * fails with a report instead of holding `npm test` (and CI) until an outer time limit.
 * ACME_TEST_STALL_MS changes the limit.
 */
import { afterAll, beforeEach, expect } from 'vitest';

import { startStallWatchdog } from './local/stall-watchdog.js';

const stallMs = Number(process.env.ACME_TEST_STALL_MS ?? 60_000);
const watchdog = startStallWatchdog({
  label: `the test process for ${expect.getState().testPath ?? 'a test file'}`,
  stallMs,
});

beforeEach(() => watchdog.setTest(expect.getState().currentTestName ?? '(unnamed)'));
afterAll(() => watchdog.stop());
