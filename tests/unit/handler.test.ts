import { INFLIGHT_TAG } from '../../rotation/certificate/tags.js';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PublishCommand } from '@aws-sdk/client-sns';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { CertificateBundle } from '../../rotation/certificate/bundle.js';
import {
  AcmeError,
  DnsError,
  RotationError,
  RotationStateError,
  VerificationError,
  formatMessage,
} from '../../rotation/lib/errors.js';
import { STEPS } from '../../rotation/function/handler.js';
import { inflightTags, readInflight } from '../../rotation/dns01/inflight.js';
import {
  BUS_NAME,
  EVENT_SOURCE,
  NOW,
  OLD,
  SECRET_ARN,
  SECRET_NAME,
  TOKEN,
  TOPIC_ARN,
  UNAUTHORIZED,
  bundleFor,
  makeWorld,
  testIssuer,
  type World,
} from './fakes.js';
import { PKCS8_KEY_HEADER, PKCS8_KEY_START } from '../helpers/pem-markers.js';

/**
 * What the handler sends before a step runs: the read-ahead of the token's version (and, for
 * createSecret and finishSecret, of AWSCURRENT), then DescribeSecret.
 */
const readAhead = (step: string): string[] => [
  ...(step === 'setSecret' ? [] : ['GetSecretValueCommand']),
  ...(step === 'createSecret' || step === 'finishSecret' ? ['GetSecretValueCommand'] : []),
  'DescribeSecretCommand',
];
const READ_AHEAD = readAhead('createSecret');

/** Versions another application stores (version ids are ClientRequestTokens: 32–64 characters). */
const OTHER_WRITER = '22222222-3333-4444-8555-666666666666';
const PLACEHOLDER = '33333333-4444-4555-8666-777777777777';

/** The rejection of `p` (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

/** The SNS message (= EventBridge detail) of the n-th notice, parsed. */
/** The in-flight tags on the secret (`acme-rotation:inflight` and `acme-rotation:inflight:<n>`). */
function inflightTagKeys(w: World): string[] {
  return Object.keys(w.sm.tags(SECRET_ARN)).filter((k) => k === INFLIGHT_TAG || k.startsWith(`${INFLIGHT_TAG}:`));
}

function notice(w: World, n = 0): Record<string, unknown> {
  const msg = w.sns.publishes()[n]?.Message;
  expect(msg).toBeTypeOf('string');
  return JSON.parse(msg as string) as Record<string, unknown>;
}

/** A world in the state createSecret leaves: OLD current, TOKEN pending with a new bundle. */
function pendingWorld(domains = ['example.com', '*.example.com']): { w: World; next: CertificateBundle } {
  const next = bundleFor(domains);
  const w = makeWorld({
    domains,
    versions: {
      [OLD]: { value: JSON.stringify(bundleFor(domains)), stages: ['AWSCURRENT'] },
      [TOKEN]: { value: JSON.stringify(next), stages: ['AWSPENDING'] },
    },
  });
  return { w, next };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('standard checks', () => {
  it('refuses a secret whose rotation is disabled, after DescribeSecret only', async () => {
    const w = makeWorld({ rotationEnabled: false });
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBeInstanceOf(RotationStateError);
    expect(err.message).toMatch(
      new RegExp(
        `^secret "${SECRET_NAME}" createSecret: rotation is not enabled on this secret .*; to rotate, ` +
          `aws secretsmanager update-secret-version-stage --secret-id ${SECRET_NAME} --version-stage AWSPENDING ` +
          `--remove-from-version-id ${TOKEN} and then aws secretsmanager rotate-secret --secret-id ${SECRET_NAME} `,
      ),
    );
    // The read-ahead of the token's version (beside DescribeSecret), and nothing else.
    expect(w.sm.commandNames()).toEqual(READ_AHEAD);
    expect(w.contexts).toHaveLength(0);
    expect(w.caRequests()).toBe(0);
    expect(w.dns.presentCalls).toHaveLength(0);
  });

  it('refuses a token that has no stage on the secret', async () => {
    const w = makeWorld();
    const err = await rejection(w.invoke('createSecret', 'ffffffff-0000-4000-8000-000000000000'));
    expect(err).toBeInstanceOf(RotationStateError);
    expect(err.message).toContain(
      `secret "${SECRET_NAME}" createSecret: version ffffffff-0000-4000-8000-000000000000 (the event's ClientRequestToken) ` +
        `has no staging label on this secret (an unknown version, or an old one whose labels are gone); ` +
        `the rotation in progress is version ${TOKEN} (AWSPENDING)`,
    );
    expect(w.sm.commandNames()).toEqual(READ_AHEAD);
    expect(w.caRequests()).toBe(0);
  });

  it('refuses a token that is neither AWSCURRENT nor AWSPENDING', async () => {
    const w = makeWorld({
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSPREVIOUS'] },
      },
    });
    for (const step of STEPS) {
      const err = await rejection(w.invoke(step));
      expect(err).toBeInstanceOf(RotationStateError);
      expect(err.message).toContain(
        `secret "${SECRET_NAME}" ${step}: version ${TOKEN} (the event's ClientRequestToken) is AWSPREVIOUS, not AWSPENDING, ` +
          `so it is not the rotation in progress; no rotation is in progress; start one with ` +
          `aws secretsmanager rotate-secret --secret-id ${SECRET_NAME}`,
      );
    }
    expect(new Set(w.sm.commandNames())).toEqual(new Set(['GetSecretValueCommand', 'DescribeSecretCommand']));
    expect(w.caRequests()).toBe(0);
  });

  it.each(STEPS)('%s does nothing when the token is already AWSCURRENT', async (step) => {
    const w = makeWorld({
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSPREVIOUS'] },
        [TOKEN]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSCURRENT'] },
      },
    });
    await w.invoke(step);
    expect(w.sm.commandNames()).toEqual(readAhead(step));
    expect(w.contexts).toHaveLength(0);
    expect(w.sns.publishes()).toHaveLength(0);
    expect(w.events.puts()).toHaveLength(0);
    expect(w.log.find(`version is already AWSCURRENT; ${step} has nothing to do`)).toBeDefined();
  });

  it("finishSecret finishes the tail of a promotion killed before AWSPENDING was removed ('finish-tail')", async () => {
    const next = bundleFor(['example.com', '*.example.com']);
    const w = makeWorld({
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com', '*.example.com'])), stages: ['AWSPREVIOUS'] },
        [TOKEN]: { value: JSON.stringify(next), stages: ['AWSCURRENT', 'AWSPENDING'] },
      },
    });
    await w.invoke('finishSecret');

    // AWSCURRENT is already on the token: no move, only AWSPENDING comes off it.
    expect(w.sm.stageMoves()).toEqual([
      { SecretId: SECRET_ARN, VersionStage: 'AWSPENDING', RemoveFromVersionId: TOKEN },
    ]);
    expect(w.sm.tagCalls()).toEqual([
      {
        SecretId: SECRET_ARN,
        Tags: [
          { Key: 'ExpirationDate', Value: next.expiry },
          { Key: 'IssuedAt', Value: next.issued_at },
          { Key: 'Domains', Value: 'example.com,*.example.com' },
        ],
      },
    ]);
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    expect(notice(w)).toMatchObject({ status: 'success', version_id: TOKEN, serial: next.serial });
    expect(w.events.puts()[0]?.Entries?.[0]?.DetailType).toBe('Certificate Renewed');
  });

  it('rejects an unknown step without calling anything and reports it', async () => {
    const w = makeWorld();
    const err = await rejection(w.invoke('rotateSecret'));
    expect(err).toBeInstanceOf(RotationError);
    expect((err as RotationError).code).toBe('InvalidEvent');
    expect(err.message).toContain(
      'unknown rotation step "rotateSecret": expected one of createSecret, setSecret, testSecret, finishSecret',
    );
    expect(w.sm.commandNames()).toEqual([]);
    expect(notice(w)).toMatchObject({
      status: 'failed',
      step: 'rotateSecret',
      // Only the event's ARN is known: the name is read from it.
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      error_code: 'InvalidEvent',
      domains: [],
    });
  });

  it('rejects an event without a Step', async () => {
    const w = makeWorld();
    const err = await rejection(w.handler({ SecretId: SECRET_ARN, ClientRequestToken: TOKEN }));
    expect(err.message).toContain('unknown rotation step undefined');
    expect(notice(w)).toMatchObject({ step: 'unknown', error_code: 'InvalidEvent' });
  });

  it('rejects an event without a ClientRequestToken or SecretId', async () => {
    const w = makeWorld();
    const noToken = await rejection(w.handler({ Step: 'createSecret', SecretId: SECRET_ARN }));
    expect(noToken).toBeInstanceOf(RotationError);
    expect(noToken.message).toBe(
      `secret "${SECRET_NAME}" createSecret: the event has no ClientRequestToken (the id of the AWSPENDING version ` +
        'Secrets Manager created); invoke this function only through Secrets Manager rotation (aws secretsmanager rotate-secret)',
    );
    const noId = await rejection(w.handler({ Step: 'createSecret', ClientRequestToken: TOKEN }));
    expect(noId.message).toBe(
      'createSecret: the event has no SecretId; invoke this function only through Secrets Manager rotation (aws secretsmanager rotate-secret)',
    );
    const nothing = await rejection(w.handler(undefined));
    expect(nothing.message).toContain('unknown rotation step');
    expect(w.sm.commandNames()).toEqual([]);
  });

  it('accepts the secret name as SecretId', async () => {
    const { w } = pendingWorld();
    await w.invoke('finishSecret', TOKEN, SECRET_NAME);
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
  });
});

