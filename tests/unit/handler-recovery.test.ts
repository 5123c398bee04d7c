import { rotationFailureTagValue } from '../../rotation/certificate/tags.js';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHandler, STEPS, type Services } from '../../rotation/function/handler.js';
import { AcmeError, ConfigError, DnsError } from '../../rotation/lib/errors.js';
import type { FailureEvent } from '../../rotation/aws/notify.js';
import { bundleFor, DIRECTORY_URL, makeWorld, OLD, SECRET_ARN, SECRET_NAME, TOKEN } from './fakes.js';

describe('handler: getting unstuck and saying which secret failed', () => {
  it('refuses a pending bundle that no longer matches the tags, naming the difference and the way out', async () => {
    // createSecret stored a bundle for example.com; then the spec gained www.example.com.
    const w = makeWorld({
      domains: ['example.com', 'www.example.com'],
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSPENDING'] },
      },
    });
    const err = await w.invoke('createSecret').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(`secret "${SECRET_NAME}" createSecret: the pending certificate (version ${TOKEN})`);
    expect(err?.message).toContain('missing www.example.com');
    expect(err?.message).toContain(`aws secretsmanager cancel-rotate-secret --secret-id ${SECRET_NAME}`);
    expect(w.caRequests()).toBe(0);
    expect(w.sm.stages(SECRET_ARN)[OLD]).toEqual(['AWSCURRENT']);
  });

  it('sends the RotationToken with PutSecretValue (assumed-role and cross-account rotation)', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    await w.handler(
      { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN, RotationToken: 'rot-token-1' },
      { getRemainingTimeInMillis: () => 900_000 },
    );
    expect(w.sm.puts().map((p) => p.RotationToken)).toEqual(['rot-token-1']);
    expect(w.log.raw.join('\n')).not.toContain('rot-token-1');
  });

  it('prefixes errors that do not name the secret with the secret and the step', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.onPropagation = () => {
      throw new Error('resolver exploded');
    };
    const err = await w.invoke('createSecret').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`secret "${SECRET_NAME}" createSecret: resolver exploded`);
  });

  it('reports a broken configuration as a failed step through the init-failure reporter', async () => {
    const reported: FailureEvent[] = [];
    const handler = createHandler(
      (): Services => {
        throw new ConfigError('ACME_DIRECTORY_URL is not set');
      },
      async (e) => {
        reported.push(e);
      },
    );
    await expect(handler({ Step: 'createSecret', SecretId: 'certs/a', ClientRequestToken: TOKEN })).rejects.toThrow(
      'secret "certs/a" createSecret: ACME_DIRECTORY_URL is not set',
    );
    expect(reported).toEqual([
      expect.objectContaining({
        status: 'failed',
        step: 'createSecret',
        secret_name: 'certs/a',
        error_code: 'InvalidConfig',
        version_id: TOKEN,
      }),
    ]);
  });
});

/** A current bundle recording the CA and account that issued it (as the rotation stores it). */
function issuedBy(domains: string[], directoryUrl = DIRECTORY_URL, accountUrl = 'https://ca.test/account/1') {
  return {
    [OLD]: {
      value: JSON.stringify({ ...bundleFor(domains), acme_directory_url: directoryUrl, acme_account_url: accountUrl }),
      stages: ['AWSCURRENT'],
    },
    [TOKEN]: { stages: ['AWSPENDING'] },
  };
}

