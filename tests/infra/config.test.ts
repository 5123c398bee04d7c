import { RENEWAL_TAG_KEYS } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';

import { KNOWN_KEYS, StackConfigError, loadSettings, type ConfigSource } from '../../infra/validate.js';
import { makeLeaf, makeRootCa } from '../helpers/certs.js';

const ROOT = makeRootCa({ cn: 'Config Test Private Root' });
const LEAF = makeLeaf(ROOT, { dnsNames: ['leaf.example.com'] });

const IGNORE = {
  keys: ['ExpirationDate', 'IssuedAt', 'Domains'],
  keyPrefixes: ['acme-rotation:inflight', 'acme-rotation:renewal'],
};
const UUID = '0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
const VALID = {
  hostedZones: ['example.com'],
  certificates: [{ name: 'web', domains: ['example.com', '*.example.com'] }],
};

function source(values: Record<string, unknown>, opts: { ignoreTags?: unknown; stack?: string } = {}): ConfigSource {
  const raw = Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
  const ignore = 'ignoreTags' in opts ? opts.ignoreTags : IGNORE;
  return {
    namespace: 'acme-rotation',
    stack: opts.stack ?? 'dev',
    get: (k) => raw[k],
    keys: Object.keys(raw),
    awsIgnoreTags: ignore === undefined ? undefined : typeof ignore === 'string' ? ignore : JSON.stringify(ignore),
  };
}