describe('createSecret', () => {
  it('finishes a retry whose AWSPENDING holds a bundle even when AWSCURRENT is not ours any more', async () => {
    const { w } = pendingWorld();
    w.sm.putVersion(SECRET_ARN, OTHER_WRITER, { value: 'someone else wrote this', stages: ['AWSCURRENT'] });
    await w.invoke('createSecret');
    expect(w.log.find('AWSPENDING already holds a certificate bundle; nothing to do')).toBeDefined();
    expect(w.ca.orders).toHaveLength(0);
  });

  it('returns at once when AWSPENDING already holds a bundle (no CA, no DNS, no write)', async () => {
    const { w } = pendingWorld();
    await w.invoke('createSecret');
    expect(w.caRequests()).toBe(0);
    expect(w.ca.orders).toHaveLength(0);
    expect(w.dns.presentCalls).toHaveLength(0);
    expect(w.sm.puts()).toHaveLength(0);
    expect(w.sm.tagCalls()).toHaveLength(0);
    // The pending version and the current value are read ahead (beside DescribeSecret); the
    // current value is not acted on.
    expect(w.sm.gets()).toEqual([
      { SecretId: SECRET_ARN, VersionId: TOKEN, VersionStage: undefined },
      { SecretId: SECRET_ARN, VersionId: undefined, VersionStage: 'AWSCURRENT' },
    ]);
    expect(w.log.find('AWSPENDING already holds a certificate bundle; nothing to do')).toBeDefined();
    expect(w.sns.publishes()).toHaveLength(0);
  });

  it('fails clearly when AWSPENDING holds something that is not a bundle', async () => {
    const w = makeWorld({
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com', '*.example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { value: '{"hello":"world"}', stages: ['AWSPENDING'] },
      },
    });
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBeInstanceOf(RotationStateError);
    expect(err.message).toContain(
      `secret "${SECRET_NAME}" createSecret: version ${TOKEN} (AWSPENDING) already holds a value that is not a certificate bundle`,
    );
    expect(err.message).toContain(
      `aws secretsmanager cancel-rotate-secret --secret-id ${SECRET_NAME}, then aws secretsmanager update-secret-version-stage ` +
        `--secret-id ${SECRET_NAME} --version-stage AWSPENDING --remove-from-version-id ${TOKEN}, then aws secretsmanager rotate-secret`,
    );
    expect(w.caRequests()).toBe(0);
    expect(w.sm.puts()).toHaveLength(0);
  });

  it('issues the certificate and stores the whole bundle once as AWSPENDING', async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com'] });
    const oldValue = w.sm.value(SECRET_ARN, OLD);
    await w.invoke('createSecret');

    const puts = w.sm.puts();
    expect(puts).toHaveLength(1);
    const put = puts[0]!;
    expect(put).toMatchObject({ SecretId: SECRET_ARN, ClientRequestToken: TOKEN, VersionStages: ['AWSPENDING'] });

    const bundle = JSON.parse(put.SecretString as string) as CertificateBundle;
    const leaf = new X509Certificate(w.ca.issuedLeafPem as string);
    expect(bundle.certificate).toBe(w.ca.issuedLeafPem);
    expect(bundle.chain).toBe(testIssuer().intermediate.certPem);
    expect(bundle.fullchain).toBe(w.ca.issuedPem);
    expect(bundle.serial).toBe(leaf.serialNumber.toUpperCase());
    expect(bundle.fingerprint_sha256).toBe(leaf.fingerprint256.replace(/:/g, ''));
    expect(bundle.expiry).toBe(new Date(leaf.validTo).toISOString());
    expect(bundle.not_before).toBe(new Date(leaf.validFrom).toISOString());
    expect(bundle.issuer).toBe('O=acme-rotation tests, CN=Fake ACME Intermediate');
    expect(bundle.domains).toEqual(['example.com', '*.example.com']);
    expect(bundle.key_type).toBe('ecdsa-p256');
    expect(bundle.issued_at).toBe(NOW.toISOString());
    expect(bundle.private_key).toMatch(PKCS8_KEY_START);
    expect(leaf.checkPrivateKey(createPrivateKey(bundle.private_key))).toBe(true);
    expect(w.ca.orders).toEqual([{ domains: ['example.com', '*.example.com'], profile: undefined }]);

    // AWSCURRENT untouched; the token now holds the bundle.
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
    expect(w.sm.value(SECRET_ARN, OLD)).toBe(oldValue);
    expect(w.sm.value(SECRET_ARN, TOKEN)).toBe(put.SecretString);
    // TXT values gone, in-flight record gone, no notice from createSecret.
    expect(w.dns.live.size).toBe(0);
    expect(inflightTagKeys(w)).toEqual([]);
    expect(w.sns.publishes()).toHaveLength(0);
    expect(w.log.raw.join('\n')).not.toContain(PKCS8_KEY_HEADER);
  });

  it('honours the key type and profile of the spec', async () => {
    const w = makeWorld({ domains: ['example.com'], keyType: 'ecdsa-p384', tags: { 'acme:profile': 'tlsserver' } });
    await w.invoke('createSecret');
    const bundle = JSON.parse(w.sm.puts()[0]!.SecretString as string) as CertificateBundle;
    expect(bundle.key_type).toBe('ecdsa-p384');
    expect(createPrivateKey(bundle.private_key).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(w.ca.orders).toEqual([{ domains: ['example.com'], profile: 'tlsserver' }]);
  });

  it('records the TXT values in flight before touching DNS and forgets them after clean-up', async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com', 'www.example.com'] });
    await w.invoke('createSecret');

    const presented = w.dns.presentCalls;
    expect(presented).toHaveLength(1);
    const records = presented[0]!;
    expect(records.map((r) => r.domain)).toEqual(['example.com', 'example.com', 'www.example.com']);

    const tagCalls = w.sm.tagCalls();
    expect(tagCalls).toHaveLength(1);
    const tagged = tagCalls[0]!;
    expect(tagged.SecretId).toBe(SECRET_ARN);
    expect(tagged.Tags?.[0]).toEqual({ Key: INFLIGHT_TAG, Value: TOKEN });
    const inflight = readInflight(tagged.Tags ?? []);
    expect(inflight.token).toBe(TOKEN);
    expect(inflight.values).toEqual(records.map((r) => r.value));

    const untagged = w.sm.untagCalls();
    expect(untagged).toHaveLength(1);
    expect(untagged[0]!.SecretId).toBe(SECRET_ARN);
    expect(untagged[0]!.TagKeys).toEqual(expect.arrayContaining(inflight.tagKeys));
    expect(w.dns.cleanUpCalls).toEqual([records]);

    const t = w.timeline;
    const tagAt = t.first(new RegExp(`^sm:TagResource\\[${INFLIGHT_TAG},`));
    expect(tagAt).toBeGreaterThanOrEqual(0);
    expect(tagAt).toBeLessThan(t.first('dns:present'));
    expect(t.first('dns:present')).toBeLessThan(t.first('dns:propagation'));
    expect(t.first('dns:propagation')).toBeLessThan(t.first(/^ca:respondChallenge:/));
    expect(t.last(/^ca:respondChallenge:/)).toBeLessThan(t.first('dns:cleanUp'));
    expect(t.first('dns:cleanUp')).toBeLessThan(t.first(/^sm:UntagResource\[/));
    expect(t.first(/^sm:UntagResource\[/)).toBeLessThan(t.first('sm:PutSecretValue'));
    expect(w.sm.tags(SECRET_ARN)).toEqual({ 'acme:domains': 'example.com,*.example.com,www.example.com' });
  });

  it('bounds the DNS work by DNS_PROPAGATION_TIMEOUT_SECONDS', async () => {
    const w = makeWorld({ domains: ['example.com'], config: { dnsPropagationTimeoutMs: 42_000 } });
    await w.invoke('createSecret');
    const remaining = w.dns.deadlines[0]!.remainingMs();
    expect(remaining).toBeLessThanOrEqual(42_000);
    expect(remaining).toBeGreaterThan(40_000);
  });

  it('gives the CA its own time budget even when DNS propagation was slow', async () => {
    // ACME_TIMEOUT_SECONDS (180 s) bounds the CA's validation and issuance. A propagation that
    // took 200 s of a 300 s DNS budget must not leave the CA with no time at all.
    vi.useFakeTimers({ toFake: ['Date'] });
    const w = makeWorld({ domains: ['example.com'] });
    w.onPropagation = () => {
      vi.setSystemTime(Date.now() + 200_000);
    };
    await w.invoke('createSecret');
    expect(w.sm.puts()).toHaveLength(1);
  });

  it('fits a 100-name certificate within the 50 tags a secret may have', async () => {
    // The spec needs continuation tags for 100 names; the in-flight record must still fit next to
    // them, the status tags of the previous rotation and a few tags of the owner's.
    const domains = Array.from(
      { length: 100 },
      (_, i) => `host-${String(i).padStart(2, '0')}.eu-west-1.service.example.com`,
    );
    const w = makeWorld({
      domains,
      tags: {
        ExpirationDate: '2026-04-01T00:00:00.000Z',
        IssuedAt: '2026-01-01T00:00:00.000Z',
        Domains: 'host-00.eu-west-1.service.example.com,...',
        Name: 'certificate',
        Team: 'platform',
        Environment: 'prod',
      },
    });
    await w.invoke('createSecret');
    expect(w.sm.puts()).toHaveLength(1);
    expect(w.dns.presentCalls[0]).toHaveLength(100);
  });

  it("removes a killed attempt's TXT values and in-flight tags before ordering", async () => {
    const killedToken = '99999999-8888-4777-8666-555555555555';
    const value = (n: number): string => createHash('sha256').update(`killed attempt ${n}`).digest('base64url');
    const leftovers = [
      { domain: 'example.com', value: value(1) },
      { domain: 'example.com', value: value(2) },
      { domain: 'www.example.com', value: value(3) },
    ];
    const killed = inflightTags(killedToken, leftovers);
    const w = makeWorld({ domains: ['example.com', '*.example.com', 'www.example.com'], tags: killed });
    for (const r of leftovers) w.dns.live.add(`${r.domain} ${r.value}`);
    w.dns.live.add('example.com someone-elses-value'); // not ours: must survive

    await w.invoke('createSecret');

    // The first clean-up (before the new order) covers every leftover, and nothing but our values.
    const t = w.timeline;
    expect(t.first('dns:cleanUp')).toBeLessThan(t.first('ca:newOrder'));
    const first = w.dns.cleanUpCalls[0]!;
    expect(first).toEqual(expect.arrayContaining(leftovers));
    for (const r of first) {
      expect(leftovers.map((l) => l.value)).toContain(r.value);
      expect(['example.com', 'www.example.com']).toContain(r.domain);
    }
    for (const r of leftovers) expect(w.dns.has(r.domain, r.value)).toBe(false);
    expect(w.dns.has('example.com', 'someone-elses-value')).toBe(true);

    const firstUntag = w.sm.untagCalls()[0]!;
    expect(firstUntag.SecretId).toBe(SECRET_ARN);
    expect([...(firstUntag.TagKeys ?? [])].sort()).toEqual(Object.keys(killed).sort());
    expect(t.first(/^sm:UntagResource\[/)).toBeLessThan(t.first('ca:newOrder'));
    expect(t.first(/^sm:UntagResource\[/)).toBeLessThan(t.first(/^sm:TagResource\[/));

    expect(w.log.find(/interrupted attempt/)).toMatchObject({ level: 'warn', inflightToken: killedToken });
    // The new attempt then ran normally.
    expect(w.sm.puts()).toHaveLength(1);
    expect(inflightTagKeys(w)).toEqual([]);
  });

  it("surfaces the CA's validation error and still removes the TXT values", async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com'] });
    w.ca.failValidation.set('*.example.com', 'Incorrect TXT record "abc" found at _acme-challenge.example.com');
    const err = await rejection(w.invoke('createSecret'));

    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('ChallengeFailed');
    expect(err.message).toBe(
      `secret "${SECRET_NAME}" createSecret: the CA could not validate example.com: ${UNAUTHORIZED}: Incorrect TXT record "abc" found at _acme-challenge.example.com`,
    );
    expect(w.dns.cleanUpCalls).toEqual(w.dns.presentCalls);
    expect(w.dns.live.size).toBe(0);
    expect(inflightTagKeys(w)).toEqual([]);
    expect(w.sm.puts()).toHaveLength(0);
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
    expect(notice(w)).toMatchObject({ status: 'failed', step: 'createSecret', error_code: 'ChallengeFailed' });
    // Its last failure stays on the secret, quotes (which no tag value may hold) turned into spaces.
    expect(w.sm.tags(SECRET_ARN)['acme-rotation:inflight-failure']).toBe(
      `2026-03-01T12:00:00.000Z createSecret: the CA could not validate example.com: ${UNAUTHORIZED}: ` +
        'Incorrect TXT record abc found at _acme-challenge.example.com',
    );
  });

  it('keeps the original error when clean-up fails, logs the clean-up failure, and the retry cleans up', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.ca.failValidation.set('example.com', 'DNS problem: NXDOMAIN looking up TXT for _acme-challenge.example.com');
    w.dns.cleanUpError = new Error('Route 53 said no (Throttling)');
    const err = await rejection(w.invoke('createSecret'));

    expect((err as AcmeError).code).toBe('ChallengeFailed');
    expect(err.message).toContain('NXDOMAIN');
    const line = w.log.find('could not remove our TXT records; the next rotation will retry the clean-up');
    expect(line).toMatchObject({ level: 'error', error: 'Route 53 said no (Throttling)' });
    expect(line?.originalError).toContain('the CA could not validate example.com');
    // The in-flight tags stay, so the next attempt knows what to remove.
    const placed = w.dns.presentCalls[0]!;
    expect(readInflight(Object.entries(w.sm.tags(SECRET_ARN)).map(([Key, Value]) => ({ Key, Value })))).toMatchObject({
      token: TOKEN,
      values: placed.map((r) => r.value),
    });
    expect(notice(w)).toMatchObject({ status: 'failed', error: err.message });

    // Secrets Manager retries the step: the leftovers are removed first, then a new order succeeds.
    w.dns.cleanUpError = undefined;
    w.ca.failValidation.clear();
    await w.invoke('createSecret');
    expect(w.dns.cleanUpCalls[1]).toEqual(expect.arrayContaining(placed));
    const cleanUps = w.timeline.events.flatMap((e, i) => (e === 'dns:cleanUp' ? [i] : []));
    expect(cleanUps[1]).toBeLessThan(w.timeline.last('ca:newOrder'));
    expect(w.dns.live.size).toBe(0);
    expect(w.sm.puts()).toHaveLength(1);
    expect(inflightTagKeys(w)).toEqual([]);
  });

  it('does not answer or publish reused (already valid) authorizations', async () => {
    const w = makeWorld({ domains: ['example.com', 'www.example.com'] });
    w.ca.reused.add('example.com');
    await w.invoke('createSecret');
    expect(w.ca.answered).toEqual(['www.example.com']);
    expect(w.dns.presentCalls).toHaveLength(1);
    expect(w.dns.presentCalls[0]!.map((r) => r.domain)).toEqual(['www.example.com']);
    expect(w.log.find('authorizations')).toMatchObject({ total: 2, reused: 1, toValidate: 1 });
    const bundle = JSON.parse(w.sm.puts()[0]!.SecretString as string) as CertificateBundle;
    expect(bundle.domains).toEqual(['example.com', 'www.example.com']);
  });

  it('touches neither DNS nor the in-flight tags when every authorization is reused', async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com'] });
    w.ca.reused.add('example.com');
    w.ca.reused.add('*.example.com');
    await w.invoke('createSecret');
    expect(w.ca.answered).toEqual([]);
    expect(w.dns.presentCalls).toEqual([]);
    expect(w.dns.cleanUpCalls).toEqual([]);
    expect(w.sm.tagCalls()).toEqual([]);
    expect(w.sm.puts()).toHaveLength(1);
  });

  it('wraps a failed PutSecretValue in a state error naming the secret', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.sm.before = (op) => {
      if (op === 'PutSecretValue')
        throw Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' });
    };
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBeInstanceOf(RotationStateError);
    expect(err.message).toContain(
      `secret "${SECRET_NAME}" createSecret: could not store the new certificate as AWSPENDING`,
    );
    expect(err.message).toContain('AccessDeniedException');
    expect(w.dns.live.size).toBe(0);
  });
});

