import {
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
} from '../../rotation/certificate/rules.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_API_TIMEOUT_SECONDS, loadConfig, MAX_CAS, parseCas } from '../../rotation/config/config.js';
import { parseResolvers } from '../../rotation/dns01/resolvers.js';
import { ConfigError } from '../../rotation/lib/errors.js';

const DIRECTORY = 'https://acme-staging-v02.api.letsencrypt.org/directory';
const base = { ACME_DIRECTORY_URL: DIRECTORY };

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected loadConfig to reject ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(base)).toEqual({
      cas: [{ name: 'acme-staging-v02.api.letsencrypt.org', directoryUrl: DIRECTORY }],
      directoryUrl: DIRECTORY,
      email: undefined,
      accountSecretId: undefined,
      notificationTopicArn: undefined,
      eventBusName: undefined,
      dnsResolvers: [],
      dnsPropagationTimeoutMs: DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS * 1000,
      acmeTimeoutMs: DEFAULT_ACME_TIMEOUT_SECONDS * 1000,
      apiTimeoutMs: DEFAULT_API_TIMEOUT_SECONDS * 1000,
      eventSource: 'acme-rotation',
      route53Roles: {},
    });
    expect(DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS).toBe(300);
    expect(DEFAULT_ACME_TIMEOUT_SECONDS).toBe(180);
    expect(DEFAULT_API_TIMEOUT_SECONDS).toBe(10);
  });

  it('reads every variable (trimmed)', () => {
    const config = loadConfig({
      ACME_DIRECTORY_URL: ` ${DIRECTORY} `,
      ACME_EMAIL: 'ops@example.com',
      ACME_ACCOUNT_SECRET_ID: 'acme/account',
      NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:certs',
      EVENT_BUS_NAME: 'default',
      DNS_RESOLVERS: '1.1.1.1, 8.8.8.8:53,[2606:4700::1111]:53',
      DNS_PROPAGATION_TIMEOUT_SECONDS: '120',
      ACME_TIMEOUT_SECONDS: '90',
      API_TIMEOUT_SECONDS: '5',
      EVENT_SOURCE: 'my.certificates',
      AWS_LAMBDA_FUNCTION_NAME: 'acme-rotation-prod',
      MAX_CERTIFICATE_LIFETIME_DAYS: ' 398 ',
      ACME_PREFERRED_CHAIN: ' ISRG Root X1 ',
    });
    expect(config).toEqual({
      cas: [
        {
          name: 'acme-staging-v02.api.letsencrypt.org',
          directoryUrl: DIRECTORY,
          accountSecretId: 'acme/account',
          preferredChain: 'ISRG Root X1',
        },
      ],
      directoryUrl: DIRECTORY,
      email: 'ops@example.com',
      accountSecretId: 'acme/account',
      notificationTopicArn: 'arn:aws:sns:eu-west-1:123456789012:certs',
      eventBusName: 'default',
      dnsResolvers: ['1.1.1.1', '8.8.8.8:53', '[2606:4700::1111]:53'],
      dnsPropagationTimeoutMs: 120_000,
      acmeTimeoutMs: 90_000,
      apiTimeoutMs: 5_000,
      eventSource: 'my.certificates',
      maxCertificateLifetimeMs: 398 * 86_400_000,
      preferredChain: 'ISRG Root X1',
      route53Roles: {},
    });
  });

  it('ROUTE53_ROLES: ZONE_ID=ROLE_ARN pairs; ROUTE53_EXTERNAL_ID', () => {
    const config = loadConfig({
      ...base,
      ROUTE53_ROLES:
        ' Z0AAAAAAAAAAAAAAAAAA1=arn:aws:iam::111122223333:role/acme-dns, /hostedzone/Z0BBBB=arn:aws:iam::444455556666:role/dns/acme ',
      ROUTE53_EXTERNAL_ID: 'acme-rotation-prod',
    });
    expect(config.route53Roles).toEqual({
      Z0AAAAAAAAAAAAAAAAAA1: 'arn:aws:iam::111122223333:role/acme-dns',
      Z0BBBB: 'arn:aws:iam::444455556666:role/dns/acme',
    });
    expect(config.route53ExternalId).toBe('acme-rotation-prod');
    for (const bad of ['Z1', 'Z1=arn:aws:iam::1111:role/x', 'z1=arn:aws:iam::111122223333:role/x']) {
      expect(configError({ ...base, ROUTE53_ROLES: bad }).message).toBe(
        `ROUTE53_ROLES entry "${bad}" is invalid: expected ZONE_ID=ROLE_ARN, e.g. Z0123456789ABCDEFGHIJ=arn:aws:iam::111122223333:role/acme-dns`,
      );
    }
    expect(
      configError({
        ...base,
        ROUTE53_ROLES: 'Z1=arn:aws:iam::111122223333:role/a,Z1=arn:aws:iam::111122223333:role/b',
      }).message,
    ).toBe('ROUTE53_ROLES names zone Z1 twice');
  });

  it('MAX_CERTIFICATE_LIFETIME_DAYS: whole days between 1 and 36500; unset is no cap', () => {
    for (const bad of ['0', '36501', '1.5', '90d', '-1']) {
      expect(configError({ ...base, MAX_CERTIFICATE_LIFETIME_DAYS: bad }).message).toBe(
        `MAX_CERTIFICATE_LIFETIME_DAYS="${bad}" is invalid: expected whole days between 1 and 36500 (e.g. 398 for the public CA limit), or unset for no cap`,
      );
    }
    expect(loadConfig({ ...base, MAX_CERTIFICATE_LIFETIME_DAYS: '1' }).maxCertificateLifetimeMs).toBe(86_400_000);
    expect(loadConfig(base).maxCertificateLifetimeMs).toBeUndefined();
  });

  it('uses the function name as the event source when EVENT_SOURCE is unset (seed behaviour)', () => {
    expect(loadConfig({ ...base, AWS_LAMBDA_FUNCTION_NAME: 'certbot-lambda-prod' }).eventSource).toBe(
      'certbot-lambda-prod',
    );
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({ ...base, ACME_EMAIL: '  ', ACME_ACCOUNT_SECRET_ID: '', DNS_RESOLVERS: ' , ' });
    expect(config.email).toBeUndefined();
    expect(config.accountSecretId).toBeUndefined();
    expect(config.dnsResolvers).toEqual([]);
  });

  it('ACME_DIRECTORY_URL: required', () => {
    expect(configError({}).message).toBe(
      'ACME_DIRECTORY_URL is not set: set it to the CA directory, e.g. https://acme-v02.api.letsencrypt.org/directory ' +
        '(or ACME_CAS to a list of CAs to fall back through)',
    );
    expect(configError({ ACME_DIRECTORY_URL: '   ' }).message).toContain('ACME_DIRECTORY_URL is not set');
  });

  it('ACME_DIRECTORY_URL: must be a URL', () => {
    expect(configError({ ACME_DIRECTORY_URL: 'letsencrypt' }).message).toBe(
      'ACME_DIRECTORY_URL="letsencrypt" is not a URL',
    );
  });

  it('ACME_DIRECTORY_URL: must use https', () => {
    expect(configError({ ACME_DIRECTORY_URL: 'http://localhost:14000/dir' }).message).toBe(
      'ACME_DIRECTORY_URL="http://localhost:14000/dir" must use https (RFC 8555 requires TLS)',
    );
  });

  it.each(['ops', 'ops@', '@example.com', 'ops@example', 'o ps@example.com'])('ACME_EMAIL: rejects %j', (email) => {
    expect(configError({ ...base, ACME_EMAIL: email }).message).toBe(`ACME_EMAIL="${email}" is not an e-mail address`);
  });

  it.each([
    'certs',
    'arn:aws:sqs:eu-west-1:123456789012:certs',
    'arn:aws:sns:eu-west-1:12345:certs',
    'arn:aws:sns:eu-west-1:123456789012:',
    'arn:aws:sns:eu-west-1:123456789012:has space',
  ])('NOTIFICATION_TOPIC_ARN: rejects %j', (arn) => {
    expect(configError({ ...base, NOTIFICATION_TOPIC_ARN: arn }).message).toBe(
      `NOTIFICATION_TOPIC_ARN="${arn}" is not an SNS topic ARN`,
    );
  });

  it.each(['arn:aws-us-gov:sns:us-gov-west-1:123456789012:certs', 'arn:aws:sns:us-east-1:123456789012:certs.fifo'])(
    'NOTIFICATION_TOPIC_ARN: accepts %j',
    (arn) => {
      expect(loadConfig({ ...base, NOTIFICATION_TOPIC_ARN: arn }).notificationTopicArn).toBe(arn);
    },
  );

  it.each(['DNS_PROPAGATION_TIMEOUT_SECONDS', 'ACME_TIMEOUT_SECONDS'])(
    '%s: whole seconds between 1 and 870',
    (name) => {
      for (const bad of ['0', '871', '1.5', '-5', 'ten', '60s']) {
        expect(configError({ ...base, [name]: bad }).message).toBe(
          `${name}="${bad}" is invalid: expected whole seconds between 1 and 870`,
        );
      }
      expect(loadConfig({ ...base, [name]: '1' })).toBeDefined();
      expect(loadConfig({ ...base, [name]: '870' })).toBeDefined();
    },
  );

  it('API_TIMEOUT_SECONDS: whole seconds between 1 and 60', () => {
    for (const bad of ['0', '61', '2.5', 'x']) {
      expect(configError({ ...base, API_TIMEOUT_SECONDS: bad }).message).toBe(
        `API_TIMEOUT_SECONDS="${bad}" is invalid: expected whole seconds between 1 and 60`,
      );
    }
    expect(loadConfig({ ...base, API_TIMEOUT_SECONDS: '60' }).apiTimeoutMs).toBe(60_000);
  });

  it('DNS_RESOLVERS: names the bad entry', () => {
    expect(configError({ ...base, DNS_RESOLVERS: '1.1.1.1,ns1.example.com' }).message).toBe(
      'DNS_RESOLVERS entry "ns1.example.com" is invalid: expected ip[:port] (e.g. 1.1.1.1,8.8.8.8:53 or [2606:4700::1111]:53)',
    );
  });
});

