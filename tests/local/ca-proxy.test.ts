/**
 * The CA fault proxy (tests/local/ca-proxy.ts) in front of a real Pebble: URLs point at the
 * proxy (Pebble builds them from the Host header), a full issuance works through it, and each
 * fault action does what it says, seen through acme-client and raw HTTPS.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';

import * as acme from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Route53Service } from './aws/route53.js';
import { classifyAcmeRequest, startCaProxy, waitFor, type CaProxy } from './ca-proxy.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { startPebble, type Pebble } from './pebble.js';
import { startLocalStack } from './stack.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  url: string,
  ca: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: opts.method ?? 'GET', ca, headers: opts.headers ?? {}, agent: false, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'TEST_TIMEOUT' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

const ZONE = 'proxy.test';
let r53: Route53Service;
let zoneId: string;
let dns: DnsServer;
let pebble: Pebble;
let proxy: CaProxy;
let cert: string;
let key: string;
/** Responses acme-client received: status, problem type, Retry-After, Replay-Nonce. */
const seen: { url: string; status: number; type?: string; retryAfter?: string; nonce?: string }[] = [];
let interceptor: number;

beforeAll(async () => {
  r53 = new Route53Service({ changeDelayMs: 0 });
  zoneId = r53.createZone(ZONE).id;
  dns = await startDnsServer({ route53: r53 });
  pebble = await startPebble({ dnsServer: `${dns.address}:${dns.port}` });
  cert = readFileSync(pebble.listenerCertPath, 'utf8');
  key = readFileSync(pebble.listenerKeyPath, 'utf8');
  proxy = await startCaProxy({ target: pebble.directoryUrl, targetCa: pebble.listenerCaPem, cert, key });

  // acme-client's shared axios instance: trust the listener CA, no hidden retries, short timeout.
  acme.axios.defaults.httpsAgent = new Agent({ ca: pebble.listenerCaPem });
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
  acme.axios.defaults.timeout = 10_000;
  // As rotation/acme/ca.ts does: keep network errors' cause instead of acme-client's TypeError.
  const httpAdapter: AxiosAdapter = axios.getAdapter('http');
  acme.axios.defaults.adapter = async (config) => {
    try {
      return await httpAdapter(config);
    } catch (err) {
      if (err && typeof err === 'object' && !(err as { response?: unknown }).response) {
        delete (err as { config?: unknown }).config;
      }
      throw err;
    }
  };
  interceptor = acme.axios.interceptors.response.use((res) => {
    const data = res.data as { type?: unknown } | undefined;
    const h = res.headers as Record<string, string | undefined>;
    seen.push({
      url: String(res.config.url),
      status: res.status,
      ...(typeof data?.type === 'string' ? { type: data.type } : {}),
      ...(h['retry-after'] !== undefined ? { retryAfter: h['retry-after'] } : {}),
      ...(h['replay-nonce'] !== undefined ? { nonce: h['replay-nonce'] } : {}),
    });
    return res;
  });
});

afterAll(async () => {
  acme.axios.interceptors.response.eject(interceptor);
  await proxy?.stop();
  await pebble?.stop();
  await dns?.stop();
});

afterEach(() => {
  proxy.clearFaults();
  proxy.resetCalls();
  seen.length = 0;
  acme.axios.defaults.timeout = 10_000;
});

async function newClient(accountKey?: Buffer): Promise<acme.Client> {
  return new acme.Client({
    directoryUrl: proxy.directoryUrl,
    accountKey: accountKey ?? (await acme.crypto.createPrivateEcdsaKey()),
    backoffMin: 50,
    backoffMax: 200,
    backoffAttempts: 40,
  });
}

/** A whole dns-01 issuance for `domain` through the proxy; returns the PEM chain. */
async function issue(client: acme.Client, domain: string): Promise<string> {
  const [, csr] = await acme.crypto.createCsr({ commonName: domain });
  return client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ['dns-01'],
    skipChallengeVerification: true,
    challengeCreateFn: async (authz, _challenge, keyAuthorization) => {
      r53.changeRecords(zoneId, [
        {
          action: 'UPSERT',
          record: {
            name: `_acme-challenge.${authz.identifier.value}`,
            type: 'TXT',
            ttl: 60,
            values: [`"${keyAuthorization}"`],
          },
        },
      ]);
    },
    challengeRemoveFn: async () => undefined,
  });
}

