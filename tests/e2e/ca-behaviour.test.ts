/**
 * End-to-end: how the rotation meets a CA that misbehaves. Real Pebble throughout.
 * - bad nonces: Pebble rejecting half of all valid nonces (PEBBLE_WFE_NONCEREJECT=50);
 * - through the CA proxy (tests/local/ca-proxy.ts): `rateLimited` with a short Retry-After
 *   (waited out) and a long one (a clean failure saying when, without sleeping past the
 *   deadline), `rejectedIdentifier` with subproblems, a challenge the CA finds invalid (its
 *   DNS lookups find a wrong TXT value), and a CA that is down;
 * Every scenario ends with the robustness invariants checked (tests/e2e/invariants.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retryRotation, rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import type { CaProxy } from '../local/ca-proxy.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  BUS_NAME,
  TOPIC_NAME,
  changeBatches,
  noticesFor,
  ROUTE53_CHANGE_DELAY_MS,
  expectConsistentBundle,
  parseStoredBundle,
  uniqueSecretName,
  uniqueZoneName,
  zoneCertificate,
} from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('a CA that rejects half of all nonces (badNonce)', () => {
  let stack: LocalStack & { ca: CaProxy };
  beforeAll(async () => {
    // Through the CA proxy, which records what Pebble answered to every request.
    stack = await startLocalStack({
      route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS,
      pebbleEnv: { PEBBLE_WFE_NONCEREJECT: '50' },
      caProxy: true,
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
      // At 50 % rejection a signed request fails only after 21 rejections in a row (the default of
      // 20 badNonce retries): about 2^-21 per request, so one failure in ~20 000 runs of this test.
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
    // Pebble did reject nonces (the test is about riding them out): the signed requests of the
    // three rotations (account, orders, authorizations, challenges, polls, finalizations,
    // downloads: about 28) all have their nonce accepted first time once in 2^24 runs or fewer.
    // Counting only some endpoints was not enough: 12 POSTs all passed first time in one CI run.
    const signed = stack.ca.calls.filter((c) => c.method === 'POST');
    const rejected = signed.filter((c) => c.upstreamStatus === 400);
    expect(signed.length - rejected.length).toBeGreaterThanOrEqual(24);
    expect(rejected.length).toBeGreaterThan(0);
    expectInvariants(stack, { secrets: snapshots, lambdas: [lambda], finished: true, zoneIds: [zone.id] });
  });
});

describe('CA problems, through the CA proxy', () => {
  let stack: LocalStack & { ca: CaProxy };
  let lambda: LocalLambda;
  let accountArn: string;

  beforeAll(async () => {
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS, caProxy: true });
    const topicArn = stack.aws.sns.createTopic(TOPIC_NAME);
    stack.aws.events.createEventBus(BUS_NAME);
    accountArn = (await stack.createEmptySecret(uniqueSecretName('ca-account'))).arn;
    // Function timeout 40 s: 20 s of clean-up reserve leave 20 s for waits.
    lambda = stack.newLambda(
      {
        ACME_ACCOUNT_SECRET_ID: accountArn,
        NOTIFICATION_TOPIC_ARN: topicArn,
        EVENT_BUS_NAME: BUS_NAME,
        API_TIMEOUT_SECONDS: '2',
      },
      { timeoutMs: 40_000 },
    );
    const warm = await certificate('ca-warm');
    const run = await rotate({ client: stack.sm, lambda, secretId: warm.arn });
    if (!run.succeeded) throw new Error(`warm-up failed: ${JSON.stringify(run.lastError)}`);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const certificate = (prefix: string) => zoneCertificate(stack, prefix);

  /** First attempt with the fault, checks of the clean failure, then the retry without it. */
  async function failsCleanlyThenRecovers(
    cert: Awaited<ReturnType<typeof certificate>>,
    arm: () => () => void,
  ): Promise<{ message: string; code: unknown; ms: number }> {
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const remove = arm();
    const started = Date.now();
    let run;
    try {
      run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    } finally {
      remove();
    }
    const ms = Date.now() - started;
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    const failed = noticesFor(stack, cert.name).events.map((e) => e.detail);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ status: 'failed', step: 'createSecret', error: run.lastError?.message });
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: run.token });
    expect(retry.lastError).toBeUndefined();
    expect(retry.succeeded).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
    return { message: run.lastError?.message ?? '', code: failed[0]?.error_code, ms };
  }

  it("a warm container keeps the CA's directory and unused nonces: the next rotation asks for neither", async () => {
    // The warm-up rotation in beforeAll ran in this container; this one starts where it left off.
    const cert = await certificate('warm-memory');
    const from = stack.ca.calls.length;
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    const calls = stack.ca.calls.slice(from).map((c) => c.operation);
    expect(calls).not.toContain('directory');
    expect(calls).not.toContain('newNonce');
    expect(calls).toContain('newOrder');
    expect(calls).toContain('certificate');
    // A fresh container (another function) fetches both again.
    const cold = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: accountArn, API_TIMEOUT_SECONDS: '2' });
    const other = await certificate('cold-memory');
    const coldFrom = stack.ca.calls.length;
    const coldRun = await rotate({ client: stack.sm, lambda: cold, secretId: other.arn });
    expect(coldRun.succeeded).toBe(true);
    const coldCalls = stack.ca.calls.slice(coldFrom).map((c) => c.operation);
    expect(coldCalls.filter((op) => op === 'directory')).toHaveLength(1);
    // At least one nonce asked for (requests in flight together can each need one).
    expect(coldCalls.filter((op) => op === 'newNonce').length).toBeGreaterThanOrEqual(1);
    // No nonce is ever sent twice (each costs a badNonce answer): not from the pool, not from newNonce.
    const sent = stack.ca.calls.slice(from).flatMap((c) => (c.nonce ? [c.nonce] : []));
    expect(sent.length).toBeGreaterThan(10);
    expect(new Set(sent).size).toBe(sent.length);
  });

  it('rateLimited with a short Retry-After: waits it out and succeeds first time', async () => {
    const cert = await certificate('rl-short');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const from = stack.ca.calls.length;
    stack.ca.addFault({
      operation: 'newOrder',
      action: {
        type: 'problem',
        problem: { status: 429, type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down', retryAfter: 1 },
      },
    });

    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });

    expect(run.lastError).toBeUndefined();
    expect(run.attempts).toHaveLength(1);
    const orders = stack.ca.calls.slice(from).filter((c) => c.operation === 'newOrder');
    expect(orders.map((c) => c.status)).toEqual([429, 201]);
    expect(orders[1]!.at - orders[0]!.at).toBeGreaterThanOrEqual(1_000); // Retry-After honoured
    expect(lambda.logs.some((l) => l.includes('the CA asked to wait') && l.includes('rateLimited'))).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('rateLimited with a Retry-After past the deadline: fails at once, saying when, and recovers later', async () => {
    const cert = await certificate('rl-long');
    const result = await failsCleanlyThenRecovers(cert, () =>
      stack.ca.addFault({
        operation: 'newOrder',
        times: Infinity,
        action: {
          type: 'problem',
          problem: {
            status: 429,
            type: 'urn:ietf:params:acme:error:rateLimited',
            detail: 'too many new orders recently',
            retryAfter: 3600,
          },
        },
      }),
    );
    expect(result.code).toBe('AcmeRateLimited');
    expect(result.message).toMatch(
      new RegExp(
        `^secret "${cert.name}" createSecret: the CA rate-limited newOrder: rateLimited \\(HTTP 429\\): too many new orders recently; ` +
          'it asks to retry after 3600 s \\(\\d{4}-[\\d-]+T[\\d:.]+Z\\): longer than this invocation has left',
      ),
    );
    expect(result.ms).toBeLessThan(10_000); // no sleeping past the deadline (nor at all)
  });

  it("rejectedIdentifier: the CA's detail and the refused name, no DNS change", async () => {
    const cert = await certificate('rejected');
    const from = stack.aws.calls.length;
    const caFrom = stack.ca.calls.length;
    const result = await failsCleanlyThenRecovers(cert, () =>
      stack.ca.addFault({
        operation: 'newOrder',
        times: Infinity,
        action: {
          type: 'problem',
          problem: {
            status: 400,
            type: 'urn:ietf:params:acme:error:rejectedIdentifier',
            detail: 'Error creating new order :: Cannot issue for this name',
            subproblems: [
              {
                type: 'urn:ietf:params:acme:error:rejectedIdentifier',
                detail: 'Domain name is on the blocklist',
                identifier: { type: 'dns', value: cert.zoneName },
              },
            ],
          },
        },
      }),
    );
    expect(result.code).toBe('AcmeRejectedIdentifier');
    expect(result.message).toBe(
      `secret "${cert.name}" createSecret: CA rejected newOrder: rejectedIdentifier (HTTP 400): ` +
        `Error creating new order :: Cannot issue for this name [${cert.zoneName}: rejectedIdentifier Domain name is on the blocklist]`,
    );
    // A failed CA call makes the container forget the directory it kept: the retry fetched it again.
    expect(stack.ca.calls.slice(caFrom).filter((c) => c.operation === 'directory')).toHaveLength(1);
    // Nothing was written to DNS in the failed attempt: the order never existed.
    const failedAttempt = changeBatches(stack.aws.calls.slice(from), cert.zoneId);
    expect(failedAttempt.length).toBe(2); // the retry's create + clean-up only
  });

  it("a challenge the CA finds invalid (wrong TXT value): ChallengeFailed with the CA's detail, TXT values removed", async () => {
    const cert = await certificate('invalid');
    const result = await failsCleanlyThenRecovers(cert, () => {
      // Once the function answers the challenge, the CA's own DNS lookups find a wrong TXT value
      // (the function's propagation check, done before, saw the right ones).
      let removeDns: (() => void) | undefined;
      const removeCa = stack.ca.addFault({
        operation: 'challenge',
        times: Infinity,
        action: { type: 'pass' },
        onHit: () => {
          removeDns ??= stack.dns.addFault({
            type: 'TXT',
            name: /^_acme-challenge\./,
            times: Infinity,
            action: { txt: ['a-value-that-is-not-the-key-authorization'] },
          });
        },
      });
      return () => {
        removeCa();
        removeDns?.();
      };
    });
    expect(result.code).toBe('ChallengeFailed');
    expect(result.message).toMatch(
      new RegExp(
        `^secret "${cert.name}" createSecret: the CA could not validate \\*?\\.?${cert.zoneName.replace(/\./g, '\\.')}: urn:ietf:params:acme:error:unauthorized: Correct value not found for DNS challenge$`,
      ),
    );
  });

  it('a CA that is down: AcmeUnreachable with the network error; the retry succeeds once it is back', async () => {
    const cert = await certificate('down');
    const from = stack.aws.calls.length;
    const result = await failsCleanlyThenRecovers(cert, () => {
      void stack.ca.down();
      return () => void stack.ca.up();
    });
    expect(result.code).toBe('AcmeUnreachable');
    expect(result.message).toMatch(
      new RegExp(
        `^secret "${cert.name}" createSecret: could not reach the CA at https://127\\.0\\.0\\.1:\\d+/dir during \\w+: ECONNREFUSED`,
      ),
    );
    expect(changeBatches(stack.aws.calls.slice(from), cert.zoneId)).toHaveLength(2); // the retry's only
  });
});