function problems(values: Record<string, unknown>, opts?: { ignoreTags?: unknown; stack?: string }): string[] {
  try {
    loadSettings(source(values, opts));
  } catch (err) {
    if (err instanceof StackConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** The single problem a change to the valid config causes. */
function problem(change: Record<string, unknown>): string {
  const list = problems({ ...VALID, ...change });
  expect(list, JSON.stringify(list)).toHaveLength(1);
  return list[0] as string;
}

function certProblem(cert: Record<string, unknown>): string {
  return problem({ certificates: [{ name: 'web', domains: ['example.com'], ...cert }] });
}

describe('a valid configuration', () => {
  it('gets the documented defaults', () => {
    const s = loadSettings(source(VALID));
    expect(s).toMatchObject({
      namespace: 'acme-rotation',
      stack: 'dev',
      namePrefix: 'acme-rotation-dev',
      directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
      persistentAccount: true,
      accountSecretName: 'acme-rotation-dev/acme-account',
      logRetentionDays: 90,
      logLevel: 'info',
      secretNamePrefix: 'certs/',
      recoveryWindowDays: 30,
      memoryMb: 512,
      hostedZones: [{ kind: 'name', name: 'example.com' }],
      tags: {},
      watchSchedule: { expression: 'rate(1 hour)', maxGapSeconds: 3600 },
    });
    for (const absent of [
      'email',
      'eabKid',
      'notificationEmail',
      'eventBus',
      'kmsKeyArn',
      'dnsResolvers',
      'watchMaxConcurrentRotations',
    ]) {
      expect(s).not.toHaveProperty(absent);
    }
    expect(s.certificates).toHaveLength(1);
    expect(s.certificates[0]).toMatchObject({
      name: 'web',
      secretName: 'certs/web',
      domains: ['example.com', '*.example.com'],
      keyType: 'ecdsa-p256',
      cnameTargets: [],
      description: 'TLS certificate for example.com, *.example.com (acme-rotation)',
      specTags: { 'acme:domains': 'example.com,*.example.com', 'acme:key-type': 'ecdsa-p256' },
      schedule: { automaticallyAfterDays: 30 },
    });
    expect(s.certificates[0]?.hostedZoneIds).toBeUndefined();
  });

  it('reads ACM targets: new certificates by region, existing ones by ARN (their region from it)', () => {
    const arn = `arn:aws:acm:ap-southeast-2:123456789012:certificate/${UUID}`;
    const s = loadSettings(
      source({
        ...VALID,
        certificates: [
          {
            name: 'web',
            domains: ['example.com'],
            keyType: 'ecdsa-p384',
            acm: { regions: 'us-east-1, EU-WEST-1', arns: [arn] },
          },
          { name: 'api', domains: ['api.example.com'] },
        ],
      }),
    );
    expect(s.certificates[0]?.acm).toEqual([
      { region: 'us-east-1' },
      { region: 'eu-west-1' },
      { region: 'ap-southeast-2', arn },
    ]);
    // ecdsa-p384 with us-east-1 is allowed (an ALB there takes it; CloudFront would not: documented).
    expect(s.certificates[0]?.keyType).toBe('ecdsa-p384');
    // The ARN tags are written at deploy time, once the new certificates have theirs.
    expect(Object.keys(s.certificates[0]?.specTags ?? {})).toEqual(['acme:domains', 'acme:key-type']);
    expect(s.certificates[1]?.acm).toEqual([]);
  });

  it('reads zones of other accounts: {id, roleArn, externalId?, name?}, one external id for all', () => {
    const dns = 'arn:aws:iam::111122223333:role/acme-dns';
    const s = loadSettings(
      source({
        ...VALID,
        hostedZones: [
          'example.com',
          { id: '/hostedzone/Z0DNSACCOUNT00000001', roleArn: dns, externalId: 'acme-7f3a' },
          { id: 'Z0DNSACCOUNT00000002', roleArn: dns, name: 'Shop.Example.NET.', externalId: 'acme-7f3a' },
          { id: 'Z0OTHERACCOUNT000003', roleArn: 'arn:aws:iam::444455556666:role/dns/acme' },
        ],
      }),
    );
    expect(s.hostedZones).toEqual([
      { kind: 'name', name: 'example.com' },
      { kind: 'id', id: 'Z0DNSACCOUNT00000001', role: { roleArn: dns } },
      { kind: 'id', id: 'Z0DNSACCOUNT00000002', role: { roleArn: dns, name: 'shop.example.net' } },
      { kind: 'id', id: 'Z0OTHERACCOUNT000003', role: { roleArn: 'arn:aws:iam::444455556666:role/dns/acme' } },
    ]);
    expect(s.route53ExternalId).toBe('acme-7f3a');
    expect(loadSettings(source(VALID))).not.toHaveProperty('route53ExternalId');
  });

  it('reads every setting', () => {
    const s = loadSettings(
      source({
        ca: 'staging',
        certificateLifetime: '90d',
        email: 'certs@example.com',
        account: 'persistent',
        eabKid: 'kid-1',
        eabHmacKey: 'abc_DEF-123=',
        notificationEmail: 'ops@example.com',
        eventBus: 'arn:aws:events:eu-west-1:123456789012:event-bus/certs',
        logRetentionDays: '30',
        logLevel: 'DEBUG',
        kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        secretNamePrefix: 'tls/prod/',
        secretRecoveryWindowDays: '7',
        namePrefix: 'certs-prod',
        memoryMb: '1024',
        dnsResolvers: ['1.1.1.1', '8.8.8.8:53'],
        dnsPropagationTimeoutSeconds: '400',
        acmeTimeoutSeconds: '300',
        preferredChain: ' ISRG Root X1 ',
        maxCertificateLifetimeDays: '398',
        caRootsPem: `issued by our own CA\n${ROOT.certPem}`,
        watchSchedule: ' cron(15 */2 * * ? *) ',
        watchMaxConcurrentRotations: '20',
        hostedZones: ['Z0123456789ABCDEFGHIJ', 'Example.ORG.'],
        tags: { team: 'platform', 'cost-center': '42' },
        certificates: [
          {
            name: 'shop',
            domains: ['Shop.Example.COM', 'shop.example.com', 'bücher.example.org'],
            keyType: 'RSA-4096',
            profile: 'tlsserver',
            hostedZoneIds: ['/hostedzone/Z0123456789ABCDEFGHIJ', 'Z0ACMEEXAMPLENET0004'],
            cnameTargets: ['*.ACME.example.net.'],
            schedule: '12h',
            description: 'the shop',
          },
          { name: 'api', domains: 'api.example.org, www.example.org', lifetime: '160h' },
        ],
      }),
    );
    expect(s).toMatchObject({
      directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      email: 'certs@example.com',
      eabKid: 'kid-1',
      notificationEmail: 'ops@example.com',
      eventBus: 'arn:aws:events:eu-west-1:123456789012:event-bus/certs',
      logRetentionDays: 30,
      logLevel: 'debug',
      secretNamePrefix: 'tls/prod/',
      recoveryWindowDays: 7,
      namePrefix: 'certs-prod',
      accountSecretName: 'certs-prod/acme-account',
      memoryMb: 1024,
      dnsResolvers: '1.1.1.1,8.8.8.8:53',
      dnsPropagationTimeoutSeconds: 400,
      acmeTimeoutSeconds: 300,
      preferredChain: 'ISRG Root X1',
      maxCertificateLifetimeDays: 398,
      caRootsPem: ROOT.certPem,
      watchSchedule: { expression: 'cron(15 */2 * * ? *)', maxGapSeconds: 7200 },
      watchMaxConcurrentRotations: 20,
      hostedZones: [
        { kind: 'id', id: 'Z0123456789ABCDEFGHIJ' },
        { kind: 'name', name: 'example.org' },
      ],
      tags: { team: 'platform', 'cost-center': '42' },
    });
    const [shop, api] = s.certificates;
    expect(shop).toMatchObject({
      secretName: 'tls/prod/shop',
      domains: ['shop.example.com', 'xn--bcher-kva.example.org'],
      keyType: 'rsa-4096',
      profile: 'tlsserver',
      hostedZoneIds: ['Z0123456789ABCDEFGHIJ', 'Z0ACMEEXAMPLENET0004'],
      cnameTargets: ['*.acme.example.net'],
      schedule: { scheduleExpression: 'rate(12 hours)' },
      description: 'the shop',
      specTags: {
        'acme:domains': 'shop.example.com,xn--bcher-kva.example.org',
        'acme:key-type': 'rsa-4096',
        'acme:profile': 'tlsserver',
      },
    });
    expect(api).toMatchObject({
      domains: ['api.example.org', 'www.example.org'],
      schedule: { automaticallyAfterDays: 4 },
    });
  });

  it('uses certificateLifetime for a CA it does not know', () => {
    const s = loadSettings(source({ ...VALID, ca: 'https://acme.zerossl.com/v2/DV90', certificateLifetime: '90d' }));
    expect(s.directoryUrl).toBe('https://acme.zerossl.com/v2/DV90');
    expect(s.certificates[0]?.schedule).toMatchObject({
      automaticallyAfterDays: 60,
      reason: 'every 60 days: 2/3 of 90 days (configured 90 days), rounded down',
    });
  });

  it('continues long name lists in acme:domains:2, … as the rotation reads them', () => {
    const domains = Array.from({ length: 40 }, (_, i) => `host-number-${i}.example.com`);
    const s = loadSettings(source({ ...VALID, certificates: [{ name: 'many', domains }] }));
    const tags = s.certificates[0]?.specTags ?? {};
    expect(Object.keys(tags)).toEqual([
      'acme:domains',
      'acme:domains:2',
      'acme:domains:3',
      'acme:domains:4',
      'acme:domains:5',
      'acme:key-type',
    ]);
    expect(Object.values(tags).every((v) => v.length <= 255)).toBe(true);
  });

  it('derives a short default name prefix from the stack', () => {
    const s = loadSettings(source(VALID, { stack: 'org/very.long.stack.name.for.production.eu-west-1' }));
    expect(s.namePrefix).toBe('acme-rotation-org-very-long-stack-name-f');
    expect(s.namePrefix.length).toBeLessThanOrEqual(40);
  });
});

describe('configuration errors name the key', () => {
  it('reports every problem at once', () => {
    const list = problems(
      { ca: 'http://x', email: 'nope', certificates: [{ name: '', domains: [] }] },
      { ignoreTags: undefined },
    );
    expect(list.length).toBeGreaterThanOrEqual(5);
    const err = (() => {
      try {
        loadSettings(source({}));
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toMatch(
      /^invalid stack configuration \(1 problem\):\n {2}- acme-rotation:certificates: is required/,
    );
  });

  it.each([
    [{ ignoreTags: undefined }, 'aws:ignoreTags: is not set; aws:ignoreTags must make the AWS provider ignore'],
    [{ ignoreTags: '"x"' }, 'aws:ignoreTags: "\\"x\\"" is not an object'],
    [
      { ignoreTags: { keys: ['ExpirationDate'] } },
      'aws:ignoreTags: keys lacks IssuedAt, Domains and keyPrefixes lacks acme-rotation:inflight, acme-rotation:renewal',
    ],
    [
      // A stack set up before the renewal watch: the watch's tags would be removed by `pulumi up`.
      { ignoreTags: { keys: ['ExpirationDate', 'IssuedAt', 'Domains'], keyPrefixes: ['acme-rotation:inflight'] } },
      'aws:ignoreTags: keyPrefixes lacks acme-rotation:renewal',
    ],
    [
      // Broader than acme-rotation: would hide the acme:* spec tags from Pulumi.
      { ignoreTags: { keys: ['ExpirationDate', 'IssuedAt', 'Domains'], keyPrefixes: ['acme'] } },
      'aws:ignoreTags: keyPrefixes lacks acme-rotation:inflight, acme-rotation:renewal',
    ],
    [{ ignoreTags: { keys: ['ExpirationDate', 'IssuedAt', 'Domains'], keyPrefixes: ['acme-rotation:'] } }, ''],
    [
      {
        ignoreTags: {
          keys: ['ExpirationDate', 'IssuedAt', 'Domains', 'team'],
          keyPrefixes: ['acme-rotation:renewal', 'acme-rotation:inflight'],
        },
      },
      '',
    ],
  ])('aws:ignoreTags %j', (opts, message) => {
    const list = problems(VALID, opts);
    if (message === '') expect(list).toEqual([]);
    else {
      expect(list).toHaveLength(1);
      expect(list[0]).toContain(message);
      // The message says exactly what to set.
      expect(list[0]).toContain('keys: [ExpirationDate, IssuedAt, Domains]');
      expect(list[0]).toContain(
        'keyPrefixes: ["acme-rotation:inflight", "acme-rotation:renewal"] (or the single prefix "acme-rotation:")',
      );
    }
  });

  it.each([
    [{ certificates: undefined }, 'acme-rotation:certificates: is required: a list like'],
    [{ certificates: [] }, 'acme-rotation:certificates: expected a non-empty list of certificates, got []'],
    [{ certificates: 'web' }, 'acme-rotation:certificates: expected a non-empty list of certificates, got "web"'],
    [
      { certficates: [] },
      'acme-rotation:certficates: is not a setting of this program (known: certificates, hostedZones',
    ],
    [{ ca: 'letsencrypt' }, 'acme-rotation:ca: "letsencrypt" is neither production, staging nor a URL'],
    [{ ca: 'http://acme.example/directory' }, 'acme-rotation:ca: "http://acme.example/directory" must use https'],
    [
      { certificateLifetime: '3 months' },
      'acme-rotation:certificateLifetime: "3 months" is not a duration like 90d or 160h',
    ],
    [{ email: 'certs' }, 'acme-rotation:email: "certs" is not an e-mail address'],
    [{ account: 'shared' }, 'acme-rotation:account: "shared" must be persistent'],
    [{ eabKid: 'kid' }, 'acme-rotation:eabHmacKey: External Account Binding needs both eabKid and eabHmacKey'],
    [{ eabHmacKey: 'abc' }, 'acme-rotation:eabKid: External Account Binding needs both eabKid and eabHmacKey'],
    [{ eabKid: 'k', eabHmacKey: 'not base64!' }, 'acme-rotation:eabHmacKey: is not a base64url HMAC key'],
    [
      { eabKid: 'k', eabHmacKey: 'abc', account: 'ephemeral' },
      'acme-rotation:eabKid: External Account Binding needs acme-rotation:account=persistent',
    ],
    [{ notificationEmail: 'ops@' }, 'acme-rotation:notificationEmail: "ops@" is not an e-mail address'],
    [{ eventBus: 'my bus' }, 'acme-rotation:eventBus: "my bus" is not an EventBridge bus name or ARN'],
    [
      { eventBus: 'arn:aws:sns:eu-west-1:123456789012:x' },
      'acme-rotation:eventBus: "arn:aws:sns:eu-west-1:123456789012:x" is not',
    ],
    [
      { logRetentionDays: '45' },
      'acme-rotation:logRetentionDays: "45" is not one of CloudWatch\'s retentions: 1, 3, 5',
    ],
    [{ logLevel: 'trace' }, 'acme-rotation:logLevel: "trace" is not one of debug, info, warn, error'],
    [{ kmsKeyArn: 'alias/certs' }, 'acme-rotation:kmsKeyArn: "alias/certs" is not a KMS key ARN'],
    [{ secretNamePrefix: 'certs prod/' }, 'acme-rotation:secretNamePrefix: "certs prod/" may hold only'],
    [
      { secretRecoveryWindowDays: '5' },
      'acme-rotation:secretRecoveryWindowDays: "5" must be 0 (delete at once) or 7 to 30 days',
    ],
    [
      { secretRecoveryWindowDays: '31' },
      'acme-rotation:secretRecoveryWindowDays: "31" is not a whole number between 0 and 30',
    ],
    [{ namePrefix: '-x' }, 'acme-rotation:namePrefix: "-x" must be 1-40 letters, digits and hyphens'],
    [{ memoryMb: '64' }, 'acme-rotation:memoryMb: "64" is not a whole number between 128 and 10240'],
    [{ dnsResolvers: 'dns.google' }, 'acme-rotation:dnsResolvers: entry "dns.google" is invalid: expected ip[:port]'],
    [
      { maxCertificateLifetimeDays: '0' },
      'acme-rotation:maxCertificateLifetimeDays: "0" is not a whole number between 1 and 36500',
    ],
    [{ caRootsPem: 'not a certificate' }, 'acme-rotation:caRootsPem: holds no PEM certificate'],
    [
      { caRootsPem: LEAF.certPem },
      'acme-rotation:caRootsPem: certificate 1 (DNS:leaf.example.com) is not a CA certificate',
    ],
    [
      { caRootsPem: LEAF.keyPem },
      "acme-rotation:caRootsPem: holds a private key: give only the CA's root certificate(s)",
    ],
    [
      { dnsPropagationTimeoutSeconds: '0' },
      'acme-rotation:dnsPropagationTimeoutSeconds: "0" is not a whole number between 1 and 870',
    ],
    [
      { acmeTimeoutSeconds: 'soon' },
      'acme-rotation:acmeTimeoutSeconds: "soon" is not a whole number between 1 and 870',
    ],
    [
      { dnsPropagationTimeoutSeconds: '600', acmeTimeoutSeconds: '300' },
      "acme-rotation:dnsPropagationTimeoutSeconds: DNS (600 s) + CA (300 s) + 20 s of clean-up exceed the function's 900 s",
    ],
    [
      { hostedZones: ['example..com'] },
      'acme-rotation:hostedZones[0]: "example..com" is neither a zone id (Z…) nor a zone name',
    ],
    [{ hostedZones: ['*.example.com'] }, 'acme-rotation:hostedZones[0]: "*.example.com" is neither a zone id'],
    [
      { hostedZones: { a: 1 } },
      'acme-rotation:hostedZones: expected a list of zone names, ids or {id, roleArn} entries',
    ],
    [{ tags: ['a'] }, 'acme-rotation:tags: expected a map of tag keys to values'],
    [{ tags: { 'acme:owner': 'x' } }, 'acme-rotation:tags.acme:owner: is reserved'],
    [{ tags: { ExpirationDate: 'x' } }, 'acme-rotation:tags.ExpirationDate: is reserved'],
    [{ tags: { 'acme-rotation:renewal-at': 'x' } }, 'acme-rotation:tags.acme-rotation:renewal-at: is reserved'],
    [
      { watchSchedule: 'every hour' },
      'acme-rotation:watchSchedule: "every hour" is not an EventBridge schedule expression',
    ],
    [
      { watchSchedule: 'rate(1 day)' },
      'acme-rotation:watchSchedule: "rate(1 day)" leaves 24 hours between runs: the watch must run at least every 12 hours',
    ],
    [
      { watchMaxConcurrentRotations: '0' },
      'acme-rotation:watchMaxConcurrentRotations: "0" is not a whole number between 1 and 500',
    ],
    [
      { watchMaxConcurrentRotations: '501' },
      'acme-rotation:watchMaxConcurrentRotations: "501" is not a whole number between 1 and 500',
    ],
    [{ tags: { 'aws:x': 'y' } }, 'acme-rotation:tags.aws:x: is not a valid tag key'],
    [{ tags: { team: 42 } }, 'acme-rotation:tags.team: the value must be a string'],
  ])('%j', (change, message) => {
    expect(problem(change)).toContain(message);
  });

  it.each([
    [{ domains: undefined }, 'acme-rotation:certificates[0].domains: is required: the DNS names of the certificate'],
    [{ domains: [] }, 'acme-rotation:certificates[0].domains: must not be empty'],
    [{ domains: [1] }, 'acme-rotation:certificates[0].domains: expected a list of strings, got [1]'],
    [
      { domains: ['example.com', '*.*.example.com'] },
      'acme-rotation:certificates[0].domains[1]: domain name "*.*.example.com" is invalid: a wildcard must be the whole leftmost label',
    ],
    [
      { domains: ['192.0.2.1'] },
      'acme-rotation:certificates[0].domains[0]: domain name "192.0.2.1" is invalid: IP addresses are not supported',
    ],
    [
      { domains: ['localhost'] },
      'acme-rotation:certificates[0].domains[0]: domain name "localhost" is invalid: a certificate name needs at least two labels',
    ],
    [
      { domains: Array.from({ length: 101 }, (_, i) => `h${i}.example.com`) },
      'acme-rotation:certificates[0].domains: lists 101 names; a certificate holds at most 100',
    ],
    [
      { domain: ['example.com'] },
      'acme-rotation:certificates[0].domain: is not a certificate field (known: name, domains, keyType',
    ],
    [{ name: 'web/prod' }, 'acme-rotation:certificates[0].name: "web/prod" must be 1-100 letters, digits'],
    [
      { name: 'web-abc123' },
      'acme-rotation:certificates[0].name: the secret name "certs/web-abc123" ends with a hyphen and six characters',
    ],
    [
      { keyType: 'ed25519' },
      'acme-rotation:certificates[0].keyType: "ed25519" is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096',
    ],
    [{ profile: 'long lived' }, 'acme-rotation:certificates[0].profile: "long lived" is not a profile name'],
    [
      { hostedZoneIds: ['example.com'] },
      'acme-rotation:certificates[0].hostedZoneIds[0]: "example.com" is not a hosted zone id',
    ],
    [{ hostedZoneIds: [] }, 'acme-rotation:certificates[0].hostedZoneIds: must not be empty'],
    [
      { cnameTargets: ['*.acme.example.net'] },
      'acme-rotation:certificates[0].cnameTargets: needs hostedZoneIds listing the zones of the names AND of the CNAME targets',
    ],
    [
      { hostedZoneIds: ['Z0ACME1'], cnameTargets: ['acme example'] },
      'acme-rotation:certificates[0].cnameTargets[0]: "acme example" is not a record name or *.pattern',
    ],
    [{ lifetime: 'forever' }, 'acme-rotation:certificates[0].lifetime: "forever" is not a duration like 90d or 160h'],
    [{ schedule: 'monthly' }, 'acme-rotation:certificates[0].schedule: "monthly" is not a schedule'],
    [{ schedule: 30 }, 'acme-rotation:certificates[0].schedule: 30 is not a string'],
    [
      { schedule: '60d' },
      'acme-rotation:certificates[0].schedule: "60d" is not shorter than the certificate lifetime (45 days',
    ],
    [
      { profile: 'shortlived', schedule: '7d' },
      'acme-rotation:certificates[0].schedule: "7d" is not shorter than the certificate lifetime (160 hours',
    ],
    [
      { lifetime: '5h' },
      'acme-rotation:certificates[0].lifetime: certificates that live 5 hours would need a rotation every 3 hours',
    ],
    [
      { profile: 'futuristic' },
      'acme-rotation:certificates[0].schedule: the certificate lifetime of profile futuristic of https://acme-v02.api.letsencrypt.org/directory is unknown: set acme-rotation:certificateLifetime (all certificates), certificates[0].lifetime (e.g. 90d) or certificates[0].schedule (e.g. 30d)',
    ],
    [{ acm: ['us-east-1'] }, 'acme-rotation:certificates[0].acm: expected an object like {regions: [us-east-1]}'],
    [
      { acm: {} },
      'acme-rotation:certificates[0].acm: needs regions (new ACM certificates) or arns (existing imported ones), or both',
    ],
    [
      { acm: { regions: ['us-east-1'], region: 'us-east-1' } },
      'acme-rotation:certificates[0].acm.region: is not an acm field (known: regions, arns)',
    ],
    [{ acm: { regions: [] } }, 'acme-rotation:certificates[0].acm.regions: must not be empty'],
    [
      { acm: { regions: ['us-east'] } },
      'acme-rotation:certificates[0].acm.regions[0]: "us-east" is not an AWS region name (like us-east-1)',
    ],
    [
      { acm: { arns: ['arn:aws:acm:us-east-1:123456789012:certificate/web'] } },
      'acme-rotation:certificates[0].acm.arns[0]: "arn:aws:acm:us-east-1:123456789012:certificate/web" is not one: an ACM certificate ARN looks like',
    ],
    [
      { acm: { regions: ['us-east-1', 'US-EAST-1'] } },
      'acme-rotation:certificates[0].acm.regions[1]: is a second ACM certificate in us-east-1 (acm.regions[0] is one): one certificate per region',
    ],
    [
      { acm: { regions: ['eu-west-1'], arns: [`arn:aws:acm:eu-west-1:123456789012:certificate/${UUID}`] } },
      'acme-rotation:certificates[0].acm.arns[0]: is a second ACM certificate in eu-west-1 (acm.regions[0] is one)',
    ],
    [
      { description: 'x'.repeat(2049) },
      'acme-rotation:certificates[0].description: must be a string of at most 2048 characters',
    ],
  ])('certificate %j', (cert, message) => {
    expect(certProblem(cert)).toContain(message);
  });

  it.each([
    [
      { id: 'Z0DNSACCOUNT00000001', roleArn: 'arn:aws:iam::111122223333:user/dns' },
      'acme-rotation:hostedZones[1].roleArn: "arn:aws:iam::111122223333:user/dns" is not an IAM role ARN',
    ],
    [{ id: 'Z0DNSACCOUNT00000001' }, 'acme-rotation:hostedZones[1].roleArn: undefined is not an IAM role ARN'],
    [
      { id: 'dns.example.net', roleArn: 'arn:aws:iam::111122223333:role/acme-dns' },
      'acme-rotation:hostedZones[1].id: "dns.example.net" is not a hosted zone id',
    ],
    [
      { id: 'Z0DNSACCOUNT00000001', roleArn: 'arn:aws:iam::111122223333:role/acme-dns', role: 'x' },
      'acme-rotation:hostedZones[1].role: is not a field of a zone in another account (known: id, roleArn, externalId, name)',
    ],
    [
      { id: 'Z0DNSACCOUNT00000001', roleArn: 'arn:aws:iam::111122223333:role/acme-dns', externalId: 'x' },
      "acme-rotation:hostedZones[1].externalId: must be 2-1224 letters, digits and +=,.@:/-_ (IAM's sts:ExternalId)",
    ],
    [
      { id: 'Z0DNSACCOUNT00000001', roleArn: 'arn:aws:iam::111122223333:role/acme-dns', name: '*.example.net' },
      'acme-rotation:hostedZones[1].name: "*.example.net" is not a zone name: a zone name cannot be a wildcard',
    ],
    [42, 'acme-rotation:hostedZones[1]: expected a zone name, a zone id or {id, roleArn}, got 42'],
  ])('hostedZones entry %j', (entry, message) => {
    expect(problem({ hostedZones: ['example.com', entry] })).toContain(message);
  });

  it('refuses two external ids (the function sends one with every AssumeRole) and a zone listed twice', () => {
    const role = 'arn:aws:iam::111122223333:role/acme-dns';
    expect(
      problem({
        hostedZones: [
          { id: 'Z0DNSACCOUNT00000001', roleArn: role, externalId: 'first-id' },
          'example.com',
          { id: 'Z0DNSACCOUNT00000002', roleArn: role, externalId: 'second-id' },
        ],
      }),
    ).toBe(
      'acme-rotation:hostedZones[2].externalId: differs from hostedZones[0].externalId: the function sends one external id ' +
        '(ROUTE53_EXTERNAL_ID) with every AssumeRole; give every role the same one',
    );
    expect(
      problem({ hostedZones: ['example.com', 'Z0DNSACCOUNT00000001', { id: 'Z0DNSACCOUNT00000001', roleArn: role }] }),
    ).toBe(
      'acme-rotation:hostedZones[2]: zone Z0DNSACCOUNT00000001 is already listed as hostedZones[1]: list a zone once, with its role if it has one',
    );
  });

  it('needs zones for a certificate when the stack has none', () => {
    expect(problem({ hostedZones: undefined })).toBe(
      'acme-rotation:certificates[0].hostedZoneIds: is required when acme-rotation:hostedZones is empty: the function may only write to zones named in the stack',
    );
  });

  it('needs a lifetime or schedule for a CA it does not know', () => {
    expect(problem({ ca: 'https://acme.example/directory' })).toContain(
      'acme-rotation:certificates[0].schedule: the certificate lifetime of https://acme.example/directory is unknown',
    );
  });

  it('rejects a certificate that is not an object, and duplicate names', () => {
    expect(problem({ certificates: ['example.com'] })).toBe(
      'acme-rotation:certificates[0]: expected an object like {name: web, domains: [example.com]}, got "example.com"',
    );
    expect(problem({ certificates: [VALID.certificates[0], { name: 'WEB', domains: ['www.example.com'] }] })).toBe(
      'acme-rotation:certificates[1].name: "WEB" is already used by certificates[0]',
    );
  });

  it('keeps within 50 tags per secret, counting status, renewal and in-flight tags', () => {
    const domains = Array.from({ length: 100 }, (_, i) => `a-rather-long-host-name-${i}.example.com`);
    const tags = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, 'x']));
    expect(problem({ tags, certificates: [{ name: 'many', domains }] })).toMatch(
      new RegExp(
        `^acme-rotation:certificates\\[0\\]: needs up to \\d+ tags on its secret \\(spec, zone ids, 10 stack tags, 3 status tags, ${RENEWAL_TAG_KEYS.length} renewal tags, 23 in-flight tags\\), more than Secrets Manager's 50`,
      ),
    );
  });

  it("counts the watch's 8 renewal tags: a certificate that fit without them may not now", () => {
    // 5 names: 1 domains tag, key type, zone ids (3 spec tags) + 3 status + 4 in-flight (the
    // order's 2, the failure record, the CA fallen away from) = 10, plus stack tags. 37 stack tags
    // make 47 without the renewal tags and 55 with them.
    expect(RENEWAL_TAG_KEYS).toHaveLength(8);
    const tags = Object.fromEntries(Array.from({ length: 37 }, (_, i) => [`t${i}`, 'x']));
    const domains = Array.from({ length: 5 }, (_, i) => `h${i}.example.com`);
    expect(problem({ tags, certificates: [{ name: 'web', domains }] })).toBe(
      "acme-rotation:certificates[0]: needs up to 55 tags on its secret (spec, zone ids, 37 stack tags, 3 status tags, 8 renewal tags, 4 in-flight tags), more than Secrets Manager's 50; use fewer names or stack tags",
    );
    const fewer = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, 'x']));
    expect(problems({ ...VALID, tags: fewer, certificates: [{ name: 'web', domains }] })).toEqual([]);
  });

  it('counts the ACM ARN tags in the budget, as long as the ARNs ACM will give', () => {
    // 5 names: 3 spec tags + 3 status + 8 renewal + 4 in-flight = 18; 31 stack tags make 49.
    const tags = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`t${i}`, 'x']));
    const domains = Array.from({ length: 5 }, (_, i) => `h${i}.example.com`);
    const acm = (regions: string[]) => ({ tags, certificates: [{ name: 'web', domains, acm: { regions } }] });
    // Three ARNs of these regions fit in one tag (50 tags); six need two (51).
    expect(problems({ ...VALID, ...acm(['us-east-1', 'eu-west-1', 'eu-west-2']) })).toEqual([]);
    expect(problem(acm(['us-east-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-north-1', 'us-east-2']))).toBe(
      'acme-rotation:certificates[0]: needs up to 51 tags on its secret (spec, zone ids, 2 ACM ARN tags, 31 stack tags, ' +
        "3 status tags, 8 renewal tags, 4 in-flight tags), more than Secrets Manager's 50; use fewer names, ACM certificates or stack tags",
    );
  });

  it('keeps the ACME account secret name free', () => {
    expect(
      problem({
        secretNamePrefix: 'acme-rotation-dev/',
        certificates: [{ name: 'acme-account', domains: ['example.com'] }],
      }),
    ).toBe(
      'acme-rotation:certificates[0].name: the secret name "acme-rotation-dev/acme-account" is the ACME account secret\'s',
    );
  });

  it('knows every key Pulumi.dev.yaml documents', () => {
    expect(KNOWN_KEYS).toHaveLength(28);
  });
});