describe('classification', () => {
  it("maps Pebble's paths to ACME operations", () => {
    expect(classifyAcmeRequest('/dir')).toBe('directory');
    expect(classifyAcmeRequest('/nonce-plz')).toBe('newNonce');
    expect(classifyAcmeRequest('/sign-me-up')).toBe('newAccount');
    expect(classifyAcmeRequest('/my-account/1')).toBe('account');
    expect(classifyAcmeRequest('/order-plz')).toBe('newOrder');
    expect(classifyAcmeRequest('/my-order/abc')).toBe('order');
    expect(classifyAcmeRequest('/authZ/abc')).toBe('authz');
    expect(classifyAcmeRequest('/chalZ/abc')).toBe('challenge');
    expect(classifyAcmeRequest('/finalize-order/abc')).toBe('finalize');
    expect(classifyAcmeRequest('/certZ/abc')).toBe('certificate');
    expect(classifyAcmeRequest('/revoke-cert')).toBe('revokeCert');
    expect(classifyAcmeRequest('/rollover-account-key')).toBe('keyChange');
    expect(classifyAcmeRequest('/elsewhere')).toBe('unknown');
  });
});

describe('CA proxy without faults', () => {
  it('Pebble builds its URLs from the Host header, so the directory seen through the proxy points at the proxy', async () => {
    // Straight to Pebble with a made-up Host: every URL uses that host.
    const direct = await raw(pebble.directoryUrl, pebble.listenerCaPem, { headers: { host: '127.0.0.1:1' } });
    const directDir = JSON.parse(direct.body) as Record<string, unknown>;
    expect(directDir['newOrder']).toBe('https://127.0.0.1:1/order-plz');
    const nonce = await raw(pebble.directoryUrl.replace('/dir', '/nonce-plz'), pebble.listenerCaPem, {
      method: 'HEAD',
      headers: { host: '127.0.0.1:1' },
    });
    expect(nonce.headers['link']).toBe('<https://127.0.0.1:1/dir>;rel="index"');

    // Through the proxy.
    const res = await raw(proxy.directoryUrl, pebble.listenerCaPem);
    expect(res.status).toBe(200);
    const dir = JSON.parse(res.body) as Record<string, unknown>;
    for (const k of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange']) {
      expect(String(dir[k])).toMatch(new RegExp(`^${proxy.url}/`));
    }
    expect(proxy.calls).toEqual([
      expect.objectContaining({
        operation: 'directory',
        method: 'GET',
        path: '/dir',
        status: 200,
        upstreamStatus: 200,
      }),
    ]);
    expect(proxy.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.port).not.toBe(Number(new URL(pebble.directoryUrl).port));
  });

  it('carries a whole issuance with acme-client (Location, Link and the JWS url all match the proxy)', async () => {
    const client = await newClient();
    const chain = await issue(client, `whole.${ZONE}`);
    expect(chain).toContain('BEGIN CERTIFICATE');
    expect(client.getAccountUrl()).toMatch(new RegExp(`^${proxy.url}/my-account/`));
    for (const op of [
      'directory',
      'newNonce',
      'newAccount',
      'newOrder',
      'authz',
      'challenge',
      'finalize',
      'certificate',
    ] as const) {
      expect(proxy.count(op), op).toBeGreaterThanOrEqual(1);
    }
    expect(proxy.count('unknown')).toBe(0);
    expect(proxy.calls.every((c) => c.status !== undefined && c.status < 400 && c.fault === undefined)).toBe(true);
    expect(seen.every((s) => s.url.startsWith(proxy.url))).toBe(true);
  });
});

