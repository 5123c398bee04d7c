/**
 * End-to-end: an ordered list of two CAs (ACME_CAS), each a real Pebble behind the fault-injecting
 * CA front (tests/local/ca-proxy.ts), the second requiring External Account Binding as ZeroSSL,
 * Google Trust Services and AWS's ACME endpoints do. The fronts add `meta.caaIdentities` to the
 * directories (Pebble 2.4 lists none) so CAA can be matched.
 *
 * - every failure of the first CA that is its own (unreachable, 5xx after the retries, a rate
 *   limit past the deadline, serverInternal at finalize, an order that never becomes valid) falls
 *   through to the second in the same createSecret; the certificate is the second CA's, issued to
 *   its own account (the EAB one), the bundle, notice and metrics say which CA issued and why;
 * - failures that are ours (the account refused, a validation the CA could not make, CAA at the CA)
 *   fail the rotation without asking the second CA;
 * - CAA records in the zone skip a CA they do not name, and fail before any order when they name
 *   neither; a CA requiring EAB without credentials in its account secret fails with a hint;
 * - no TXT record is left in any case, AWSCURRENT is never damaged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { SECOND_CA_EAB, startTwoCas, type TwoCas } from '../local/second-ca.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  changeBatches,
  noticesFor,
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  TOPIC_NAME,
  zoneCertificate,
} from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const EAB_KID = SECOND_CA_EAB.kid;

let stack: LocalStack;
let cas: TwoCas;

beforeAll(async () => {
  stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
  stack.aws.sns.createTopic(TOPIC_NAME);
  cas = await startTwoCas(stack);
});

afterAll(async () => {
  await cas?.stop();
  await stack?.stop();
});

afterEach(async () => {
  cas.frontA.clearFaults();
  cas.frontB.clearFaults();
  cas.extA.stuck = false;
  if (!cas.frontA.isUp()) await cas.frontA.up();
});

let n = 0;

/** Two fresh account secrets (the second holding only the EAB credentials) and a Lambda using both CAs. */
async function twoCaLambda(opts: { eab?: boolean; env?: Record<string, string> } = {}) {
  n++;
  const { env, acctA, acctB } = await cas.accounts(opts.eab === false ? { eab: false } : {});
  const topicArn = stack.aws.sns.createTopic(`${TOPIC_NAME}-${n}`);
  const lambda = stack.newLambda({ ...env, NOTIFICATION_TOPIC_ARN: topicArn, ...opts.env });
  return { lambda, acctA, acctB };
}

const issuedBy = (bundle: { chain: string }) => cas.issuedBy(bundle.chain);

function account(arn: string): Record<string, unknown> | undefined {
  const value = stack.aws.secrets.valueAt(arn, 'AWSCURRENT');
  return value ? (JSON.parse(value) as Record<string, unknown>) : undefined;
}