describe('parseResolvers', () => {
  it.each([
    ['1.1.1.1', ['1.1.1.1']],
    ['1.1.1.1:5353', ['1.1.1.1:5353']],
    ['::1', ['::1']],
    ['2606:4700::1111', ['2606:4700::1111']],
    ['[::1]:53', ['[::1]:53']],
    [' 8.8.8.8 ,, 9.9.9.9 ', ['8.8.8.8', '9.9.9.9']],
  ])('accepts %j', (raw, list) => {
    expect(parseResolvers(raw)).toEqual(list);
  });

  it.each(['example.com', '1.1.1', '1.1.1.1:', '[::1]:', 'http://1.1.1.1', '1.1.1.1 8.8.8.8'])('rejects %j', (raw) => {
    expect(() => parseResolvers(raw)).toThrow(ConfigError);
  });

  // Entries that match the pattern but are no IP address / port: they would only fail later, in the
  // middle of createSecret (after the TXT records were written), instead of at configuration time.
  it.each(['300.1.1.1', '1.1.1.1:99999', '1.1.1.1:0', 'cafe', 'beef:53'])('rejects %j (not an address)', (raw) => {
    expect(() => parseResolvers(raw)).toThrow(ConfigError);
  });
});

describe('ACME_CAS: an ordered list of CAs', () => {
  const LE = 'https://acme-v02.api.letsencrypt.org/directory';
  const ZEROSSL = 'https://acme.zerossl.com/v2/DV90';
  const cas = (list: unknown, env: Record<string, string> = {}) =>
    loadConfig({ ACME_CAS: JSON.stringify(list), ...env });

  it('reads the list in order; names default to the directory host (port included); the first CA is the one-CA fields', () => {
    const config = cas([
      { directoryUrl: LE, accountSecretId: 'acme/le', profile: 'tlsserver', preferredChain: 'ISRG Root X1' },
      { name: 'zerossl', directoryUrl: ` ${ZEROSSL} `, accountSecretId: 'acme/zerossl' },
      { directoryUrl: 'https://127.0.0.1:14000/dir' },
    ]);
    expect(config.cas).toEqual([
      {
        name: 'acme-v02.api.letsencrypt.org',
        directoryUrl: LE,
        accountSecretId: 'acme/le',
        profile: 'tlsserver',
        preferredChain: 'ISRG Root X1',
      },
      { name: 'zerossl', directoryUrl: ZEROSSL, accountSecretId: 'acme/zerossl' },
      { name: '127.0.0.1:14000', directoryUrl: 'https://127.0.0.1:14000/dir' },
    ]);
    expect(config.directoryUrl).toBe(LE);
    expect(config.accountSecretId).toBe('acme/le');
    expect(config.preferredChain).toBe('ISRG Root X1');
  });

  it('replaces ACME_DIRECTORY_URL, which may stay set (the one-CA form)', () => {
    const config = cas([{ directoryUrl: ZEROSSL }], { ACME_DIRECTORY_URL: LE });
    expect(config.directoryUrl).toBe(ZEROSSL);
    expect(config.cas.map((c) => c.directoryUrl)).toEqual([ZEROSSL]);
  });

  it('refuses one-CA account and chain settings beside it unless they say what the first entry says', () => {
    expect(() => cas([{ directoryUrl: LE, accountSecretId: 'a' }], { ACME_ACCOUNT_SECRET_ID: 'a' })).not.toThrow();
    expect(configError({ ACME_CAS: JSON.stringify([{ directoryUrl: LE }]), ACME_ACCOUNT_SECRET_ID: 'a' }).message).toBe(
      'ACME_ACCOUNT_SECRET_ID is set beside ACME_CAS, which replaces it: set "accountSecretId" in the ACME_CAS entries instead and unset ACME_ACCOUNT_SECRET_ID',
    );
    expect(
      configError({ ACME_CAS: JSON.stringify([{ directoryUrl: LE }]), ACME_PREFERRED_CHAIN: 'X' }).message,
    ).toContain('ACME_PREFERRED_CHAIN is set beside ACME_CAS');
  });

  it.each([
    ['not JSON', '[{directoryUrl:', /^ACME_CAS is not JSON: expected a list like/],
    ['an object', '{"directoryUrl": "https://a.test/dir"}', /^ACME_CAS must be a non-empty JSON list/],
    ['empty', '[]', /^ACME_CAS must be a non-empty JSON list/],
    ['a string entry', '["https://a.test/dir"]', /^ACME_CAS\[0\] must be an object like/],
    ['no directoryUrl', '[{"name": "a"}]', /^ACME_CAS\[0\] has no directoryUrl/],
    [
      'http',
      '[{"directoryUrl": "http://a.test/dir"}]',
      /^ACME_CAS\[0\]\.directoryUrl="http:\/\/a.test\/dir" must use https/,
    ],
    ['not a URL', '[{"directoryUrl": "letsencrypt"}]', /^ACME_CAS\[0\]\.directoryUrl="letsencrypt" is not a URL$/],
    ['a typo', '[{"directoryURL": "https://a.test/dir"}]', /^ACME_CAS\[0\] has an unknown key "directoryURL"/],
    ['a number', '[{"directoryUrl": 5}]', /^ACME_CAS\[0\]\.directoryUrl must be a string$/],
    [
      'a bad name',
      '[{"directoryUrl": "https://a.test/dir", "name": "lets encrypt"}]',
      /^ACME_CAS\[0\]\.name="lets encrypt" is invalid/,
    ],
    [
      'a bad profile',
      '[{"directoryUrl": "https://a.test/dir", "profile": "tls server"}]',
      /^ACME_CAS\[0\]\.profile="tls server" is invalid/,
    ],
  ])('refuses %s', (_what, raw, message) => {
    expect(configError({ ACME_CAS: raw }).message).toMatch(message);
  });

  it('refuses EAB credentials in the environment, saying where they belong', () => {
    for (const key of ['eab', 'externalAccountBinding', 'hmacKey', 'kid']) {
      const raw = JSON.stringify([{ directoryUrl: ZEROSSL, [key]: 'x' }]);
      expect(configError({ ACME_CAS: raw }).message).toBe(
        `ACME_CAS[0].${key}: EAB credentials belong in the CA's account secret ({"eab": {"kid": "…", "hmac_key": "…"}}, named by accountSecretId), never in the environment`,
      );
    }
  });

  it('refuses two CAs with one name, one directory or one account secret', () => {
    const dup = (a: object, b: object) => configError({ ACME_CAS: JSON.stringify([a, b]) }).message;
    expect(dup({ directoryUrl: LE, name: 'x' }, { directoryUrl: ZEROSSL, name: 'X' })).toBe(
      'ACME_CAS[0] and ACME_CAS[1] have the same name "X": give one of them a "name" of its own',
    );
    expect(dup({ directoryUrl: LE }, { directoryUrl: LE, name: 'other' })).toBe(
      `ACME_CAS[0] and ACME_CAS[1] have the same directoryUrl "${LE}"`,
    );
    expect(dup({ directoryUrl: LE, accountSecretId: 'acme' }, { directoryUrl: ZEROSSL, accountSecretId: 'acme' })).toBe(
      'ACME_CAS[0] and ACME_CAS[1] have the same accountSecretId "acme": give each CA its own account secret',
    );
  });

  it(`lists at most ${MAX_CAS} CAs`, () => {
    const list = Array.from({ length: MAX_CAS + 1 }, (_, i) => ({ directoryUrl: `https://ca${i}.test/dir` }));
    expect(configError({ ACME_CAS: JSON.stringify(list) }).message).toBe(
      `ACME_CAS lists ${MAX_CAS + 1} CAs; at most ${MAX_CAS} (each one that fails costs time)`,
    );
    expect(cas(list.slice(0, MAX_CAS)).cas).toHaveLength(MAX_CAS);
  });

  it('is what parseCas reads', () => {
    expect(parseCas(JSON.stringify([{ directoryUrl: LE }]))).toEqual([
      { name: 'acme-v02.api.letsencrypt.org', directoryUrl: LE },
    ]);
  });
});