describe('CA proxy faults', () => {
  it('problem: answers a problem document with Retry-After and a usable fresh nonce, without forwarding', async () => {
    const client = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    let hits = 0;
    proxy.addFault({
      operation: 'newOrder',
      action: {
        type: 'problem',
        problem: { status: 429, type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down', retryAfter: 7 },
      },
      onHit: () => hits++,
    });
    const err = await rejection(client.createOrder({ identifiers: [{ type: 'dns', value: `rl.${ZONE}` }] }));
    expect(err.message).toContain('slow down');
    expect(hits).toBe(1);
    const problem = seen.find((s) => s.status === 429);
    expect(problem).toMatchObject({ type: 'urn:ietf:params:acme:error:rateLimited', retryAfter: '7' });
    expect(problem?.nonce).toMatch(/^[A-Za-z0-9_-]{10,}$/);
    const rec = proxy.calls.find((c) => c.operation === 'newOrder');
    expect(rec).toMatchObject({ status: 429, fault: 'problem' });
    expect(rec?.upstreamStatus).toBeUndefined();

    // The fault fired once: the next newOrder reaches Pebble.
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `rl.${ZONE}` }] });
    expect(order.status).toBe('pending');
  });

  it("problem: the problem's Replay-Nonce is valid (acme-client's badNonce retry uses it and Pebble accepts it)", async () => {
    const client = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    proxy.resetCalls();
    proxy.addFault({
      operation: 'newOrder',
      action: {
        type: 'problem',
        problem: { status: 400, type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale' },
      },
    });
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `nonce.${ZONE}` }] });
    expect(order.status).toBe('pending');
    // One nonce fetched by the client; the retry used the one the problem carried.
    expect(proxy.calls.map((c) => [c.operation, c.fault, c.status])).toEqual([
      ['newNonce', undefined, 200],
      ['newOrder', 'problem', 400],
      ['newOrder', undefined, 201],
    ]);
  });

  it('problem over raw HTTPS: application/problem+json, status, Retry-After, Replay-Nonce, Link', async () => {
    proxy.addFault({
      operation: 'newAccount',
      times: 2,
      action: {
        type: 'problem',
        problem: {
          status: 503,
          type: 'urn:ietf:params:acme:error:serverInternal',
          detail: 'down for maintenance',
          retryAfter: 30,
        },
      },
    });
    for (let i = 0; i < 3; i++) {
      const res = await raw(`${proxy.url}/sign-me-up`, pebble.listenerCaPem, {
        method: 'POST',
        headers: { 'content-type': 'application/jose+json' },
        body: '{}',
      });
      if (i < 2) {
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toBe('application/problem+json');
        expect(res.headers['retry-after']).toBe('30');
        expect(res.headers['replay-nonce']).toBeTruthy();
        expect(res.headers['link']).toBe(`<${proxy.url}/dir>;rel="index"`);
        expect(JSON.parse(res.body)).toEqual({
          type: 'urn:ietf:params:acme:error:serverInternal',
          detail: 'down for maintenance',
          status: 503,
        });
      } else {
        // times: 2 is used up; Pebble itself answers (a malformed JWS).
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed' });
      }
    }
    expect(proxy.calls.map((c) => c.fault)).toEqual(['problem', 'problem', undefined]);
  });

  it('hang: the client times out; Pebble never sees the request', async () => {
    const client = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    let hit = false;
    proxy.addFault({ operation: 'newOrder', action: { type: 'hang' }, onHit: () => (hit = true) });
    acme.axios.defaults.timeout = 500;
    const started = Date.now();
    const err = await rejection(client.createOrder({ identifiers: [{ type: 'dns', value: `hang.${ZONE}` }] }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(err.message).toMatch(/timeout/i);
    expect(hit).toBe(true);
    expect(proxy.calls.find((c) => c.operation === 'newOrder')).toMatchObject({ fault: 'hang' });
    expect(proxy.calls.find((c) => c.operation === 'newOrder')?.status).toBeUndefined();
    expect(proxy.calls.find((c) => c.operation === 'newOrder')?.upstreamStatus).toBeUndefined();
  });

  it('applyThenHang: Pebble applies the request (the account exists) but the client gets no answer', async () => {
    const accountKey = await acme.crypto.createPrivateEcdsaKey();
    const client = await newClient(accountKey);
    let upstreamWhenHit: number | undefined;
    proxy.addFault({
      operation: 'newAccount',
      action: { type: 'applyThenHang' },
      onHit: () => (upstreamWhenHit = proxy.calls.find((c) => c.operation === 'newAccount')?.upstreamStatus),
    });
    acme.axios.defaults.timeout = 1_000;
    const err = await rejection(client.createAccount({ termsOfServiceAgreed: true }));
    expect(err.message).toMatch(/timeout/i);
    expect(upstreamWhenHit).toBe(201);
    await waitFor(() => proxy.hungCount() >= 1, 2_000, 'a hung socket');

    // The account was created in Pebble: onlyReturnExisting finds it with the same key.
    acme.axios.defaults.timeout = 10_000;
    const again = await newClient(accountKey);
    const account = await again.createAccount({ onlyReturnExisting: true });
    expect(account.status).toBe('valid');
    expect(again.getAccountUrl()).toMatch(new RegExp(`^${proxy.url}/my-account/`));
  });

  it('drop: the connection is destroyed without an answer (ECONNRESET)', async () => {
    proxy.addFault({ operation: 'directory', action: { type: 'drop' } });
    const err = await rejection(raw(proxy.directoryUrl, pebble.listenerCaPem));
    expect(err.code).toBe('ECONNRESET');
    expect(proxy.calls[0]).toMatchObject({ operation: 'directory', fault: 'drop' });
    expect(proxy.calls[0]?.status).toBeUndefined();
    // Only once: the next request goes through.
    expect((await raw(proxy.directoryUrl, pebble.listenerCaPem)).status).toBe(200);
  });

  it('applyThenDrop: Pebble creates the order, the client gets a reset; match picks the request by payload', async () => {
    const client = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    proxy.addFault({
      operation: 'newOrder',
      match: (req) =>
        JSON.stringify((req.payload as { identifiers?: unknown } | undefined)?.identifiers).includes(`drop-me.${ZONE}`),
      action: { type: 'applyThenDrop' },
    });
    // Not matching: passes.
    await client.createOrder({ identifiers: [{ type: 'dns', value: `keep.${ZONE}` }] });
    const err = await rejection(client.createOrder({ identifiers: [{ type: 'dns', value: `drop-me.${ZONE}` }] }));
    expect(err.message).toMatch(/socket hang up|ECONNRESET/i);
    const orders = proxy.calls.filter((c) => c.operation === 'newOrder');
    expect(orders.map((c) => [c.fault, c.upstreamStatus, c.status])).toEqual([
      [undefined, 201, 201],
      ['applyThenDrop', 201, undefined],
    ]);
  });

  it('delay: answers normally after the delay; times: Infinity keeps firing', async () => {
    proxy.addFault({ operation: 'directory', times: Infinity, action: { type: 'delay', ms: 300 } });
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const res = await raw(proxy.directoryUrl, pebble.listenerCaPem);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    }
    expect(proxy.calls.map((c) => c.fault)).toEqual(['delay', 'delay']);
    const remove = proxy.addFault({ operation: 'newNonce', times: Infinity, action: { type: 'drop' } });
    remove();
    expect((await raw(`${proxy.url}/nonce-plz`, pebble.listenerCaPem, { method: 'HEAD' })).status).toBe(200);
  });

  it('pass: forwards normally and runs onHit before Pebble sees the request', async () => {
    let callsAtHit = -1;
    proxy.addFault({
      operation: 'directory',
      action: { type: 'pass' },
      onHit: (req) => {
        expect(req).toMatchObject({ operation: 'directory', method: 'GET', path: '/dir' });
        callsAtHit = proxy.calls.filter((c) => c.upstreamStatus !== undefined).length;
      },
    });
    const res = await raw(proxy.directoryUrl, pebble.listenerCaPem);
    expect(res.status).toBe(200);
    expect(callsAtHit).toBe(0);
    expect(proxy.calls).toEqual([
      expect.objectContaining({ operation: 'directory', fault: 'pass', status: 200, upstreamStatus: 200 }),
    ]);
  });

  it('down(): connection refused on the same port until up()', async () => {
    await proxy.down();
    expect(proxy.isUp()).toBe(false);
    const err = await rejection(raw(proxy.directoryUrl, pebble.listenerCaPem));
    expect(err.code).toBe('ECONNREFUSED');
    const client = await newClient();
    const viaClient = await rejection(client.getTermsOfServiceUrl());
    expect(viaClient.message).toMatch(/ECONNREFUSED/);
    await proxy.up();
    expect(proxy.isUp()).toBe(true);
    expect((await raw(proxy.directoryUrl, pebble.listenerCaPem)).status).toBe(200);
  });
});