describe('renewals name the certificate they replace (ARI, RFC 9773)', () => {
  it('sends replaces = base64url(AKI).base64url(serial) of AWSCURRENT when the CA supports renewalInfo', async () => {
    const w = makeWorld({ domains: ['example.com'], versions: issuedBy(['example.com']) });
    w.ca.renewalInfo = true;
    await w.invoke('createSecret');
    const current = new X509Certificate(JSON.parse(w.sm.value(SECRET_ARN, OLD) as string).certificate as string);
    const [aki, serial] = (w.ca.orders[0]?.replaces ?? '').split('.');
    const serialHex = current.serialNumber.length % 2 ? `0${current.serialNumber}` : current.serialNumber;
    // The DER INTEGER's content: the serial's bytes, with a 00 in front when the top bit is set.
    const expected = parseInt(serialHex.slice(0, 2), 16) >= 0x80 ? `00${serialHex}` : serialHex;
    expect(
      Buffer.from(serial ?? '', 'base64url')
        .toString('hex')
        .toUpperCase(),
    ).toBe(expected.toUpperCase());
    expect(Buffer.from(aki ?? '', 'base64url').length).toBe(20);
    expect(w.sm.puts()).toHaveLength(1);
    // The new bundle records its CA and account, for the renewal after it.
    const stored = JSON.parse(w.sm.value(SECRET_ARN, TOKEN) as string) as Record<string, unknown>;
    expect(stored.acme_directory_url).toBe(DIRECTORY_URL);
    expect(stored.acme_account_url).toBe('https://ca.test/account/1');
  });

  it('sends no replaces for a certificate of another CA, another account, or one that does not say', async () => {
    const cases = {
      otherCa: issuedBy(['example.com'], 'https://other-ca.test/directory'),
      otherAccount: issuedBy(['example.com'], DIRECTORY_URL, 'https://ca.test/account/2'),
      notRecorded: undefined,
    };
    for (const [what, versions] of Object.entries(cases)) {
      const w = makeWorld({ domains: ['example.com'], ...(versions ? { versions } : {}) });
      w.ca.renewalInfo = true;
      await w.invoke('createSecret');
      expect(w.ca.orders, what).toEqual([{ domains: ['example.com'], profile: undefined }]);
      expect(w.sm.puts(), what).toHaveLength(1);
      expect(w.log.find('renewing without replaces') !== undefined, what).toBe(true);
    }
  });

  it('orders without replaces when the CA has no renewalInfo, or says the certificate was already replaced', async () => {
    const plain = makeWorld({ domains: ['example.com'], versions: issuedBy(['example.com']) });
    await plain.invoke('createSecret');
    expect(plain.ca.orders).toEqual([{ domains: ['example.com'], profile: undefined }]);

    const refused = makeWorld({ domains: ['example.com'], versions: issuedBy(['example.com']) });
    refused.ca.renewalInfo = true;
    refused.ca.rejectReplaces = true;
    await refused.invoke('createSecret');
    expect(refused.ca.orders.map((o) => o.replaces !== undefined)).toEqual([true, false]);
    expect(refused.sm.puts()).toHaveLength(1);
    const warning = refused.log.find('the CA refused the order as a renewal');
    expect(warning?.why).toMatch(/already replaced \(a retry of a half-finished rotation/);
  });

  it('does not order again when the CA rate-limits a renewal order: that is no refusal of replaces', async () => {
    const w = makeWorld({ domains: ['example.com'], versions: issuedBy(['example.com']) });
    w.ca.renewalInfo = true;
    w.ca.createOrderError = new AcmeError('AcmeRateLimited', 'the CA rate-limited newOrder', {
      problem: { type: 'rateLimited', status: 429 },
    });
    await expect(w.invoke('createSecret')).rejects.toThrow('the CA rate-limited newOrder');
    expect(w.ca.orders).toHaveLength(1);
    expect(w.sm.puts()).toHaveLength(0);
  });
});

const FAILURE_TAG = 'acme-rotation:inflight-failure';
/** What a Secrets Manager tag value may hold (TagResource's pattern), and its length in code points. */
const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_TAG_VALUE_CHARS = 255;

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('the step succeeded');
    },
    (e: unknown) => e as Error,
  );
}

