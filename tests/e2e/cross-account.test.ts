/**
 * End-to-end: hosted zones in other accounts (ROUTE53_ROLES). The local endpoint keeps zones per
 * account and plays STS AssumeRole with trust policies and external ids (tests/local/aws/sts.ts):
 * a certificate with names in a zone of another account and in one of its own issues, promotes
 * and leaves no TXT in either; a crash after the TXT change in the other account is cleaned up by
 * the retry; a role that cannot be assumed fails before anything is ordered, with the role named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retryRotation, rotate } from '../local/driver.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  changeBatches,
  expectConsistentBundle,
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  uniqueSecretName,
  uniqueZoneName,
} from './helpers.js';
import { challengeTxtLeft, expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const DNS_ACCOUNT = '111122223333';
const EXTERNAL_ID = 'acme-rotation-e2e';

describe('hosted zones in another account', () => {
  let stack: LocalStack;
  let accountArn: string;
  let counter = 0;

  beforeAll(async () => {
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
    accountArn = (await stack.createEmptySecret(uniqueSecretName('xacct-account'))).arn;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A zone of this account, a zone of the DNS account with a role for it, a certificate over both. */
  async function setup(prefix: string) {
    const own = stack.aws.route53.createZone(uniqueZoneName(`${prefix}-own`));
    const other = stack.aws.route53.createZone(uniqueZoneName(`${prefix}-dns`), { account: DNS_ACCOUNT });
    const role = `arn:aws:iam::${DNS_ACCOUNT}:role/acme-dns-${++counter}`;
    stack.aws.sts.createRole({
      arn: role,
      trustedPrincipals: [`arn:aws:iam::${stack.aws.accountId}:role/acme-rotation`],
      externalId: EXTERNAL_ID,
      route53: { zoneIds: [other.id] },
    });
    const ownName = own.name.replace(/\.$/, '');
    const otherName = other.name.replace(/\.$/, '');
    const domains = [ownName, `*.${otherName}`, otherName];
    const secret = await stack.createCertificateSecret(
      uniqueSecretName(prefix),
      { domains, hostedZoneIds: [own.id, other.id] },
      { placeholder: '{}' },
    );
    const lambda = stack.newLambda({
      ACME_ACCOUNT_SECRET_ID: accountArn,
      ROUTE53_ROLES: `${other.id}=${role}`,
      ROUTE53_EXTERNAL_ID: EXTERNAL_ID,
    });
    return { own, other, role, domains, secret, lambda };
  }

  it('issues for names in both accounts: the other zone changed only as the role, no TXT left in either', async () => {
    const s = await setup('xacct');
    const from = stack.aws.calls.length;
    const run = await rotate({ client: stack.sm, lambda: s.lambda, secretId: s.secret.arn });
    expect(run.lastError).toBeUndefined();
    expectConsistentBundle(
      parseStoredBundle(stack.aws.secrets.valueAt(s.secret.arn, 'AWSCURRENT')),
      s.domains,
      'ecdsa-p256',
    );
    const calls = stack.aws.calls.slice(from).filter((c) => c.service === 'route53');
    const touching = (zoneId: string) => calls.filter((c) => (c.input as { path: string }).path.includes(zoneId));
    expect(touching(s.other.id).length).toBeGreaterThan(0);
    // Every call for the other account's zone was made by the assumed role, in that account.
    for (const c of touching(s.other.id)) {
      expect(c.account).toBe(DNS_ACCOUNT);
      expect(c.principal).toMatch(new RegExp(`^arn:aws:sts::${DNS_ACCOUNT}:assumed-role/${s.role.split('/')[1]}/`));
    }
    for (const c of touching(s.own.id)) expect(c.account).toBe(stack.aws.accountId);
    // Create + clean-up in each zone.
    expect(changeBatches(calls, s.other.id).map((b) => b.error ?? 'ok')).toEqual(['ok', 'ok']);
    expect(changeBatches(calls, s.own.id).map((b) => b.error ?? 'ok')).toEqual(['ok', 'ok']);
    // One AssumeRole for the whole rotation: the session is kept, not assumed per call.
    expect(stack.aws.sts.sessions().filter((x) => x.role.arn === s.role)).toHaveLength(1);
    expect(challengeTxtLeft(stack, [s.own.id, s.other.id])).toEqual([]);
  });

  it('a crash after the TXT change in the other account: the retry removes it', async () => {
    const s = await setup('xcrash');
    const before = snapshotSecret(stack, s.secret.arn, s.domains);
    let hits = 0;
    const remove = stack.aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      match: (input) => (input as { path: string }).path.includes(`/hostedzone/${s.other.id}/`),
      action: { type: 'applyThenHang' },
      onHit: () => {
        hits++;
        s.lambda.kill();
      },
    });
    let run;
    try {
      run = await rotate({ client: stack.sm, lambda: s.lambda, secretId: s.secret.arn });
    } finally {
      remove();
    }
    expect(hits).toBe(1);
    expect(run.succeeded).toBe(false);
    // The killed attempt's values are in the other account's zone.
    expect(challengeTxtLeft(stack, [s.other.id]).length).toBeGreaterThan(0);
    const retry = await retryRotation({ client: stack.sm, lambda: s.lambda, secretId: s.secret.arn, token: run.token });
    expect(retry.lastError).toBeUndefined();
    expectInvariants(stack, {
      secrets: [before],
      lambdas: [s.lambda],
      finished: true,
      zoneIds: [s.own.id, s.other.id],
    });
  });

  it('a role that cannot be assumed (wrong external id) fails before ordering, naming the role', async () => {
    const s = await setup('xdeny');
    const lambda = stack.newLambda({
      ACME_ACCOUNT_SECRET_ID: accountArn,
      ROUTE53_ROLES: `${s.other.id}=${s.role}`,
      ROUTE53_EXTERNAL_ID: 'not-the-one',
    });
    const before = snapshotSecret(stack, s.secret.arn, s.domains);
    const orders = stack.pebble.logs.filter((l) => l.includes('/order-plz')).length;
    const from = stack.aws.calls.length;
    const run = await rotate({ client: stack.sm, lambda, secretId: s.secret.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    expect(run.lastError?.message).toContain(`cannot assume ${s.role} for hosted zone ${s.other.id}`);
    expect(run.lastError?.message).toContain('AccessDenied');
    expect(run.lastError?.message).toContain('nothing was ordered');
    expect(stack.pebble.logs.filter((l) => l.includes('/order-plz')).length).toBe(orders);
    expect(changeBatches(stack.aws.calls.slice(from))).toEqual([]);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [s.own.id, s.other.id] });
  });
});
