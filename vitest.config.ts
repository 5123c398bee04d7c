import { defineConfig } from 'vitest/config';

/** Each project inherits the settings above it (extends: true) and adds which files it runs. */
const project = (name: string, include: string[]) => ({ extends: true as const, test: { name, include } });

export default defineConfig({
  test: {
    globalSetup: ['tests/global-setup.ts'],
    // A blocked event loop defeats the timeouts below: a watchdog thread ends such a file.
    setupFiles: ['tests/stall-setup.ts'],
    // End-to-end tests start Pebble and the local AWS endpoint; give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Local Node is 20; the Lambda runs nodejs22.x. The SDK's Node 20 notice is known (lockfile pinned).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // `vitest run` runs them all (npm test); `--project <name>` picks one (npm run test:unit, …).
    projects: [
      // The product's unit tests.
      project('unit', ['tests/unit/**/*.test.ts']),
      // The local stack's own tests (local AWS endpoint, DNS server, Pebble harness, Lambda runner).
      project('local', ['tests/local/**/*.test.ts']),
      project('e2e', ['tests/e2e/**/*.test.ts']),
      project('infra', ['tests/infra/**/*.test.ts']),
    ],
  },
});
