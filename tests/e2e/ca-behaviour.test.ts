/**
 * End-to-end: how the rotation meets a CA that misbehaves. Real Pebble throughout.
 * - bad nonces: Pebble rejecting half of all valid nonces (PEBBLE_WFE_NONCEREJECT=50);
 * Every scenario ends with the invariants of issue 3 checked (tests/e2e/invariants.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  ROUTE53_CHANGE_DELAY_MS,
  expectConsistentBundle,
  parseStoredBundle,
  uniqueSecretName,
  uniqueZoneName,
} from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('a CA that rejects half of all nonces (badNonce)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({
      route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS,
      pebbleEnv: { PEBBLE_WFE_NONCEREJECT: '50' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('rides out every rejected nonce: each rotation succeeds on its first attempt', async () => {
    const zoneName = uniqueZoneName('nonce');
    const zone = stack.aws.route53.createZone(zoneName);
    const account = await stack.createEmptySecret(uniqueSecretName('nonce-account'));
    const lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn });
    const snapshots = [];
    for (let i = 0; i < 3; i++) {
      const domains = [`n${i}.${zoneName}`, `*.n${i}.${zoneName}`];
      const secret = await stack.createCertificateSecret(uniqueSecretName('nonce'), { domains });
      const before = snapshotSecret(stack, secret.arn, domains);
      const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });
      expect(run.lastError).toBeUndefined();
      expect(run.succeeded).toBe(true);
      expect(run.attempts).toHaveLength(1);
      expectConsistentBundle(
        parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')),
        domains,
        'ecdsa-p256',
      );
      snapshots.push(before);
    }
    // Pebble did reject nonces, many times: the test is about riding them out.
    // Pebble did reject nonces: 3 orders, 6 challenge answers and 3 finalizations are 12 signed
    // POSTs when every nonce is accepted; at 50% rejection, all 12 pass first time once in 4096 runs.
    const posts = stack.pebble.logs.filter((l) => /POST \/(order-plz|chalZ\/|finalize-order\/)/.test(l));
    expect(posts.length).toBeGreaterThan(12);
    expectInvariants(stack, { secrets: snapshots, lambdas: [lambda], finished: true, zoneIds: [zone.id] });
  });
});
