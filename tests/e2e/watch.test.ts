/**
 * End-to-end: the renewal watch (dist/watch/index.mjs) against the ARI-capable CA in front of
 * Pebble (tests/local/ari-ca.ts), with Secrets Manager's part played by the rotation service
 * (a RotateSecret runs the four steps with the rotation bundle, as Secrets Manager invokes it):
 * (a) a future window: nothing is renewed, and the CA is asked again only after its Retry-After;
 * (b) a window moved into the past (a revocation drill): one run renews, the order names the old
 *     certificate in `replaces`, and the next run does nothing;
 * (c) a window starting soon: not renewed while the moment chosen in it lies beyond the next run,
 *     renewed by the last run before it (RFC 9773 §4.2);
 * (d) renewalInfo failing for one certificate: no renewal for it, an error in the summary, and
 *     another certificate's due renewal goes ahead in the same run;
 * (e) a failed rotation left behind (AWSPENDING older than the rotation's timeout): the watch takes
 *     the label off, through the SDK and Secrets Manager's own rules, and the renewal goes ahead.
 */
import { RENEWAL_TAG } from '../../rotation/certificate/tags.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { revocationDrill } from '../local/revocation-drill.js';
import { serveRotations } from '../local/rotation-service.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { parseStoredBundle, ROUTE53_CHANGE_DELAY_MS, uniqueSecretName, uniqueZoneName } from './helpers.js';
import { expectInvariants, snapshotSecret } from './invariants.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const WATCH_BUNDLE = fileURLToPath(new URL('../../dist/watch/index.mjs', import.meta.url));
const INTERVAL_SECONDS = 60;

interface Summary {
  checked: number;
  due: number;
  started: number;
  deferred: number;
  skipped: number;
  atRisk: number;
  ariErrors: number;
}

