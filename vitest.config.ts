import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // A blocked event loop defeats the timeouts below: a watchdog thread ends such a file.
    setupFiles: ['tests/stall-setup.ts'],
    // End-to-end tests start Pebble and the local AWS endpoint; give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Local Node is 20; the Lambda runs nodejs22.x. The SDK's Node 20 notice is known (lockfile pinned).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