function metrics(lambda: LocalLambda): Record<string, unknown>[] {
  return lambda.logs
    .filter((l) => l.includes('"CloudWatchMetrics"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((m) => 'CertificatesIssued' in m || 'CaFallbacks' in m);
}

async function addCaa(zoneId: string, name: string, values: string[]): Promise<void> {
  stack.aws.route53.changeRecords(zoneId, [{ action: 'UPSERT', record: { name, type: 'CAA', ttl: 60, values } }]);
  await new Promise((r) => setTimeout(r, ROUTE53_CHANGE_DELAY_MS * 2));
}

describe('falls through to the second CA on the first CA’s own failures', () => {
  it('both CAs healthy: the first issues (with its own account); the metric names it', async () => {
    const { lambda, acctA, acctB } = await twoCaLambda();
    const cert = await zoneCertificate(stack, 'cas-ok');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    const { bundle } = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
    expect(issuedBy(bundle)).toBe('a');
    expect(bundle.acme_ca).toBe('ca-a');
    expect(bundle.acme_fallbacks).toBeUndefined();
    expect(bundle.acme_account_url).toBe(account(acctA.arn)?.account_url);
    expect(account(acctB.arn)?.private_key).toBeUndefined(); // the second CA was never needed
    expect(cas.frontB.calls.filter((c) => c.operation === 'newOrder')).toHaveLength(0);
    expect(metrics(lambda).map((m) => [m.Ca, m.CertificatesIssued])).toEqual([[new URL(cas.frontA.url).host, 1]]);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  const kinds: {
    kind: string;
    code: string;
    arm: () => void | Promise<void>;
    env?: Record<string, string>;
    /** The first CA failed after its challenges were in DNS. */
    placedAtFirst?: boolean;
  }[] = [
    { kind: 'the CA unreachable', code: 'AcmeUnreachable', arm: () => cas.frontA.down() },
    {
      kind: '503 on newOrder after the retries',
      code: 'AcmeRequestFailed',
      arm: () => {
        cas.frontA.addFault({
          operation: 'newOrder',
          times: Infinity,
          action: {
            type: 'problem',
            problem: {
              status: 503,
              type: `${ACME_ERROR}serverInternal`,
              detail: 'down for maintenance',
              retryAfter: 0,
            },
          },
        });
      },
    },
    {
      kind: 'a rate limit whose Retry-After lies past the deadline',
      code: 'AcmeRateLimited',
      arm: () => {
        cas.frontA.addFault({
          operation: 'newOrder',
          times: Infinity,
          action: {
            type: 'problem',
            problem: { status: 429, type: `${ACME_ERROR}rateLimited`, detail: 'too many new orders', retryAfter: 7200 },
          },
        });
      },
    },
    {
      kind: 'serverInternal at finalize (after validation)',
      code: 'AcmeRequestFailed',
      placedAtFirst: true,
      arm: () => {
        cas.frontA.addFault({
          operation: 'finalize',
          times: Infinity,
          action: {
            type: 'problem',
            problem: { status: 500, type: `${ACME_ERROR}serverInternal`, detail: 'the signer is down' },
          },
        });
      },
    },
    {
      kind: 'an order that never becomes valid',
      code: 'DeadlineExceeded',
      placedAtFirst: true,
      arm: () => {
        cas.extA.stuck = true;
      },
      env: { ACME_TIMEOUT_SECONDS: '3' },
    },
  ];

  it.each(kinds)(
    '$kind: the second CA issues in the same createSecret, to its EAB account',
    async ({ code, arm, env, placedAtFirst }) => {
      const { lambda, acctA, acctB } = await twoCaLambda(env ? { env } : {});
      const cert = await zoneCertificate(stack, 'cas-fall');
      const before = snapshotSecret(stack, cert.arn, cert.domains);
      await arm();
      const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
      expect(run.lastError).toBeUndefined();
      expect(run.attempts).toHaveLength(1);
      const { bundle } = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
      expect(issuedBy(bundle)).toBe('b');
      expect(bundle.acme_ca).toBe('ca-b');
      expect(bundle.acme_directory_url).toBe(cas.frontB.directoryUrl);
      // The second CA's own account, registered with EAB and kept in its own secret.
      const b = account(acctB.arn);
      expect(b).toMatchObject({ directory_url: cas.frontB.directoryUrl, eab: { kid: EAB_KID } });
      expect(bundle.acme_account_url).toBe(b?.account_url);
      expect(account(acctA.arn)?.account_url).not.toBe(b?.account_url);
      expect(bundle.acme_fallbacks).toEqual([expect.objectContaining({ ca: 'ca-a', error_code: code })]);
      const notice = noticesFor(stack, cert.name).sns.at(-1)?.message;
      expect(notice).toMatchObject({
        status: 'success',
        ca: 'ca-b',
        ca_directory_url: cas.frontB.directoryUrl,
        ca_fallbacks: [{ ca: 'ca-a', directory_url: cas.frontA.directoryUrl, error_code: code }],
      });
      expect(metrics(lambda).map((m) => [m.Ca, m.CertificatesIssued ?? 0, m.CaFallbacks ?? 0])).toEqual([
        [new URL(cas.frontB.url).host, 1, 0],
        [new URL(cas.frontA.url).host, 0, 1],
      ]);
      expect(lambda.logs.some((l) => l.includes('"falling back to the next CA"'))).toBe(true);
      // The first CA's TXT values (when it got that far) were removed before the second CA's were
      // written: each batch that writes values finds the challenge names empty.
      const batches = changeBatches(stack.aws.calls, cert.zoneId).filter((b) => !b.error);
      const live = new Set<string>();
      for (const batch of batches) {
        const adds = batch.actions.some((a) => a === 'CREATE' || a === 'UPSERT');
        if (adds) expect([...live], 'TXT values of another order still in DNS').toEqual([]);
        for (const v of batch.values) {
          if (adds) live.add(v);
          else live.delete(v);
        }
      }
      expect(batches.filter((b) => b.actions.includes('CREATE') || b.actions.includes('UPSERT'))).toHaveLength(
        placedAtFirst ? 2 : 1,
      );
      // The failed-CA tag served its purpose and is gone.
      expect(stack.aws.secrets.tagsOf(cert.arn)['acme-rotation:inflight-ca-failed']).toBeUndefined();
      expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
    },
  );
});

describe('too little time left to fall through at once', () => {
  it("records the failed CA and Secrets Manager's retry starts at the second one", async () => {
    const { env } = await cas.accounts();
    // 75 s in all: after the first CA fails, less than the 60 s a fall-through needs remain
    // (20 s are kept back for clean-up and the notice).
    const lambda = stack.newLambda(env, { timeoutMs: 75_000 });
    const cert = await zoneCertificate(stack, 'cas-retry');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    await cas.frontA.down();
    let tagBetween: string | undefined;
    const run = await rotate({
      client: stack.sm,
      lambda,
      secretId: cert.arn,
      maxAttempts: 2,
      onStep: ({ attempt, step }) => {
        if (attempt === 1 && step === 'createSecret') {
          tagBetween = stack.aws.secrets.tagsOf(cert.arn)['acme-rotation:inflight-ca-failed'];
        }
      },
    });
    expect(run.succeeded).toBe(true);
    expect(run.attempts).toHaveLength(2);
    const first = run.attempts[0]?.find((a) => a.step === 'createSecret')?.result;
    expect(first?.ok).toBe(false);
    expect(first && !first.ok ? first.error.message : '').toContain(
      "less than 60 s of the invocation is left: Secrets Manager's retry of this rotation orders from the next CA, ca-b",
    );
    expect(tagBetween).toBe(`${run.token} 0:AcmeUnreachable`);
    const { bundle } = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
    expect(cas.issuedBy(bundle.chain)).toBe('b');
    expect(bundle.acme_fallbacks).toEqual([
      {
        ca: 'ca-a',
        directory_url: cas.frontA.directoryUrl,
        error_code: 'AcmeUnreachable',
        reason: 'failed in an earlier attempt of this rotation (AcmeUnreachable)',
      },
    ]);
    expect(stack.aws.secrets.tagsOf(cert.arn)['acme-rotation:inflight-ca-failed']).toBeUndefined();
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});

describe('failures that are ours do not fall through', () => {
  const ours: { kind: string; code: string; arm: () => void }[] = [
    {
      kind: 'the account refused',
      code: 'AcmeUnauthorized',
      arm: () => {
        cas.frontA.addFault({
          operation: 'newAccount',
          times: Infinity,
          action: {
            type: 'problem',
            problem: { status: 403, type: `${ACME_ERROR}unauthorized`, detail: 'account deactivated' },
          },
        });
      },
    },
    {
      kind: 'a validation the CA could not make',
      code: 'AcmeUnauthorized',
      arm: () => {
        cas.frontA.addFault({
          operation: 'challenge',
          times: Infinity,
          action: {
            type: 'problem',
            problem: { status: 403, type: `${ACME_ERROR}unauthorized`, detail: 'no TXT record found' },
          },
        });
      },
    },
    {
      kind: 'CAA refused by the CA itself',
      code: 'AcmeCaaForbids',
      arm: () => {
        cas.frontA.addFault({
          operation: 'finalize',
          times: Infinity,
          action: {
            type: 'problem',
            problem: { status: 403, type: `${ACME_ERROR}caa`, detail: 'CAA record forbids issuance' },
          },
        });
      },
    },
  ];

  it.each(ours)(
    '$kind: the rotation fails without an order at the second CA, nothing left in DNS',
    async ({ code, arm }) => {
      const { lambda } = await twoCaLambda();
      const cert = await zoneCertificate(stack, 'cas-ours');
      const before = snapshotSecret(stack, cert.arn, cert.domains);
      const ordersAtB = cas.frontB.count('newOrder');
      arm();
      const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
      expect(run.succeeded).toBe(false);
      expect(run.lastError?.step).toBe('createSecret');
      expect(cas.frontB.count('newOrder')).toBe(ordersAtB);
      const failure = noticesFor(stack, cert.name).sns.at(-1)?.message;
      expect(failure).toMatchObject({ status: 'failed', step: 'createSecret', error_code: code });
      expect(lambda.logs.some((l) => l.includes('"falling back to the next CA"'))).toBe(false);
      expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
      expect(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).toBe('{}');
    },
  );

  it('the EAB CA without EAB credentials in its account secret: fails with a hint, no fall-through past it', async () => {
    const { lambda, acctB } = await twoCaLambda({ eab: false });
    const cert = await zoneCertificate(stack, 'cas-noeab', {}, { extraTags: [{ Key: 'acme:ca', Value: 'ca-b' }] });
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.message).toContain(
      `CA ca-b requires External Account Binding: store its EAB credentials in the account secret "${acctB.name}" as {"eab": {"kid": "…", "hmac_key": "…"}}`,
    );
    expect(noticesFor(stack, cert.name).sns.at(-1)?.message).toMatchObject({
      error_code: 'AcmeExternalAccountRequired',
    });
    expectInvariants(stack, { secrets: [], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
  });
});

describe('CAA is honoured before a CA is chosen', () => {
  it('a record naming only the second CA skips the first (no order there), naming the record', async () => {
    const { lambda } = await twoCaLambda();
    const cert = await zoneCertificate(stack, 'cas-caa');
    await addCaa(cert.zoneId, cert.zoneName, ['0 issue "ca-b.test"']);
    const ordersAtA = cas.frontA.count('newOrder');
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    expect(cas.frontA.count('newOrder')).toBe(ordersAtA);
    const { bundle } = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
    expect(issuedBy(bundle)).toBe('b');
    expect(bundle.acme_fallbacks).toBeUndefined(); // skipped by CAA is not a CA failure
    const skipped = lambda.logs.find((l) => l.includes('"CAA forbids this CA for the certificate; skipping it"'));
    expect(skipped).toContain(`${cert.zoneName} CAA 0 issue \\"ca-b.test\\" does not allow this CA`);
    expect(stack.dns.queries.some((q) => q.type === 'CAA' && q.name === `${cert.zoneName}.`)).toBe(true);
  });

  it('issuewild naming the first CA only: the wildcard forbids the second, the apex the first → no CA, no order', async () => {
    const { lambda } = await twoCaLambda();
    const cert = await zoneCertificate(stack, 'cas-caa-none');
    await addCaa(cert.zoneId, cert.zoneName, ['0 issue "ca-b.test"', '0 issuewild "ca-a.test"']);
    const orders = cas.frontA.count('newOrder') + cas.frontB.count('newOrder');
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.message).toMatch(
      /the CAA records forbid every CA this certificate may come from: ca-a: .*; ca-b: .*issuewild/,
    );
    expect(noticesFor(stack, cert.name).sns.at(-1)?.message).toMatchObject({ error_code: 'AcmeCaaForbids' });
    expect(cas.frontA.count('newOrder') + cas.frontB.count('newOrder')).toBe(orders);
    expectInvariants(stack, { secrets: [], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
  });
});