describe('the renewal watch, with ACME Renewal Information', () => {
  let stack: LocalStack & Required<Pick<LocalStack, 'ari' | 'ca'>>;
  let rotation: LocalLambda;
  let watch: LocalLambda;
  let accountArn: string;

  beforeAll(async () => {
    if (!existsSync(WATCH_BUNDLE)) throw new Error(`${WATCH_BUNDLE} is missing: run \`npm run build\` first`);
    stack = await startLocalStack({
      route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS,
      ari: { retryAfterSeconds: 21_600 },
    });
    accountArn = (await stack.createEmptySecret(uniqueSecretName('watch-account'))).arn;
    rotation = stack.newLambda({ ACME_ACCOUNT_SECRET_ID: accountArn });
    // Runs a minute apart, as far as RFC 9773 §4.2's "before the next run" is concerned.
    watch = stack.newLambda(
      { WATCH_INTERVAL_SECONDS: String(INTERVAL_SECONDS) },
      { bundlePath: WATCH_BUNDLE, functionName: 'acme-rotation-watch', timeoutMs: 120_000 },
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A certificate secret with its first certificate issued (through the driver, as `pulumi up` does). */
  async function issued(prefix: string) {
    const zoneName = uniqueZoneName(prefix);
    const zone = stack.aws.route53.createZone(zoneName);
    const domains = [zoneName, `*.${zoneName}`];
    const secret = await stack.createCertificateSecret(uniqueSecretName(prefix), { domains }, { placeholder: '{}' });
    const run = await rotate({ client: stack.sm, lambda: rotation, secretId: secret.arn });
    if (!run.succeeded) throw new Error(`first issuance failed: ${JSON.stringify(run.lastError)}`);
    const leaf = parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')).bundle.certificate;
    const cert = stack.ari.certificateOf(leaf);
    if (!cert) throw new Error('the ARI CA did not see the certificate');
    return { ...secret, domains, zoneId: zone.id, certId: cert.certId };
  }

  /** One watch run with the rotation service answering RotateSecret; waits for the rotations it started. */
  async function runWatch(): Promise<{ summary: Summary; lines: Record<string, unknown>[] }> {
    const service = serveRotations(stack, { env: { ACME_ACCOUNT_SECRET_ID: accountArn } });
    const from = watch.logs.length;
    try {
      const result = await watch.invoke({});
      if (!result.ok) throw new Error(`the watch failed: ${result.error.name}: ${result.error.message}`);
      const runs = await service.settled();
      for (const run of runs) expect(run.lastError, 'a rotation the watch started').toBeUndefined();
      const lines = watch.logs.slice(from).flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
      return { summary: result.result as Summary, lines };
    } finally {
      service.detach();
    }
  }

  const tagsOf = (arn: string): Record<string, string> => Object.fromEntries(stack.aws.secrets.get(arn)?.tags ?? []);
  const lineFor = (lines: Record<string, unknown>[], name: string) =>
    lines.find((l) => l.message === 'certificate' && l.secretName === name);

  it('(a) a future window: no renewal, the state in tags, and no second ask before Retry-After', async () => {
    const cert = await issued('watch-future');
    const before = stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT');
    const { summary, lines } = await runWatch();
    expect(summary.started).toBe(0);
    expect(stack.ari.renewalInfoAsked.filter((id) => id === cert.certId)).toHaveLength(1);
    const tags = tagsOf(cert.arn);
    const window = stack.ari.issued.get(cert.certId)?.window;
    expect(tags['acme-rotation:renewal-cert']).toBe(cert.certId);
    expect(tags['acme-rotation:renewal-window']).toBe(`${window?.start.toISOString()}/${window?.end.toISOString()}`);
    const at = Date.parse(tags['acme-rotation:renewal-at'] ?? '');
    expect(at).toBeGreaterThanOrEqual(window?.start.getTime() ?? NaN);
    expect(at).toBeLessThanOrEqual(window?.end.getTime() ?? NaN);
    // Retry-After 21600 s: the next ask is 6 h away.
    const checkAfter = Date.parse(tags[RENEWAL_TAG.checkAfter] ?? '');
    expect(checkAfter - Date.now()).toBeGreaterThan(5.9 * 3_600_000);
    // The front's default window starts at 2/3 of the lifetime, where the lifetime backstop lies: the
    // moment chosen in it is later, so the backstop (always in force) sets the renewal at its start.
    expect(lineFor(lines, cert.name)).toMatchObject({ status: 'ok', basis: 'lifetime-backstop' });

    await runWatch();
    expect(stack.ari.renewalInfoAsked.filter((id) => id === cert.certId)).toHaveLength(1);
    expect(tagsOf(cert.arn)['acme-rotation:renewal-at']).toBe(tags['acme-rotation:renewal-at']);
    expect(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT')).toBe(before);
  });

  it('(b) a revocation drill: one run renews with replaces, the next does nothing', async () => {
    const cert = await issued('watch-drill');
    await runWatch(); // the state for the certificate: a future window
    const before = snapshotSecret(stack, cert.arn, cert.domains);
    await revocationDrill(stack, [{ secretArn: cert.arn, certId: cert.certId }]);
    const orders = stack.ari.orders.length;
    const { summary, lines } = await runWatch();
    expect(summary.started).toBe(1);
    expect(lineFor(lines, cert.name)).toMatchObject({ status: 'started', basis: 'ari-window-passed' });
    expect(stack.ari.orders.slice(orders).map((o) => o.replaces)).toEqual([cert.certId]);
    const renewed = parseStoredBundle(stack.aws.secrets.valueAt(cert.arn, 'AWSCURRENT'));
    const newCert = stack.ari.certificateOf(renewed.bundle.certificate);
    expect(newCert?.certId).not.toBe(cert.certId);
    expect(stack.ari.issued.get(cert.certId)?.replacedBy).toBeDefined();
    expectInvariants(stack, { secrets: [before], lambdas: [rotation], finished: true, zoneIds: [cert.zoneId] });

    const next = await runWatch();
    expect(next.summary.started).toBe(0);
    expect(lineFor(next.lines, cert.name)).toMatchObject({ status: 'ok', basis: 'lifetime-backstop' });
    expect(tagsOf(cert.arn)['acme-rotation:renewal-cert']).toBe(newCert?.certId);
  });

  it('(c) a window starting soon: not renewed while the moment lies beyond the next run, then renewed before it', async () => {
    const cert = await issued('watch-moment');
    const start = Date.now() + INTERVAL_SECONDS * 1000 + 6_000;
    stack.ari.setWindow(cert.certId, new Date(start), new Date(start + 6_000));
    const first = await runWatch();
    expect(first.summary.started).toBe(0);
    const at = Date.parse(tagsOf(cert.arn)['acme-rotation:renewal-at'] ?? '');
    expect(at).toBeGreaterThanOrEqual(start);
    expect(at).toBeLessThanOrEqual(start + 6_000);
    // The last run before the moment (it falls before the next one): renewed now, not later.
    await new Promise((r) => setTimeout(r, Math.max(0, at - INTERVAL_SECONDS * 1000 - Date.now() + 500)));
    const due = await runWatch();
    expect(due.summary.started).toBe(1);
    expect(Date.now()).toBeLessThan(at);
    expect(stack.ari.orders.at(-1)?.replaces).toBe(cert.certId);
    expect(stack.ari.renewalInfoAsked.filter((id) => id === cert.certId)).toHaveLength(1);
  });

  it('(d) renewalInfo failing for one certificate: no renewal for it, an error reported, the others go on', async () => {
    const broken = await issued('watch-broken');
    const revoked = await issued('watch-revoked');
    stack.ari.windowInThePast(broken.certId);
    stack.ari.windowInThePast(revoked.certId);
    const remove = stack.ca.addFault({
      operation: 'renewalInfo',
      match: (req) => req.path.includes(broken.certId),
      times: Infinity,
      action: {
        type: 'problem',
        problem: { status: 503, type: 'urn:ietf:params:acme:error:serverInternal', detail: 'ARI is down' },
      },
    });
    try {
      const orders = stack.ari.orders.length;
      const before = stack.aws.secrets.valueAt(broken.arn, 'AWSCURRENT');
      const { summary, lines } = await runWatch();
      expect(summary.ariErrors).toBeGreaterThanOrEqual(1);
      expect(lineFor(lines, broken.name)).toMatchObject({ status: 'ari-error' });
      expect(String(lineFor(lines, broken.name)?.ariError)).toMatch(/answered HTTP 503: ARI is down/);
      expect(tagsOf(broken.arn)['acme-rotation:renewal-error']).toMatch(/HTTP 503/);
      // The failing CA answer never starts a renewal by itself; the other certificate is renewed.
      expect(stack.aws.secrets.valueAt(broken.arn, 'AWSCURRENT')).toBe(before);
      expect(lineFor(lines, revoked.name)).toMatchObject({ status: 'started' });
      expect(stack.ari.orders.slice(orders).map((o) => o.replaces)).toEqual([revoked.certId]);
    } finally {
      remove();
    }
    // Garbage in place of a RenewalInfo object: reported the same way.
    const garbled = await issued('watch-garbage');
    stack.ari.garbage = true;
    try {
      const { lines } = await runWatch();
      expect(String(lineFor(lines, garbled.name)?.ariError)).toMatch(/not JSON/);
      expect(lineFor(lines, garbled.name)?.status).toBe('ari-error');
    } finally {
      stack.ari.garbage = false;
    }
  });

  it('(e) a failed rotation left behind is cleared (AWSPENDING only) and the renewal goes ahead', async () => {
    const cert = await issued('watch-stuck');
    await runWatch(); // its state: a future window
    const current = Object.entries(stack.aws.secrets.stagesOf(cert.arn)).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    // What a rotation killed in createSecret an hour ago leaves: the value-less AWSPENDING stub.
    const record = stack.aws.secrets.get(cert.arn);
    const stuck = 'f0f0f0f0-0000-4000-8000-00000000dead';
    record?.versions.set(stuck, { id: stuck, stages: new Set(['AWSPENDING']), createdAt: Date.now() - 3_600_000 });
    await revocationDrill(stack, [{ secretArn: cert.arn, certId: cert.certId }]);
    const { summary, lines } = await runWatch();
    expect(summary).toMatchObject({ failedRotations: 1, failedRotationsCleared: 1, started: 1 });
    expect(lineFor(lines, cert.name)).toMatchObject({
      status: 'started',
      failedRotation: { versionId: stuck, cleared: true },
    });
    const stages = stack.aws.secrets.stagesOf(cert.arn);
    expect(stages[stuck]).toBeUndefined(); // no label left on the failed rotation's version
    expect(stages[current ?? '']).toEqual(['AWSPREVIOUS']);
    expect(stack.ari.orders.at(-1)?.replaces).toBe(cert.certId);
  });
});