describe('createSecret: what AWSCURRENT holds', () => {
  const PASSWORD = 'hunter2-do-not-echo';

  it.each([
    ['text', PASSWORD, 'text that is not JSON (19 characters)'],
    [
      "another application's JSON",
      JSON.stringify({ username: 'app', password: PASSWORD }),
      'a JSON object with the field(s) username, password',
    ],
    ['truncated JSON', `{"password":"${PASSWORD}`, 'JSON that does not parse (32 characters; truncated?)'],
  ])('refuses to replace %s, before any CA or DNS work, without echoing it', async (_label, value, description) => {
    const w = makeWorld({
      domains: ['example.com'],
      versions: { [OLD]: { value, stages: ['AWSCURRENT'] }, [TOKEN]: { stages: ['AWSPENDING'] } },
    });
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBeInstanceOf(RotationError);
    expect((err as RotationError).code).toBe('UnexpectedCurrentValue');
    expect(err.message).toBe(
      `secret "${SECRET_NAME}" createSecret: the current value (AWSCURRENT, version ${OLD}) is not a certificate bundle: ` +
        `it is ${description}. A rotation would replace it, so nothing was ordered or changed. ` +
        `If this secret is meant to hold the certificate, store {} as its value ` +
        `(aws secretsmanager put-secret-value --secret-id ${SECRET_NAME} --secret-string '{}'); ` +
        'the next attempt of this rotation then issues the certificate. ' +
        'If the value belongs to another application, take the acme:* tags and the rotation off this secret',
    );
    expect(w.caRequests()).toBe(0);
    expect(w.dns.zoneChecks).toEqual([]);
    expect(w.sm.puts()).toHaveLength(0);
    // The one tag written is the failure's record, which quotes the value no more than the notice does.
    expect(w.sm.tagCalls().flatMap((c) => (c.Tags ?? []).map((t) => t.Key))).toEqual([
      'acme-rotation:inflight-failure',
    ]);
    expect(w.sm.tags(SECRET_ARN)['acme-rotation:inflight-failure']).toMatch(
      new RegExp(
        `^2026-03-01T12:00:00\\.000Z createSecret: the current value AWSCURRENT version ${OLD} is not a certificate bundle: it is `,
      ),
    );
    expect(notice(w)).toMatchObject({ error_code: 'UnexpectedCurrentValue', domains: ['example.com'] });
    expect(
      [...w.log.raw, ...w.sns.publishes().map((p) => p.Message), ...Object.values(w.sm.tags(SECRET_ARN))].join('\n'),
    ).not.toContain(PASSWORD);
  });

  it('replaces a damaged bundle of ours, warning without quoting it, and sends no replaces', async () => {
    const damaged = {
      ...bundleFor(['example.com']),
      certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    };
    const w = makeWorld({
      domains: ['example.com'],
      versions: {
        [OLD]: { value: JSON.stringify(damaged), stages: ['AWSCURRENT'] },
        [TOKEN]: { stages: ['AWSPENDING'] },
      },
    });
    await w.invoke('createSecret');
    expect(w.sm.puts()).toHaveLength(1);
    expect(w.ca.orders).toEqual([{ domains: ['example.com'], profile: undefined }]);
    expect(w.log.find(/damaged certificate bundle/)).toMatchObject({
      level: 'warn',
      currentVersion: OLD,
      problem: 'its certificate does not parse as X.509',
    });
    expect(w.log.raw.join('\n')).not.toMatch(new RegExp(PKCS8_KEY_HEADER));
  });

  it.each([
    ['no AWSCURRENT version at all', {}],
    ['{}', { [OLD]: { value: '{}', stages: ['AWSCURRENT'] } }],
    ['an empty string', { [OLD]: { value: '', stages: ['AWSCURRENT'] } }],
  ])('issues the first certificate over %s', async (_label, versions) => {
    const w = makeWorld({ domains: ['example.com'], versions: { ...versions, [TOKEN]: { stages: ['AWSPENDING'] } } });
    await w.invoke('createSecret');
    expect(w.sm.puts()).toHaveLength(1);
  });
});

