import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Route53Service } from './aws/route53.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { httpsGet, startPebble, type Pebble } from './pebble.js';
import { startLocalStack } from './stack.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Pebble harness', () => {
  let dns: DnsServer;
  let pebble: Pebble | undefined;

  beforeAll(async () => {
    dns = await startDnsServer({ route53: new Route53Service({ changeDelayMs: 0 }) });
  });
  afterAll(async () => {
    await pebble?.stop();
    await dns?.stop();
  });

  it('starts Pebble, serves the directory over HTTPS and the issuing root, and stops it', async () => {
    const started = Date.now();
    pebble = await startPebble({ dnsServer: `${dns.address}:${dns.port}` });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(pebble.directoryUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dir$/);
    expect(isAlive(pebble.pid)).toBe(true);

    // The directory, trusting only the listener CA.
    const res = await httpsGet(pebble.directoryUrl, pebble.listenerCaPem);
    expect(res.status).toBe(200);
    const directory = JSON.parse(res.body) as Record<string, string>;
    expect(directory.newNonce).toMatch(/^https:\/\/127\.0\.0\.1:/);
    expect(directory.newAccount).toBeDefined();
    expect(directory.newOrder).toBeDefined();

    // Without the listener CA the connection is refused (the root it trusts is not it).
    const otherRoot = await pebble.issuingRootsPem();
    await expect(httpsGet(pebble.directoryUrl, otherRoot)).rejects.toThrow(/certificate/i);

    // The listener CA is a CA; the listener certificate is valid for localhost too.
    const ca = new X509Certificate(pebble.listenerCaPem);
    expect(ca.ca).toBe(true);
    const viaLocalhost = await httpsGet(
      pebble.directoryUrl.replace('127.0.0.1', 'localhost'),
      pebble.listenerCaPem,
    ).catch((err: NodeJS.ErrnoException) => err);
    // localhost may resolve to ::1 where Pebble does not listen; a name mismatch would be a TLS error.
    if (viaLocalhost instanceof Error) expect(viaLocalhost.code).toMatch(/ECONNREFUSED|EADDRNOTAVAIL/);
    else expect(viaLocalhost.status).toBe(200);

    // The issuing root: a self-signed CA certificate, different from the listener CA.
    const rootsPem = await pebble.issuingRootsPem();
    const root = new X509Certificate(rootsPem);
    expect(root.ca).toBe(true);
    expect(root.subject).toMatch(/Pebble Root CA/);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.fingerprint256).not.toBe(ca.fingerprint256);

    // Configured as asked: custom resolver, no VA sleeps, no authz reuse, no nonce rejection.
    const logs = pebble.logs.join('\n');
    expect(logs).toContain(`Using custom DNS resolver for ACME challenges: ${dns.address}:${dns.port}`);
    expect(logs).toContain('Disabling random VA sleeps');
    expect(logs).toMatch(/reuse .* 0% of the time/);
    expect(logs).toMatch(/reject 0% of good nonces/);

    const pid = pebble.pid;
    await pebble.stop();
    expect(isAlive(pid)).toBe(false);
    await pebble.stop(); // idempotent
    pebble = undefined;
  });

  it('passes environment overrides and authz reuse through', async () => {
    pebble = await startPebble({
      dnsServer: `${dns.address}:${dns.port}`,
      authzReuse: 100,
      env: { PEBBLE_WFE_NONCEREJECT: '25' },
    });
    const logs = pebble.logs.join('\n');
    expect(logs).toMatch(/reuse .* 100% of the time/);
    expect(logs).toMatch(/reject 25% of good nonces/);
    await pebble.stop();
    pebble = undefined;
  });

  it('fails with a clear error and Pebble output when it cannot start', async () => {
    // A "pebble" that exits at once stands in for a broken installation.
    await expect(startPebble({ dnsServer: `${dns.address}:${dns.port}`, binary: '/bin/false' })).rejects.toThrow(
      /Pebble exited early \(code 1[\s\S]*--- pebble output ---/,
    );
  });

  it('cleans up its temporary directory on stop', async () => {
    pebble = await startPebble({ dnsServer: `${dns.address}:${dns.port}` });
    const dir = pebble.dir;
    expect(existsSync(`${dir}/pebble-config.json`)).toBe(true);
    await pebble.stop();
    pebble = undefined;
    expect(existsSync(dir)).toBe(false);
  });
});

describe('local stack', () => {
  it('starts the endpoint, DNS responder and Pebble, and stops them all', async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const stack = await startLocalStack({ route53ChangeDelayMs: 0 });
    let stopped = false;
    try {
      const env = stack.lambdaEnv;
      expect(env.AWS_ENDPOINT_URL).toBe(stack.aws.url);
      expect(env.AWS_REGION).toBe('us-east-1');
      expect(env.ACME_DIRECTORY_URL).toBe(stack.pebble.directoryUrl);
      expect(env.DNS_RESOLVERS).toBe(`127.0.0.1:${stack.dns.port}`);
      expect(env.NODE_EXTRA_CA_CERTS).toBe(stack.trustFile);
      expect(env.ACME_EMAIL).toMatch(/@/);

      // Trust file: the listener CA first, then Pebble's issuing root.
      const pems =
        readFileSync(stack.trustFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ??
        [];
      expect(pems.length).toBeGreaterThanOrEqual(2);
      expect(new X509Certificate(pems[0] as string).fingerprint256).toBe(
        new X509Certificate(stack.pebble.listenerCaPem).fingerprint256,
      );
      expect(new X509Certificate(pems[1] as string).subject).toMatch(/Pebble Root CA/);

      const secret = await stack.createCertificateSecret(
        'stack/smoke',
        {
          domains: ['example.test', '*.example.test'],
          keyType: 'rsa-2048',
          hostedZoneIds: ['Z1', 'Z2'],
          profile: 'tlsserver',
        },
        { placeholder: '{}' },
      );
      expect(secret.name).toBe('stack/smoke');
      expect(stack.aws.secrets.tagsOf(secret.arn)).toEqual({
        'acme:domains': 'example.test,*.example.test',
        'acme:key-type': 'rsa-2048',
        'acme:hosted-zone-ids': 'Z1,Z2',
        'acme:profile': 'tlsserver',
      });
      expect(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')).toBe('{}');
      const empty = await stack.createEmptySecret('stack/account');
      expect(stack.aws.secrets.stagesOf(empty.arn)).toEqual({});

      const lambda = stack.newLambda({ EXTRA: '1' }, { functionName: 'smoke' });
      expect(lambda.functionArn).toBe(`arn:aws:lambda:us-east-1:${stack.aws.accountId}:function:smoke`);

      const pid = stack.pebble.pid;
      const workDir = stack.workDir;
      await stack.stop();
      stopped = true;
      expect(isAlive(pid)).toBe(false);
      expect(existsSync(workDir)).toBe(false);
      await expect(fetch(`${stack.aws.url}/`)).rejects.toThrow();
    } finally {
      if (!stopped) await stack.stop();
    }
  });
});