describe('cas: CAs to fall back through', () => {
  const LE = 'https://acme-v02.api.letsencrypt.org/directory';
  const ZEROSSL = 'https://acme.zerossl.com/v2/DV90';

  it('reads the list in order, each CA with its own account secret; the first keeps the one-CA secret name', () => {
    const s = loadSettings(
      source({
        ...VALID,
        cas: JSON.stringify([
          { ca: 'production', profile: 'tlsserver' },
          { ca: ZEROSSL, name: 'zerossl', eabKid: 'kid-1', eabHmacKey: 'abc_DEF-123' },
        ]),
      }),
    );
    expect(s.cas).toEqual([
      {
        name: 'acme-v02.api.letsencrypt.org',
        directoryUrl: LE,
        profile: 'tlsserver',
        accountSecretName: 'acme-rotation-dev/acme-account',
      },
      {
        name: 'zerossl',
        directoryUrl: ZEROSSL,
        eabKid: 'kid-1',
        accountSecretName: 'acme-rotation-dev/acme-account-zerossl',
      },
    ]);
    expect(s.directoryUrl).toBe(LE);
    expect(s.eabKid).toBeUndefined();
  });

  it('without cas, the one CA of ca is the list', () => {
    const s = loadSettings(source({ ...VALID, ca: 'staging' }));
    expect(s.cas).toEqual([
      {
        name: 'acme-staging-v02.api.letsencrypt.org',
        directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
        accountSecretName: 'acme-rotation-dev/acme-account',
      },
    ]);
  });

  it.each([
    [{ cas: '[]' }, /^acme-rotation:cas: expected a non-empty list of CAs/],
    [{ cas: JSON.stringify([{ name: 'x' }]) }, /^acme-rotation:cas\[0\]\.ca: is required/],
    [
      { cas: JSON.stringify([{ ca: 'http://x.test/dir' }]) },
      /^acme-rotation:cas\[0\]\.ca: "http:\/\/x.test\/dir" must use https/,
    ],
    [
      { cas: JSON.stringify([{ ca: 'production', directoryURL: 'x' }]) },
      /^acme-rotation:cas\[0\]\.directoryURL: is not a CA setting/,
    ],
    [
      { cas: JSON.stringify([{ ca: ZEROSSL, eabKid: 'k' }]) },
      /^acme-rotation:cas\[0\]\.eabHmacKey: External Account Binding needs both/,
    ],
    [
      { cas: JSON.stringify([{ ca: 'production' }, { ca: 'production', name: 'again' }]) },
      /^acme-rotation:cas\[1\]: has the same directory as cas\[0\]/,
    ],
    [
      { cas: JSON.stringify([{ ca: 'production' }]), ca: 'staging' },
      /^acme-rotation:ca: is set beside acme-rotation:cas/,
    ],
    [
      { cas: JSON.stringify([{ ca: ZEROSSL, eabKid: 'k', eabHmacKey: 'abc' }]), account: 'ephemeral' },
      /^acme-rotation:cas\[0\]\.eabKid: External Account Binding needs acme-rotation:account=persistent/,
    ],
  ])('refuses %j', (settings, message) => {
    expect(problem(settings)).toMatch(message);
  });
});