describe('createSecret: zone check before ordering', () => {
  it('finds the zone of every challenge name once, before the order', async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com', 'www.example.com'] });
    await w.invoke('createSecret');
    expect(w.dns.zoneChecks).toEqual([['example.com', 'www.example.com']]);
    expect(w.timeline.first('dns:zoneCheck')).toBeLessThan(w.timeline.first('ca:newOrder'));
  });

  it("starts the CA's reads beside the zone check, and asks for the registered account only after it", async () => {
    const w = makeWorld({ domains: ['example.com'] });
    await w.invoke('createSecret');
    expect(w.timeline.events.filter((e) => e === 'ca:prefetch')).toHaveLength(1);
    expect(w.timeline.first('ca:prefetch')).toBeLessThan(w.timeline.first('dns:zoneCheck'));
    expect(w.timeline.first('dns:zoneCheck')).toBeLessThan(w.timeline.first('ca:client'));
  });

  it('fails without an order when a name has no zone', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.dns.zoneCheckError = new DnsError('NoHostedZone', 'no Route 53 hosted zone for _acme-challenge.example.com');
    const err = await rejection(w.invoke('createSecret'));
    expect((err as DnsError).code).toBe('NoHostedZone');
    expect(err.message).toBe(
      `secret "${SECRET_NAME}" createSecret: no Route 53 hosted zone for _acme-challenge.example.com`,
    );
    expect(w.ca.orders).toEqual([]);
    expect(w.caRequests()).toBe(0);
    expect(w.dns.presentCalls).toEqual([]);
    // No in-flight tags (nothing is in DNS); the one tag written records the failure, with its step.
    expect(w.sm.tagCalls()).toEqual([
      {
        SecretId: SECRET_ARN,
        Tags: [
          {
            Key: 'acme-rotation:inflight-failure',
            Value: '2026-03-01T12:00:00.000Z createSecret: no Route 53 hosted zone for _acme-challenge.example.com',
          },
        ],
      },
    ]);
  });
});

