/**
 * End-to-end: any RFC 8555 CA on its own terms, against Pebble configured unlike the other tests:
 * - Pebble's own default lifetime (5 years, as private CAs issue): issued, verified, promoted;
 *   an operator's MAX_CERTIFICATE_LIFETIME_DAYS refuses it with its own error code;
 * - 1-day certificates (step-ca's default): the minimum remaining validity scales with them;
 * - a chain of 3 intermediates with alternate roots: verified and handed over complete, and
 *   ACME_PREFERRED_CHAIN picks a chain by its root's name (falling back with a warning);
 * - a chain that anchors at no root the function trusts fails testSecret's `trust-anchor` check;
 * - the ARI-capable CA in front of Pebble (tests/local/ari-ca.ts): renewals carry `replaces`
 *   for the same CA and account only, a certificate already replaced gets a plain order, and a
 *   profile the CA does not list fails before DNS is touched.
 * Pebble issues under a root regenerated at each start and trusted only through
 * NODE_EXTRA_CA_CERTS: every scenario here is a private root's.
 */
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { splitPemCertificates } from '../../rotation/certificate/bundle.js';
import { retryRotation, rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import {
  changeBatches,
  noticesFor,
  parseStoredBundle,
  ROUTE53_CHANGE_DELAY_MS,
  TOPIC_NAME,
  uniqueSecretName,
  zoneCertificate,
} from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const DAY_MS = 86_400_000;

const certificate = zoneCertificate;

function current(stack: LocalStack, arn: string) {
  return parseStoredBundle(stack.aws.secrets.valueAt(arn, 'AWSCURRENT'));
}

const commonName = (dn: string): string => /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? '';

describe("Pebble's own default lifetime: 5-year certificates, as a private CA issues", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS, certificateValidityPeriod: 0 });
    stack.aws.sns.createTopic(TOPIC_NAME);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('issues, verifies and promotes a certificate far longer than 398 days', async () => {
    const cert = await certificate(stack, 'longlived');
    const lambda = stack.newLambda();
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    const { bundle, cert: leaf } = current(stack, cert.arn);
    const lifetimeDays = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY_MS;
    expect(lifetimeDays).toBeGreaterThan(1800);
    expect(bundle.expiry).toBe(new Date(leaf.validTo).toISOString());
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('an operator cap (MAX_CERTIFICATE_LIFETIME_DAYS) refuses it in testSecret with its own error code', async () => {
    const topicArn = stack.aws.sns.createTopic(`${TOPIC_NAME}-cap`);
    const cert = await certificate(stack, 'capped');
    const lambda = stack.newLambda({ MAX_CERTIFICATE_LIFETIME_DAYS: '398', NOTIFICATION_TOPIC_ARN: topicArn });
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('testSecret');
    expect(run.lastError?.message).toMatch(
      /Certificate check "lifetime-policy" failed: the certificate lifetime of 18\d\d(\.\d)? days exceeds MAX_CERTIFICATE_LIFETIME_DAYS \(398 days\)/,
    );
    const failure = noticesFor(stack, cert.name).sns.at(-1)?.message;
    expect(failure).toMatchObject({ status: 'failed', step: 'testSecret', error_code: 'CertificateLifetimePolicy' });
    // AWSCURRENT untouched ({}), no TXT left.
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
    expect(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).toBe('{}');
  });
});

describe('1-day certificates (step-ca style)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS, certificateValidityPeriod: 86_400 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('issue, verify (12 h of the 24 required to remain) and promote, twice', async () => {
    const cert = await certificate(stack, 'oneday');
    const lambda = stack.newLambda();
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    for (let i = 0; i < 2; i++) {
      const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
      expect(run.lastError).toBeUndefined();
      expect(run.succeeded).toBe(true);
    }
    const { cert: leaf } = current(stack, cert.arn);
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBeLessThanOrEqual(DAY_MS);
    const verified = lambda.logs.filter((l) => l.includes('"pending certificate verified"'));
    expect(verified).toHaveLength(2);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });
});