describe("a certificate's own cas: the acme:ca tag", () => {
  const CAS = JSON.stringify([
    { ca: 'production', name: 'letsencrypt' },
    { ca: 'https://acme.zerossl.com/v2/DV90', name: 'zerossl' },
  ]);

  it('writes acme:ca with the names given, checked against the stack CAs', () => {
    const s = loadSettings(
      source({
        ...VALID,
        cas: CAS,
        certificates: JSON.stringify([{ name: 'web', domains: ['example.com'], cas: ['ZeroSSL'] }]),
      }),
    );
    expect(s.certificates[0]?.specTags['acme:ca']).toBe('ZeroSSL');
  });

  it('without it, no acme:ca tag (every CA of the stack)', () => {
    const s = loadSettings(source({ ...VALID, cas: CAS }));
    expect(s.certificates.every((c) => c.specTags['acme:ca'] === undefined)).toBe(true);
  });

  it('refuses a name that is none of the stack CAs', () => {
    expect(
      problem({
        cas: CAS,
        certificates: JSON.stringify([{ name: 'web', domains: ['example.com'], cas: ['buypass'] }]),
      }),
    ).toBe('acme-rotation:certificates[0].cas[0]: "buypass" is not one of the stack\'s CAs ("letsencrypt", "zerossl")');
  });
});