describe("the call counts in 'step succeeded'", () => {
  it.each(STEPS)(
    '%s logs every Secrets Manager call it made, reads started beside DescribeSecret included',
    async (step) => {
      const w = step === 'createSecret' ? makeWorld({ domains: ['example.com'] }) : pendingWorld().w;
      await w.invoke(step);
      const sent: Record<string, number> = {};
      for (const name of w.sm.commandNames()) {
        const op = name.replace(/Command$/, '');
        sent[op] = (sent[op] ?? 0) + 1;
      }
      const line = w.log.find('step succeeded');
      expect(line?.secretsManagerCalls).toEqual(sent);
      expect(sent.DescribeSecret).toBe(1);
    },
  );
});

describe('formatMessage: the secret and the step, named once', () => {
  const context = { secretName: 's', step: 'createSecret' };
  it.each([
    ['a message without the name', 'boom', 'secret "s" createSecret: boom'],
    ["a step's own prefix", 'secret "s": boom', 'secret "s" createSecret: boom'],
    ['a message already named', 'secret "s" createSecret: boom', 'secret "s" createSecret: boom'],
    ['a message naming the secret elsewhere', 'put {} into "s"', 'secret "s" createSecret: put {} into "s"'],
  ])('prefixes %s once', (_label, message, expected) => {
    expect(formatMessage(message, [], context)).toBe(expected);
  });

  it('names the step alone when there is no secret name', () => {
    expect(formatMessage('the event has no SecretId', [], { secretName: '', step: 'testSecret' })).toBe(
      'testSecret: the event has no SecretId',
    );
  });

  it('adds a clause after a semicolon and a sentence after a full stop, after the detail', () => {
    expect(formatMessage('it failed', ['check the tag', 'If it persists, ask'], context)).toBe(
      'secret "s" createSecret: it failed; check the tag. If it persists, ask',
    );
    expect(formatMessage('it failed', ['check the tag'])).toBe('it failed; check the tag');
  });

  it("is the error's message, whenever the context and hints arrive", () => {
    const err = new RotationStateError('secret "s": it failed');
    expect(err.message).toBe('secret "s": it failed');
    err.withHint('retry');
    err.context = context;
    expect(err.message).toBe('secret "s" createSecret: it failed; retry');
    expect(err.detail).toBe('secret "s": it failed');
    expect(err.hints).toEqual(['retry']);
  });
});