describe('a chain of 3 intermediates, alternate roots, and ACME_PREFERRED_CHAIN', () => {
  let stack: LocalStack;
  let roots: X509Certificate[];
  beforeAll(async () => {
    stack = await startLocalStack({
      route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS,
      // Pebble 2.4's PEBBLE_CHAIN_LENGTH is the number of intermediates. Two alternate roots.
      pebbleEnv: { PEBBLE_CHAIN_LENGTH: '3', PEBBLE_ALTERNATE_ROOTS: '2' },
    });
    roots = splitPemCertificates(await stack.pebble.issuingRootsPem()).map((p) => new X509Certificate(p));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('hands over the whole default chain: 3 intermediates, each issuing the one below, up to the first root', async () => {
    expect(roots.length).toBe(3);
    const cert = await certificate(stack, 'chain3');
    const lambda = stack.newLambda();
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    const { bundle, cert: leaf } = current(stack, cert.arn);
    const chain = splitPemCertificates(bundle.chain).map((p) => new X509Certificate(p));
    expect(chain).toHaveLength(3);
    expect(splitPemCertificates(bundle.fullchain)).toHaveLength(4);
    const path = [leaf, ...chain];
    for (let i = 0; i + 1 < path.length; i++) expect(path[i]?.checkIssued(path[i + 1] as X509Certificate)).toBe(true);
    expect(chain.at(-1)?.checkIssued(roots[0] as X509Certificate)).toBe(true);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('picks the chain that ends at the preferred root, and falls back to the default with a warning', async () => {
    const preferred = roots[2] as X509Certificate;
    const cert = await certificate(stack, 'preferred');
    const lambda = stack.newLambda({ ACME_PREFERRED_CHAIN: commonName(preferred.subject) });
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    const chain = splitPemCertificates(current(stack, cert.arn).bundle.chain).map((p) => new X509Certificate(p));
    expect(chain.at(-1)?.checkIssued(preferred)).toBe(true);
    expect(chain.at(-1)?.verify(preferred.publicKey)).toBe(true);
    expect(lambda.logs.some((l) => l.includes('using the preferred chain (ACME_PREFERRED_CHAIN)'))).toBe(true);

    const other = await certificate(stack, 'nomatch');
    const fallback = stack.newLambda({ ACME_PREFERRED_CHAIN: 'No Such Root' });
    const second = await rotate({ client: stack.sm, lambda: fallback, secretId: other.arn });
    expect(second.lastError).toBeUndefined();
    const defaultTop = splitPemCertificates(current(stack, other.arn).bundle.chain).map((p) => new X509Certificate(p));
    expect(defaultTop.at(-1)?.checkIssued(roots[0] as X509Certificate)).toBe(true);
    const warning = fallback.logs.find((l) => l.includes('no chain the CA offers matches ACME_PREFERRED_CHAIN'));
    expect(warning).toBeDefined();
    // The warning lists the three roots the chains end at.
    for (const root of roots) expect(warning).toContain(commonName(root.subject));
  });

  it('a chain that anchors at no trusted root fails testSecret (trust-anchor), AWSCURRENT untouched', async () => {
    // Trust the CA's HTTPS listener only, not the roots it issues under.
    const trust = join(stack.workDir, 'listener-only.pem');
    await writeFile(trust, stack.pebble.listenerCaPem);
    const cert = await certificate(stack, 'untrusted');
    const lambda = stack.newLambda({ NODE_EXTRA_CA_CERTS: trust });
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const run = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('testSecret');
    expect(run.lastError?.message).toMatch(
      /Certificate check "trust-anchor" failed: the chain does not lead to a trusted root/,
    );
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [cert.zoneId] });
  });
});

describe('an ARI-capable CA in front of Pebble: renewals as replacements, and profiles', () => {
  let stack: LocalStack & Required<Pick<LocalStack, 'ari' | 'ca'>>;
  let lambda: LocalLambda;
  beforeAll(async () => {
    stack = await startLocalStack({
      route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS,
      ari: { profiles: { classic: 'The usual', tlsserver: 'Shorter, TLS server only' } },
    });
    const account = await stack.createEmptySecret(uniqueSecretName('ari-account'));
    lambda = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: account.arn });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a renewal names the certificate it replaces; the CA marks it replaced', async () => {
    const cert = await certificate(stack, 'ari');
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    const first = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(first.lastError).toBeUndefined();
    const firstBundle = current(stack, cert.arn).bundle;
    expect(firstBundle.acme_directory_url).toBe(stack.ca.directoryUrl);
    expect(firstBundle.acme_account_url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-account\/\w+$/);
    const firstCert = stack.ari.certificateOf(firstBundle.certificate);
    expect(firstCert?.account).toBe(firstBundle.acme_account_url);
    expect(stack.ari.orders.at(-1)?.replaces).toBeUndefined();

    const renewal = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    expect(renewal.lastError).toBeUndefined();
    expect(stack.ari.orders.at(-1)?.replaces).toBe(firstCert?.certId);
    expect(stack.ari.issued.get(firstCert?.certId ?? '')?.replacedBy).toBe(stack.ari.orders.at(-1)?.url);
    expect(current(stack, cert.arn).bundle.serial).not.toBe(firstBundle.serial);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('the retry of a rotation killed after its replacement was finalized gets a plain order, and says why', async () => {
    const cert = await certificate(stack, 'ari-retry');
    expect((await rotate({ client: stack.sm, lambda, secretId: cert.arn })).lastError).toBeUndefined();
    const replaced = stack.ari.certificateOf(current(stack, cert.arn).bundle.certificate);
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    // Killed once the certificate is downloaded: the order that replaces it is finalized already.
    const remove = stack.ca.addFault({
      operation: 'certificate',
      action: { type: 'applyThenHang' },
      onHit: () => lambda.kill(),
    });
    const killed = await rotate({ client: stack.sm, lambda, secretId: cert.arn });
    remove();
    expect(killed.succeeded).toBe(false);
    expect(replaced?.replacedBy).toBeDefined();
    const ordersBefore = stack.ari.orders.length;

    const retry = await retryRotation({ client: stack.sm, lambda, secretId: cert.arn, token: killed.token });
    expect(retry.lastError).toBeUndefined();
    expect(retry.succeeded).toBe(true);
    // One refused attempt with replaces (409 alreadyReplaced, never recorded as an order), then a plain one.
    expect(stack.ari.orders.slice(ordersBefore).map((o) => o.replaces)).toEqual([undefined]);
    const refusedCall = stack.ca.calls.filter((c) => c.operation === 'newOrder' && c.status === 409);
    expect(refusedCall.length).toBeGreaterThanOrEqual(1);
    const warning = lambda.logs.find((l) => l.includes('the CA refused the order as a renewal (replaces)'));
    expect(warning).toMatch(/already replaced \(a retry of a half-finished rotation/);
    expect(warning).toMatch(/alreadyReplaced \(HTTP 409\)/);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [cert.zoneId] });
  });

  it('another account renews without replaces (the CA would refuse it)', async () => {
    const cert = await certificate(stack, 'ari-other');
    expect((await rotate({ client: stack.sm, lambda, secretId: cert.arn })).lastError).toBeUndefined();
    // No ACME_ACCOUNT_SECRET_ID: a new account for this rotation.
    const fresh = stack.newLambda();
    const run = await rotate({ client: stack.sm, lambda: fresh, secretId: cert.arn });
    expect(run.lastError).toBeUndefined();
    expect(stack.ari.orders.at(-1)?.replaces).toBeUndefined();
    expect(stack.ca.calls.filter((c) => c.operation === 'newOrder' && (c.status ?? 0) >= 400)).toHaveLength(1); // the 409 above
    expect(fresh.logs.some((l) => l.includes('renewing without replaces'))).toBe(true);
  });

  it('a profile the CA lists is ordered; one it does not list fails before DNS, naming tag, profile and offer', async () => {
    const listed = await certificate(stack, 'ari-profile', { profile: 'tlsserver' });
    expect((await rotate({ client: stack.sm, lambda, secretId: listed.arn })).lastError).toBeUndefined();
    expect(stack.ari.orders.at(-1)?.profile).toBe('tlsserver');

    const unlisted = await certificate(stack, 'ari-noprofile', { profile: 'shortlived' });
    const before = snapshotSecret(stack, unlisted.arn, unlisted.domains);
    const orders = stack.ari.orders.length;
    const run = await rotate({ client: stack.sm, lambda, secretId: unlisted.arn });
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    expect(run.lastError?.message).toContain(
      'tag acme:profile names profile "shortlived", which the CA does not offer; it offers "classic", "tlsserver"',
    );
    expect(stack.ari.orders.length).toBe(orders);
    expect(changeBatches(stack.aws.calls, unlisted.zoneId)).toEqual([]);
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [unlisted.zoneId] });
  });
});