describe('CA proxy stop', () => {
  it('stop() ends hung requests (the client sees the connection close) and frees the port', async () => {
    const other = await startCaProxy({ target: pebble.directoryUrl, targetCa: pebble.listenerCaPem, cert, key });
    other.addFault({ operation: 'directory', action: { type: 'hang' } });
    const pending = rejection(raw(other.directoryUrl, pebble.listenerCaPem, { timeoutMs: 10_000 }));
    await waitFor(() => other.hungCount() === 1, 2_000, 'the hang');
    const started = Date.now();
    await other.stop();
    const err = await pending;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.code).toBe('ECONNRESET');
    expect(other.hungCount()).toBe(0);
    expect((await rejection(raw(other.directoryUrl, pebble.listenerCaPem))).code).toBe('ECONNREFUSED');
    await expect(other.up()).rejects.toThrow(/stopped/);
  });
});

describe('local stack with caProxy', () => {
  it('puts the proxy in front of Pebble and points ACME_DIRECTORY_URL at it; without the option nothing changes', async () => {
    const stack = await startLocalStack({ caProxy: true });
    try {
      expect(stack.lambdaEnv['ACME_DIRECTORY_URL']).toBe(stack.ca.directoryUrl);
      expect(stack.ca.directoryUrl).not.toBe(stack.pebble.directoryUrl);
      // The trust file the Lambda uses covers the proxy's certificate.
      const trust = readFileSync(stack.trustFile, 'utf8');
      const res = await raw(stack.ca.directoryUrl, trust);
      expect(res.status).toBe(200);
      expect(String((JSON.parse(res.body) as Record<string, unknown>)['newOrder'])).toBe(`${stack.ca.url}/order-plz`);
      expect(stack.ca.count('directory')).toBe(1);
    } finally {
      await stack.stop();
    }
    expect(stack.ca.isUp()).toBe(false);

    const plain = await startLocalStack();
    try {
      expect(plain.ca).toBeUndefined();
      expect(plain.lambdaEnv['ACME_DIRECTORY_URL']).toBe(plain.pebble.directoryUrl);
    } finally {
      await plain.stop();
    }
  });
});