describe('setSecret and testSecret', () => {
  it('setSecret has no deployment targets and touches nothing', async () => {
    const { w } = pendingWorld();
    await w.invoke('setSecret');
    expect(w.sm.commandNames()).toEqual(['DescribeSecretCommand']);
    expect(w.log.find('no deployment targets configured')).toBeDefined();
  });

  it('testSecret verifies the pending bundle against the spec', async () => {
    const { w, next } = pendingWorld(['example.com', '*.example.com']);
    await w.invoke('testSecret');
    expect(w.verifyCalls).toHaveLength(1);
    expect(w.verifyCalls[0]!.opts).toEqual({
      expectedDomains: ['example.com', '*.example.com'],
      expectedKeyType: 'ecdsa-p256',
      now: NOW,
    });
    expect(w.verifyCalls[0]!.bundle.serial).toBe(next.serial);
    expect(w.sm.stageMoves()).toEqual([]);
  });

  it('testSecret fails when createSecret left no value', async () => {
    const w = makeWorld();
    const err = await rejection(w.invoke('testSecret'));
    expect(err).toBeInstanceOf(VerificationError);
    expect(err.message).toContain(`version ${TOKEN} (AWSPENDING) has no value; createSecret did not complete`);
  });

  it('testSecret refuses a pending version holding SecretBinary, naming it, and changes nothing', async () => {
    const w = makeWorld({
      versions: {
        [OLD]: { value: '{}', stages: ['AWSCURRENT'] },
        [TOKEN]: { binary: Uint8Array.from([9, 9, 9]), stages: ['AWSPENDING'] },
      },
    });
    const err = await rejection(w.invoke('testSecret'));
    expect(err).toBeInstanceOf(RotationError);
    expect((err as RotationError).code).toBe('BinarySecretValue');
    expect(err.message).toBe(
      `secret "${SECRET_NAME}" testSecret: version ${TOKEN} (AWSPENDING) holds a binary value (SecretBinary, 3 bytes), ` +
        'not the SecretString JSON this function reads and writes; it was left as it is',
    );
    expect(w.verifyCalls).toEqual([]);
    expect(w.sm.stageMoves()).toEqual([]);
  });
});

