import { ensurePebble } from './local/ensure-pebble.js';

/**
 * Runs once before the test files: the end-to-end tests need Pebble. Installs it with apt when
 * running as root on Debian; otherwise fails with the command to run (no test is skipped).
 */
export default function setup(): void {
  ensurePebble();
}
