import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ACME_CLIENT_VERSION, missingInternals } from '../../rotation/acme/client-patches.js';

const require = createRequire(import.meta.url);

describe('acme-client internals the CA adapter relies on (rotation/acme/client-patches.ts)', () => {
  it('package.json pins acme-client to the exact version the patches were written against', () => {
    // Bundled into the Lambda (dist/rotation), so a devDependency: consumers of the package install nothing for it.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.dependencies?.['acme-client'] ?? pkg.devDependencies['acme-client']).toBe(ACME_CLIENT_VERSION);
    const installed = JSON.parse(readFileSync(require.resolve('acme-client/package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).toBe(ACME_CLIENT_VERSION);
  });

  it('every internal the patches use exists with the expected type', () => {
    expect(missingInternals()).toEqual([]);
  });

  it('the library itself no longer retries: its retry setting is 0 once the transport is loaded', async () => {
    await import('../../rotation/acme/transport.js');
    const acme = (await import('acme-client')).default;
    const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;
    expect(settings.retryMaxAttempts).toBe(0);
    expect(typeof acme.axios.defaults.adapter).toBe('function');
  });
});