describe("the rotation's last failure, on the secret (acme-rotation:inflight-failure)", () => {
  it('a failed step records its time, step and message; the next promotion removes it, after the status tags', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.dns.zoneCheckError = new DnsError('NoHostedZone', 'no Route 53 hosted zone for _acme-challenge.example.com');
    const err = await failure(w.invoke('createSecret'));
    expect(err.message).toBe(
      `secret "${SECRET_NAME}" createSecret: no Route 53 hosted zone for _acme-challenge.example.com`,
    );
    expect(w.sm.tags(SECRET_ARN)[FAILURE_TAG]).toBe(
      '2026-03-01T12:00:00.000Z createSecret: no Route 53 hosted zone for _acme-challenge.example.com',
    );

    // Secrets Manager retries; the zone is there now. The failure stays until a certificate is current.
    w.dns.zoneCheckError = undefined;
    for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
      await w.invoke(step);
      expect(w.sm.tags(SECRET_ARN)[FAILURE_TAG], step).toBeDefined();
    }
    await w.invoke('finishSecret');
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(w.sm.tags(SECRET_ARN)).not.toHaveProperty(FAILURE_TAG);
    expect(w.sm.untagCalls()).toContainEqual({ SecretId: SECRET_ARN, TagKeys: [FAILURE_TAG] });
    expect(w.timeline.first(`sm:UntagResource[${FAILURE_TAG}]`)).toBeGreaterThan(
      w.timeline.first('sm:TagResource[ExpirationDate,IssuedAt,Domains]'),
    );
  });

  it('records a spec error without the secret name the error begins with (the tag is on that secret)', async () => {
    const w = makeWorld({ domains: ['example.com'], tags: { 'acme:key-type': 'rsa-1024' } });
    const err = await failure(w.invoke('createSecret'));
    expect(err.message).toMatch(
      new RegExp(`^secret "${SECRET_NAME}" createSecret: tag acme:key-type value "rsa-1024" is invalid`),
    );
    expect(w.sm.tags(SECRET_ARN)[FAILURE_TAG]).toBe(
      '2026-03-01T12:00:00.000Z createSecret: tag acme:key-type value rsa-1024 is invalid: ' +
        'allowed values are ecdsa-p256 ecdsa-p384 rsa-2048 rsa-3072 rsa-4096 default ecdsa-p256',
    );
  });

  it('a rotation that never failed sends no UntagResource for it', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    for (const step of STEPS) await w.invoke(step);
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(w.sm.untagCalls().flatMap((c) => c.TagKeys ?? [])).not.toContain(FAILURE_TAG);
    expect(w.sm.tagCalls().flatMap((c) => (c.Tags ?? []).map((t) => t.Key))).not.toContain(FAILURE_TAG);
  });

  it('a TagResource that fails is logged and leaves the thrown error and the notice as they were', async () => {
    const plain = makeWorld({ domains: ['example.com'] });
    plain.dns.zoneCheckError = new DnsError('NoHostedZone', 'no Route 53 hosted zone for _acme-challenge.example.com');
    const expected = await failure(plain.invoke('createSecret'));

    const w = makeWorld({ domains: ['example.com'] });
    w.dns.zoneCheckError = new DnsError('NoHostedZone', 'no Route 53 hosted zone for _acme-challenge.example.com');
    w.sm.before = (op, input) => {
      const tags = (input.Tags ?? []) as { Key?: string }[];
      if (op === 'TagResource' && tags.some((t) => t.Key === FAILURE_TAG)) {
        throw Object.assign(new Error('User is not authorized to perform: secretsmanager:TagResource'), {
          name: 'AccessDeniedException',
        });
      }
    };
    const err = await failure(w.invoke('createSecret'));
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).code).toBe('NoHostedZone');
    expect(err.message).toBe(expected.message);
    expect(w.sm.tags(SECRET_ARN)).not.toHaveProperty(FAILURE_TAG);
    expect(w.log.find(`could not record the failure in the ${FAILURE_TAG} tag`)).toMatchObject({ level: 'error' });
    expect(JSON.parse(w.sns.publishes()[0]?.Message ?? '{}')).toMatchObject({
      status: 'failed',
      step: 'createSecret',
      error: expected.message,
      error_code: 'NoHostedZone',
    });
  });

  it('an UntagResource that fails is logged and the rotation still finishes', async () => {
    const w = makeWorld({
      domains: ['example.com'],
      tags: { [FAILURE_TAG]: '2026-02-28T00:00:00.000Z createSecret: x' },
    });
    w.sm.before = (op, input) => {
      if (op === 'UntagResource' && (input.TagKeys as string[]).includes(FAILURE_TAG)) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
    };
    for (const step of STEPS) await w.invoke(step);
    expect(w.sm.stages(SECRET_ARN)[TOKEN]).toEqual(['AWSCURRENT']);
    expect(w.log.find(`could not remove the ${FAILURE_TAG} tag`)).toMatchObject({ level: 'error' });
    expect(JSON.parse(w.sns.publishes().at(-1)?.Message ?? '{}')).toMatchObject({ status: 'success' });
  });

  it('a refused invocation (not the rotation in progress) records nothing over the rotation failure', async () => {
    const recorded = '2026-02-28T00:00:00.000Z createSecret: no Route 53 hosted zone for _acme-challenge.example.com';
    const w = makeWorld({
      domains: ['example.com'],
      tags: { [FAILURE_TAG]: recorded },
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { stages: ['AWSPREVIOUS'] },
      },
    });
    await failure(w.invoke('createSecret'));
    expect(w.sm.tags(SECRET_ARN)[FAILURE_TAG]).toBe(recorded);
    expect(w.sm.tagCalls()).toEqual([]);
  });

  it('never records key material, and a long message in a value Secrets Manager takes (255 characters)', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const w = makeWorld({ domains: ['example.com'] });
    w.onPropagation = () => {
      throw new Error(`resolver said "no" about ${pem} and then ${'𝒳'.repeat(400)}`);
    };
    await failure(w.invoke('createSecret'));
    const value = w.sm.tags(SECRET_ARN)[FAILURE_TAG] ?? '';
    expect(value.startsWith('2026-03-01T12:00:00.000Z createSecret: resolver said no about ')).toBe(true);
    for (const line of pem.split('\n').filter((l) => l && !l.startsWith('-----'))) {
      expect(value).not.toContain(line.slice(0, 16));
    }
    expect(value).toMatch(TAG_VALUE_PATTERN);
    expect([...value]).toHaveLength(MAX_TAG_VALUE_CHARS);
    // Cut between letters outside the BMP, never inside one.
    expect(value.endsWith('𝒳...')).toBe(true);
    expect(w.log.find(`could not record the failure in the ${FAILURE_TAG} tag`)).toBeUndefined();
  });
});

