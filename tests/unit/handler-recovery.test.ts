import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHandler, type Services } from '../../rotation/handler.js';
import { AcmeError, ConfigError } from '../../rotation/errors.js';
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
