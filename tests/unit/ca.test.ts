import { describe, expect, it } from 'vitest';
import { AcmeCa } from '../../rotation/acme/ca.js';
import { mapAcmeError, parseProblem, parseRetryAfter } from '../../rotation/acme/problems.js';
import { generatePrivateKey } from '../../rotation/acme/keys.js';
import { memoryOf } from '../../rotation/acme/transport.js';
import { AcmeError } from '../../rotation/lib/errors.js';

describe('AcmeCa', () => {
  it('reports a CA that does not answer as unreachable, with the network cause', async () => {
    const ca = new AcmeCa('https://127.0.0.1:1/dir', {
      accountKeyPem: await generatePrivateKey('ecdsa-p256'),
      fresh: true,
      persisted: false,
    });
    const err = await ca.register(undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('AcmeUnreachable');
    expect((err as AcmeError).message).toContain(
      'could not reach the CA at https://127.0.0.1:1/dir during newAccount: ECONNREFUSED',
    );
  });
});

describe('CA problem documents', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('keeps type, detail, Retry-After and subproblems of a problem answer', () => {
    const body = JSON.stringify({
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Error creating new order',
      subproblems: [
        {
          type: 'urn:ietf:params:acme:error:rejectedIdentifier',
          detail: 'forbidden by policy',
          identifier: { type: 'dns', value: 'blocked.example' },
        },
      ],
    });
    const problem = parseProblem(400, { 'retry-after': '3' }, body);
    expect(problem).toEqual({
      status: 400,
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Error creating new order',
      retryAfterMs: 3_000,
      subproblems: [
        {
          type: 'urn:ietf:params:acme:error:rejectedIdentifier',
          detail: 'forbidden by policy',
          identifier: 'blocked.example',
        },
      ],
    });
    const err = mapAcmeError('newOrder', 'https://ca.test/dir', new Error('Error creating new order'), problem);
    expect(err.code).toBe('AcmeRejectedIdentifier');
    expect(err.message).toBe(
      'CA rejected newOrder: rejectedIdentifier (HTTP 400): Error creating new order [blocked.example: rejectedIdentifier forbidden by policy]',
    );
  });

  it('says when the CA asks to retry a rate-limited call, and why the rotation did not wait', () => {
    const problem = parseProblem(
      429,
      { 'retry-after': '3600' },
      Buffer.from(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders' })),
    );
    const err = mapAcmeError('newOrder', 'https://ca.test/dir', new Error('too many new orders'), problem);
    expect(err.code).toBe('AcmeRateLimited');
    expect(err.message).toMatch(
      /^the CA rate-limited newOrder: rateLimited \(HTTP 429\): too many new orders; it asks to retry after 3600 s \(\d{4}-\d\d-\d\dT[\d:.]+Z\): longer than this invocation has left\. Secrets Manager retries the rotation/,
    );
  });

  it('keeps a non-JSON error answer readable', () => {
    const problem = parseProblem(502, {}, '<html>Bad Gateway</html>');
    expect(mapAcmeError('finalize', 'https://ca.test/dir', new Error(''), problem).message).toBe(
      'CA failed finalize: error (HTTP 502): <html>Bad Gateway</html>',
    );
  });
});

describe('AcmeCa.caaIdentities: the names a CA answers to in CAA records (meta.caaIdentities)', () => {
  const directory = (meta?: unknown) => ({
    newNonce: 'https://ca.invalid/nonce',
    newAccount: 'https://ca.invalid/account',
    newOrder: 'https://ca.invalid/order',
    ...(meta === undefined ? {} : { meta }),
  });

  it.each([
    ['listed', { caaIdentities: ['letsencrypt.org'] }, ['letsencrypt.org']],
    [
      'several, blanks and non-strings dropped',
      { caaIdentities: ['pki.goog', '', 7, 'google.com'] },
      ['pki.goog', 'google.com'],
    ],
    ['an empty list', { caaIdentities: [] }, undefined],
    ['no caaIdentities', { termsOfService: 'https://ca.invalid/tos' }, undefined],
    ['no meta', undefined, undefined],
  ])('%s', async (_what, meta, expected) => {
    // A directory this container already holds (transport.ts) is read without a request.
    const url = `https://ca-${Math.random().toString(36).slice(2)}.invalid/directory`;
    memoryOf(url).directory = { data: directory(meta), fetchedAt: Date.now() };
    const ca = new AcmeCa(url, {
      accountKeyPem: await generatePrivateKey('ecdsa-p256'),
      fresh: true,
      persisted: false,
    });
    expect(await ca.caaIdentities()).toEqual(expected);
  });
});
