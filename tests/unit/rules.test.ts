/**
 * The rules the stack configuration and the rotation function share (rotation/certificate/rules.ts), and
 * that the function's own readers — its environment (rotation/config/config.ts), the secret's tags
 * (rotation/certificate/spec.ts), its deadline — decide exactly as the rules do.
 */
import { SPEC_TAG_PREFIX, MAX_TAG_VALUE } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';

import * as lambdaConfig from '../../rotation/config/config.js';
import { CLEANUP_RESERVE_SECONDS, Deadline, FUNCTION_TIMEOUT_SECONDS } from '../../rotation/lib/deadline.js';
import {
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
  MAX_NAMES,
  MAX_WAIT_SECONDS,
  MIN_WAIT_SECONDS,
  bareZoneId,
  directoryUrlProblem,
  isEmailAddress,
  isProfileName,
  isSnsTopicArn,
  isZoneId,
  wholeNumberIn,
} from '../../rotation/certificate/rules.js';
import * as spec from '../../rotation/certificate/spec.js';

const DIRECTORY = 'https://acme.example/directory';

/** Whether the function accepts `value` for one environment variable; its message when not. */
function lambdaEnv(
  name: string,
  value: string,
): { ok: true; config: lambdaConfig.Config } | { ok: false; message: string } {
  try {
    return { ok: true, config: lambdaConfig.loadConfig({ ACME_DIRECTORY_URL: DIRECTORY, [name]: value }) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Whether the function accepts a secret carrying `tags` besides acme:domains. */
function lambdaTags(tags: Record<string, string>): boolean {
  try {
    spec.parseSpec(
      'certs/web',
      Object.entries({ 'acme:domains': 'example.com', ...tags }).map(([Key, Value]) => ({ Key, Value })),
    );
    return true;
  } catch {
    return false;
  }
}

const EMAILS = [
  'ops@example.com',
  'a.b+tag@sub.example.org',
  'ops@example',
  'ops@@example.com',
  'o ps@example.com',
  '@example.com',
  'ops@.example.com',
];
const PROFILES = [
  'tlsserver',
  'shortlived',
  'classic.v2',
  'A_b-1',
  'x'.repeat(64),
  'x'.repeat(65),
  'tls server',
  'tls/server',
  'prøfile',
];
const ZONE_IDS = [
  'Z0123456789ABCDEFGHIJ',
  '/hostedzone/Z0123456789ABCDEFGHIJ',
  'Z1',
  'z0123',
  'Z012-3',
  'Z'.repeat(33),
  '/hostedzone/',
];
const SECONDS = ['1', '300', '870', '871', '0', '-5', '1.5', '1e2', '12a', '0300'];

describe('the shared rules', () => {
  it('take an e-mail address with one @ and a dotted domain, without blanks', () => {
    expect(EMAILS.filter(isEmailAddress)).toEqual(['ops@example.com', 'a.b+tag@sub.example.org', 'ops@.example.com']);
  });

  it('take profile names of 1 to 64 letters, digits, ".", "_" and "-"', () => {
    expect(PROFILES.filter(isProfileName)).toEqual(['tlsserver', 'shortlived', 'classic.v2', 'A_b-1', 'x'.repeat(64)]);
    expect(isProfileName('')).toBe(false);
  });

  it('strip /hostedzone/ from zone ids and take 1 to 32 upper-case letters and digits', () => {
    expect(bareZoneId('  /hostedzone/Z1 ')).toBe('Z1');
    expect(bareZoneId('Z1')).toBe('Z1');
    expect(ZONE_IDS.filter((id) => isZoneId(bareZoneId(id)))).toEqual([
      'Z0123456789ABCDEFGHIJ',
      '/hostedzone/Z0123456789ABCDEFGHIJ',
      'Z1',
    ]);
  });

  it('read whole numbers within bounds, ignoring surrounding blanks', () => {
    expect(SECONDS.map((s) => wholeNumberIn(s, MIN_WAIT_SECONDS, MAX_WAIT_SECONDS))).toEqual([
      1,
      300,
      870,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      300,
    ]);
    expect(wholeNumberIn(' 42 ', 1, 100)).toBe(42);
    expect(wholeNumberIn('', 0, 10)).toBeUndefined();
  });

  it('want an https URL for the ACME directory', () => {
    expect(directoryUrlProblem(DIRECTORY)).toBeUndefined();
    expect(directoryUrlProblem('http://acme.example/directory')).toBe('not-https');
    expect(directoryUrlProblem('ftp://acme.example')).toBe('not-https');
    expect(directoryUrlProblem('acme.example/directory')).toBe('not-a-url');
  });

  it('leave room for both waits and the clean-up within the function timeout', () => {
    expect(
      DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS + DEFAULT_ACME_TIMEOUT_SECONDS + CLEANUP_RESERVE_SECONDS,
    ).toBeLessThanOrEqual(FUNCTION_TIMEOUT_SECONDS);
    expect(MAX_WAIT_SECONDS + CLEANUP_RESERVE_SECONDS).toBeLessThanOrEqual(FUNCTION_TIMEOUT_SECONDS);
  });
});

describe('the rotation function decides as the rules do', () => {
  it('ACME_EMAIL', () => {
    for (const email of EMAILS) {
      const run = lambdaEnv('ACME_EMAIL', email);
      expect(run.ok, email).toBe(isEmailAddress(email));
      if (!run.ok) expect(run.message).toContain('is not an e-mail address');
    }
  });

  it('NOTIFICATION_TOPIC_ARN (FIFO topics too)', () => {
    const topics = [
      'arn:aws:sns:eu-west-1:123456789012:certs',
      'arn:aws:sns:eu-west-1:123456789012:certs.fifo',
      'arn:aws:sns:eu-west-1:123456789012:certs.txt',
      'arn:aws:sqs:eu-west-1:123456789012:certs',
      'certs',
    ];
    expect(topics.map(isSnsTopicArn)).toEqual([true, true, false, false, false]);
    for (const topic of topics) expect(lambdaEnv('NOTIFICATION_TOPIC_ARN', topic).ok, topic).toBe(isSnsTopicArn(topic));
  });

  it('the acme:profile tag', () => {
    for (const profile of PROFILES)
      expect(lambdaTags({ 'acme:profile': profile }), profile).toBe(isProfileName(profile));
  });

  it('the acme:hosted-zone-ids tag', () => {
    for (const id of ZONE_IDS.filter((z) => z !== '/hostedzone/')) {
      expect(lambdaTags({ 'acme:hosted-zone-ids': id }), id).toBe(isZoneId(bareZoneId(id)));
    }
  });

  it('DNS_PROPAGATION_TIMEOUT_SECONDS and ACME_TIMEOUT_SECONDS, and their defaults', () => {
    for (const [name, field] of [
      ['DNS_PROPAGATION_TIMEOUT_SECONDS', 'dnsPropagationTimeoutMs'],
      ['ACME_TIMEOUT_SECONDS', 'acmeTimeoutMs'],
    ] as const) {
      for (const raw of SECONDS) {
        const run = lambdaEnv(name, raw);
        const n = wholeNumberIn(raw, MIN_WAIT_SECONDS, MAX_WAIT_SECONDS);
        expect(run.ok ? run.config[field] : undefined, `${name}=${raw}`).toBe(n === undefined ? undefined : n * 1000);
      }
    }
    const defaults = lambdaConfig.loadConfig({ ACME_DIRECTORY_URL: DIRECTORY });
    expect(defaults.dnsPropagationTimeoutMs).toBe(DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS * 1000);
    expect(defaults.acmeTimeoutMs).toBe(DEFAULT_ACME_TIMEOUT_SECONDS * 1000);
  });

  it('ACME_DIRECTORY_URL', () => {
    expect(lambdaEnv('ACME_DIRECTORY_URL', 'http://acme.example/directory')).toMatchObject({
      ok: false,
      message: expect.stringContaining('must use https (RFC 8555 requires TLS)'),
    });
    expect(lambdaEnv('ACME_DIRECTORY_URL', 'acme.example/directory')).toMatchObject({
      ok: false,
      message: expect.stringContaining('is not a URL'),
    });
  });

  it('the limits of names, tag values and the acme: prefix', () => {
    const names = Array.from({ length: MAX_NAMES + 1 }, (_, i) => `n${i}.example.com`);
    expect(lambdaTags({ 'acme:domains:2': names.slice(1, MAX_NAMES).join(',') })).toBe(true);
    expect(lambdaTags({ 'acme:domains:2': names.slice(1).join(',') })).toBe(false);
    expect(spec.domainTags(names).every((t) => t.Value.length <= MAX_TAG_VALUE)).toBe(true);
    // Any key starting with the prefix, in any letter case, is spec: a typo is an error.
    expect(lambdaTags({ [`${SPEC_TAG_PREFIX.toUpperCase()}domain`]: 'x' })).toBe(false);
    expect(lambdaTags({ [`${SPEC_TAG_PREFIX}domain`]: 'x' })).toBe(false);
  });

  it('the clean-up reserve and the function timeout', () => {
    const deadline = new Deadline(60_000, undefined, () => 0);
    expect(deadline.remainingMs()).toBe(60_000 - CLEANUP_RESERVE_SECONDS * 1000);
    expect(Deadline.fromContext(undefined).untilEndMs()).toBeLessThanOrEqual(FUNCTION_TIMEOUT_SECONDS * 1000);
    expect(Deadline.fromContext(undefined).untilEndMs()).toBeGreaterThan(FUNCTION_TIMEOUT_SECONDS * 1000 - 1000);
  });
});