describe('rotationFailureTagValue', () => {
  const at = new Date('2026-05-04T03:02:01.000Z');

  it('keeps what a tag value may hold and turns each run of anything else into one space', () => {
    expect(rotationFailureTagValue('setSecret', 'a "b"\n\t(c) [d] é ü 名 1+2=3 _x.y:z/w@v-u; ok!', at)).toBe(
      '2026-05-04T03:02:01.000Z setSecret: a b c d é ü 名 1+2=3 _x.y:z/w@v-u ok',
    );
  });

  it('is at most 255 characters, however long the message', () => {
    const value = rotationFailureTagValue('finishSecret', 'x'.repeat(1000), at);
    expect(value).toBe(`2026-05-04T03:02:01.000Z finishSecret: ${'x'.repeat(255 - 39 - 3)}...`);
    expect(value).toHaveLength(255);
    const fits = rotationFailureTagValue('finishSecret', 'x'.repeat(255 - 39), at);
    expect(fits).toBe(`2026-05-04T03:02:01.000Z finishSecret: ${'x'.repeat(216)}`);
  });

  it('redacts a private key, even one cut short', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const body = pem.split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(16);
    expect(rotationFailureTagValue('createSecret', `key ${pem} after`, at)).toBe(
      '2026-05-04T03:02:01.000Z createSecret: key REDACTED PRIVATE KEY after',
    );
    expect(rotationFailureTagValue('createSecret', `key ${pem.slice(0, 80)}`, at)).toBe(
      '2026-05-04T03:02:01.000Z createSecret: key REDACTED PRIVATE KEY',
    );
  });
});