describe('finishSecret', () => {
  it.each([
    ['text', { value: 'password=hunter2' }, 'text that is not JSON \\(16 characters\\)'],
    ['a SecretBinary value', { binary: Uint8Array.from([1, 2, 3]) }, 'a binary value \\(SecretBinary, 3 bytes\\)'],
  ] as const)(
    'refuses to promote over an AWSCURRENT that became %s after createSecret, and promotes once {} is stored',
    async (_what, foreign, description) => {
      const { w, next } = pendingWorld();
      w.sm.putVersion(SECRET_ARN, OTHER_WRITER, { ...foreign, stages: ['AWSCURRENT'] });
      const err = await rejection(w.invoke('finishSecret'));
      expect((err as RotationError).code).toBe('UnexpectedCurrentValue');
      expect(err.message).toMatch(
        new RegExp(
          `^secret "${SECRET_NAME}" finishSecret: the current value \\(AWSCURRENT, version ${OTHER_WRITER}\\) is not a ` +
            `certificate bundle: it is ${description}\\. Promoting the new certificate would replace it, so nothing ` +
            `was promoted\\. If this secret is meant to hold the certificate, store \\{\\} as its value .* the next ` +
            'attempt of this rotation then promotes the new certificate\\.',
        ),
      );
      expect(w.sm.stageMoves()).toEqual([]);
      expect(w.sm.stages(SECRET_ARN)).toEqual({
        [OTHER_WRITER]: ['AWSCURRENT'],
        [OLD]: ['AWSPREVIOUS'],
        [TOKEN]: ['AWSPENDING'],
      });

      // The way out the message names: {} as the current value; the retry promotes.
      w.sm.putVersion(SECRET_ARN, PLACEHOLDER, { value: '{}', stages: ['AWSCURRENT'] });
      await w.invoke('finishSecret');
      expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [PLACEHOLDER]: ['AWSPREVIOUS'] });
      expect(w.sns.publishes().at(-1)?.Message).toContain(next.serial);
    },
  );

  it('promotes the token, writes the status tags, removes AWSPENDING last and announces it', async () => {
    const { w, next } = pendingWorld();
    await w.invoke('finishSecret');

    expect(w.sm.stageMoves()).toEqual([
      { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN, RemoveFromVersionId: OLD },
      { SecretId: SECRET_ARN, VersionStage: 'AWSPENDING', RemoveFromVersionId: TOKEN },
    ]);
    expect(w.sm.tagCalls()).toEqual([
      {
        SecretId: SECRET_ARN,
        Tags: [
          { Key: 'ExpirationDate', Value: next.expiry },
          { Key: 'IssuedAt', Value: next.issued_at },
          { Key: 'Domains', Value: 'example.com,*.example.com' },
        ],
      },
    ]);
    const t = w.timeline;
    expect(t.first('sm:UpdateSecretVersionStage:AWSCURRENT')).toBeLessThan(t.first(/^sm:TagResource\[/));
    expect(t.first(/^sm:TagResource\[/)).toBeLessThan(t.first('sm:UpdateSecretVersionStage:AWSPENDING'));
    expect(t.first('sm:UpdateSecretVersionStage:AWSPENDING')).toBeLessThan(t.first('sns:Publish'));
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    expect(w.sm.tags(SECRET_ARN)).toMatchObject({ ExpirationDate: next.expiry, IssuedAt: next.issued_at });

    // SNS: the predecessor's fields first, then ours.
    const publishes = w.sns.publishes();
    expect(publishes).toHaveLength(1);
    const sns = publishes[0]!;
    expect(sns.TopicArn).toBe(TOPIC_ARN);
    expect(sns.Subject).toBe('Certificate renewed: example.com, *.example.com');
    expect(sns.MessageAttributes).toEqual({
      status: { DataType: 'String', StringValue: 'success' },
      secret_name: { DataType: 'String', StringValue: SECRET_NAME },
    });
    const message = notice(w);
    expect(Object.keys(message).slice(0, 5)).toEqual(['status', 'domains', 'expiry', 'issued_at', 'secret_name']);
    expect(message).toEqual({
      status: 'success',
      domains: ['example.com', '*.example.com'],
      expiry: next.expiry,
      issued_at: next.issued_at,
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      version_id: TOKEN,
      serial: next.serial,
      issuer: next.issuer,
      key_type: 'ecdsa-p256',
    });

    // EventBridge: same facts.
    const puts = w.events.puts();
    expect(puts).toHaveLength(1);
    expect(puts[0]!.Entries).toEqual([
      {
        EventBusName: BUS_NAME,
        Source: EVENT_SOURCE,
        DetailType: 'Certificate Renewed',
        Detail: sns.Message,
        Resources: [SECRET_ARN],
      },
    ]);

    // Never a private key in a notice or a log line.
    const payloads = JSON.stringify(
      [w.sns.mock.commandCalls(PublishCommand), w.events.mock.commandCalls(PutEventsCommand)].map((calls) =>
        calls.map((c) => c.args[0].input),
      ),
    );
    expect(payloads).not.toContain('PRIVATE KEY');
    expect(w.log.raw.join('\n')).not.toContain('PRIVATE KEY');
    expect(w.log.find('rotation finished')).toMatchObject({ certificate: { serial: next.serial } });
  });

  it('with ACM targets: promotes, tags, delivers, removes AWSPENDING, in that order; a refusing target fails nothing', async () => {
    const { w, next } = pendingWorld();
    const good = await w.acm.seed('us-east-1');
    const deleted = good.replace(/certificate\/.*/, 'certificate/00000000-1111-2222-3333-444444444444');
    w.sm.service.handle('TagResource', {
      SecretId: SECRET_ARN,
      Tags: [{ Key: 'acme:acm-certificate-arns', Value: `${good},${deleted}` }],
    });
    const port = w.acm.port.bind(w.acm);
    w.acm.port = () => {
      const p = port();
      return {
        ...p,
        describe: (arn) => {
          w.timeline.add('acm:describe');
          return p.describe(arn);
        },
        import: (arn, pem) => {
          w.timeline.add('acm:import');
          return p.import(arn, pem);
        },
      };
    };
    await w.invoke('finishSecret');

    const t = w.timeline;
    expect(t.first('sm:UpdateSecretVersionStage:AWSCURRENT')).toBeLessThan(t.first(/^sm:TagResource\[/));
    expect(t.first(/^sm:TagResource\[/)).toBeLessThan(t.first('acm:describe'));
    expect(t.last('acm:import')).toBeLessThan(t.first('sm:UpdateSecretVersionStage:AWSPENDING'));
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    // The refusal's own notice first (sent when found), then the success notice naming both lists.
    const messages = w.sns.publishes().map((p) => JSON.parse(p.Message ?? '{}') as Record<string, unknown>);
    expect(messages.map((m) => m.status)).toEqual(['delivery_failed', 'success']);
    expect(messages[0]).toMatchObject({ acm_certificate_arn: deleted, error_code: 'AcmTargetUnusable' });
    expect(messages[1]).toMatchObject({
      serial: next.serial,
      acm_certificate_arns: [good],
      acm_delivery_failed_arns: [deleted],
    });
    expect(w.sns.publishes()[0]?.Subject).toBe('Certificate delivery to ACM FAILED: example.com, *.example.com');
    expect(w.log.find('step succeeded')).toBeDefined();
  });

  it('refuses to promote a version that holds no bundle and leaves AWSCURRENT alone', async () => {
    const w = makeWorld({
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com', '*.example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { value: 'not json', stages: ['AWSPENDING'] },
      },
    });
    const err = await rejection(w.invoke('finishSecret'));
    expect(err).toBeInstanceOf(VerificationError);
    expect(err.message).toContain(`version ${TOKEN} holds no certificate bundle; refusing to promote it`);
    expect(w.sm.stageMoves()).toEqual([]);
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
    expect(notice(w)).toMatchObject({ status: 'failed', step: 'finishSecret', error_code: 'VerificationFailed' });
  });

  it('promotes without RemoveFromVersionId when no version is current yet', async () => {
    const next = bundleFor(['example.com']);
    const w = makeWorld({
      domains: ['example.com'],
      versions: { [TOKEN]: { value: JSON.stringify(next), stages: ['AWSPENDING'] } },
    });
    await w.invoke('finishSecret');
    expect(w.sm.stageMoves()[0]).toEqual({ SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN });
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'] });
  });

  it('a status-tag failure is logged and does not fail the promotion', async () => {
    const { w } = pendingWorld();
    w.sm.before = (op) => {
      if (op === 'TagResource') throw Object.assign(new Error('tag policy says no'), { name: 'AccessDeniedException' });
    };
    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    expect(w.log.find('could not write status tags')).toMatchObject({ level: 'error' });
    expect(notice(w)).toMatchObject({ status: 'success' });
  });

  it('keeps the Domains tag within 256 characters', async () => {
    const domains = Array.from({ length: 30 }, (_, i) => `host-${i}.a-rather-long-zone-name.example.com`);
    const { w } = pendingWorld(domains);
    await w.invoke('finishSecret');
    const value = w.sm.tags(SECRET_ARN).Domains as string;
    expect(value.length).toBeLessThanOrEqual(256);
    expect(value.startsWith('host-0.a-rather-long-zone-name.example.com,host-1.')).toBe(true);
  });
});

describe('failure path', () => {
  it('publishes the failure with the step and cause, then rethrows the same error', async () => {
    const w = makeWorld({ domains: ['example.com', '*.example.com'] });
    const caError = new AcmeError('AcmeRequestFailed', 'CA rejected newOrder: urn:ietf:params:acme:error:rateLimited');
    w.ca.createOrderError = caError;
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBe(caError);

    const sns = w.sns.publishes()[0]!;
    expect(sns.Subject).toBe('Certificate renewal FAILED: example.com, *.example.com');
    expect(sns.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'failed' });
    const message = notice(w);
    expect(Object.keys(message).slice(0, 5)).toEqual(['status', 'domains', 'error', 'step', 'secret_name']);
    expect(message).toEqual({
      status: 'failed',
      domains: ['example.com', '*.example.com'],
      error: `secret "${SECRET_NAME}" createSecret: CA rejected newOrder: urn:ietf:params:acme:error:rateLimited`,
      step: 'createSecret',
      secret_name: SECRET_NAME,
      secret_arn: SECRET_ARN,
      version_id: TOKEN,
      error_code: 'AcmeRequestFailed',
    });
    const entry = w.events.puts()[0]!.Entries![0]!;
    expect(entry).toMatchObject({
      DetailType: 'Certificate Renewal Failed',
      Detail: sns.Message,
      Resources: [SECRET_ARN],
    });
    expect(w.log.find('step failed')).toMatchObject({
      level: 'error',
      errorCode: 'AcmeRequestFailed',
      step: 'createSecret',
      secretName: SECRET_NAME,
      token: TOKEN,
      awsRequestId: 'req-1',
      error: { name: 'AcmeError', message: caError.message },
    });
    // Nothing was put in DNS, AWSCURRENT untouched.
    expect(w.dns.presentCalls).toEqual([]);
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
  });

  it('an SNS failure is logged and does not replace the step error', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    const caError = new AcmeError('AcmeUnreachable', 'could not reach the CA');
    w.ca.createOrderError = caError;
    w.sns.mock.on(PublishCommand).rejects(Object.assign(new Error('SNS is down'), { name: 'InternalErrorException' }));
    const err = await rejection(w.invoke('createSecret'));
    expect(err).toBe(caError);
    expect(w.log.find('SNS notification failed')).toMatchObject({
      level: 'error',
      topicArn: TOPIC_ARN,
      error: 'SNS is down',
    });
    // EventBridge still got the event.
    expect(w.events.puts()).toHaveLength(1);
  });

  it('a notice failure after a good promotion does not fail the rotation', async () => {
    const { w } = pendingWorld();
    w.sns.mock.on(PublishCommand).rejects(new Error('SNS is down'));
    w.events.mock.on(PutEventsCommand).rejects(new Error('EventBridge is down'));
    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)).toEqual({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    expect(w.log.find('SNS notification failed')).toBeDefined();
    expect(w.log.find('EventBridge event failed')).toMatchObject({
      eventBusName: BUS_NAME,
      error: 'EventBridge is down',
    });
  });

  it('sends nothing when no topic and no bus are configured', async () => {
    const w = makeWorld({ config: { notificationTopicArn: undefined, eventBusName: undefined } });
    w.ca.createOrderError = new AcmeError('AcmeRequestFailed', 'nope');
    await rejection(w.invoke('createSecret'));
    expect(w.sns.publishes()).toEqual([]);
    expect(w.events.puts()).toEqual([]);
  });

  it('a DescribeSecret failure is reported with the SecretId as the name', async () => {
    const w = makeWorld();
    const err = await rejection(w.invoke('createSecret', TOKEN, 'acme/does-not-exist'));
    expect((err as RotationError).code).toBe('AwsSecretsManagerError');
    expect(notice(w)).toMatchObject({ status: 'failed', secret_name: 'acme/does-not-exist', domains: [] });
    expect(notice(w)).not.toHaveProperty('secret_arn');
  });
});
