/**
 * Falling back through an ordered list of CAs: which failures are the CA's (fall through) and
 * which are ours (fail as they are), what a rotation records of a failed CA for Secrets Manager's
 * retry, and the whole createSecret → finishSecret flow with two scripted CAs: the certificate of
 * the second, the failed order's TXT values gone before it is asked, the bundle, the notice and
 * the per-CA metrics naming both.
 */
import { CA_FAILED_TAG } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';

import { CaWaitDeadlineError, caFailure, failedCasTag, readFailedCas } from '../../rotation/acme/fallback.js';
import { candidatesOf, retryOrder, type CaSettings } from '../../rotation/acme/choice.js';
import { mapAcmeError, type AcmeProblem } from '../../rotation/acme/problems.js';
import { parseBundle } from '../../rotation/certificate/bundle.js';
import { AcmeError, DeadlineError, DnsError, SpecError } from '../../rotation/lib/errors.js';
import { parseSpec } from '../../rotation/certificate/spec.js';
import { FakeCa, SECRET_ARN, TOKEN, makeWorld, type World } from './fakes.js';

const URL_A = 'https://a.ca.test/directory';
const URL_B = 'https://b.ca.test:8443/directory';
const A: CaSettings = { name: 'first', directoryUrl: URL_A };
const B: CaSettings = { name: 'b.ca.test:8443', directoryUrl: URL_B, accountSecretId: 'acme/b' };

const problem = (status: number, type: string, detail = 'detail', retryAfterMs?: number): AcmeProblem => ({
  status,
  type: type ? `urn:ietf:params:acme:error:${type}` : '',
  detail,
  subproblems: [],
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});
const answered = (p: AcmeProblem, gaveUp?: string) => mapAcmeError('newOrder', URL_A, new Error('refused'), p, gaveUp);
const socket = (code: string) => mapAcmeError('newOrder', URL_A, Object.assign(new Error(`connect ${code}`), { code }));

describe("caFailure: only the CA's own failures to serve fall through", () => {
  it.each([
    ['connection refused', socket('ECONNREFUSED'), 'the CA could not be reached'],
    ['no answer in time', socket('ECONNABORTED'), 'the CA could not be reached'],
    ['DNS name of the CA unknown', socket('ENOTFOUND'), 'the CA could not be reached'],
    [
      '503 after the retries',
      answered(problem(503, '', 'maintenance'), 'still refused after 3 attempts'),
      'the CA answered HTTP 503 after the retries',
    ],
    ['serverInternal', answered(problem(500, 'serverInternal')), 'the CA reported an internal error (serverInternal)'],
    [
      'a rate limit past the deadline',
      answered(problem(429, 'rateLimited', 'too many', 7_200_000)),
      'the CA rate-limited the request for longer than this rotation can wait',
    ],
    ['badNonce to the end', answered(problem(400, 'badNonce')), 'the CA kept rejecting nonces'],
    [
      'an order the CA made invalid',
      new AcmeError('OrderInvalid', 'the CA marked the order invalid: {}'),
      'the CA marked the order invalid without a failed validation',
    ],
    [
      'an order that never became valid',
      new CaWaitDeadlineError('stopped waiting for the CA to issue the certificate'),
      'the CA did not finish the order within ACME_TIMEOUT_SECONDS',
    ],
  ])('%s falls through', (_what, err, reason) => {
    expect(caFailure(err)).toBe(reason);
  });

  it.each([
    ['an unauthorized account', answered(problem(403, 'unauthorized'))],
    ['an account the CA does not know', answered(problem(400, 'accountDoesNotExist'))],
    ['EAB required and missing', answered(problem(400, 'externalAccountRequired'))],
    ['CAA forbidding the CA', answered(problem(403, 'caa'))],
    ['a name the CA refuses', answered(problem(400, 'rejectedIdentifier'))],
    ['a malformed request', answered(problem(400, 'malformed'))],
    [
      'a failed validation of our TXT record',
      new AcmeError('ChallengeFailed', 'the CA could not validate example.com'),
    ],
    ['an authorization already invalid', new AcmeError('AuthorizationInvalid', 'invalid')],
    ['no dns-01 challenge offered', new AcmeError('NoDnsChallenge', 'http-01 only')],
    ['DNS propagation', new DnsError('PropagationTimeout', 'not seen')],
    ['a DNS wait past its deadline', new DeadlineError('not enough time left for Route 53')],
    ['the spec', new SpecError('bad tag')],
    ['CAA forbidding every CA', new DnsError('AcmeCaaForbids', 'CAA')],
    ['anything else', new Error('bug')],
  ])('%s does not fall through', (_what, err) => {
    expect(caFailure(err)).toBeUndefined();
  });
});

describe('the failed-CA tag', () => {
  it('records the failed CAs of one rotation, read back only by that rotation', () => {
    const tags = failedCasTag(TOKEN, [
      { index: 0, code: 'AcmeUnreachable' },
      { index: 2, code: 'AcmeRateLimited' },
    ]);
    expect(tags).toEqual({ [CA_FAILED_TAG]: `${TOKEN} 0:AcmeUnreachable 2:AcmeRateLimited` });
    const asTags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    expect(readFailedCas(asTags, TOKEN)).toEqual([
      { index: 0, code: 'AcmeUnreachable' },
      { index: 2, code: 'AcmeRateLimited' },
    ]);
    expect(readFailedCas(asTags, 'another-token')).toEqual([]);
    expect(readFailedCas([{ Key: CA_FAILED_TAG, Value: `${TOKEN} x:1 3:Ok` }], TOKEN)).toEqual([
      { index: 3, code: 'Ok' },
    ]);
  });

  it('fits a tag value (256 characters) for 8 CAs and a 64-character token, with the longest code that falls through', () => {
    const value = Object.values(
      failedCasTag(
        't'.repeat(64),
        Array.from({ length: 8 }, (_, index) => ({ index, code: 'AcmeRequestFailed' })),
      ),
    )[0] as string;
    expect(value.length).toBeLessThanOrEqual(256);
    expect(readFailedCas([{ Key: CA_FAILED_TAG, Value: value }], 't'.repeat(64))).toHaveLength(8);
    // Longer codes (none falls through today) are dropped before the value could outgrow the tag.
    const long = Object.values(
      failedCasTag(
        't'.repeat(64),
        Array.from({ length: 8 }, (_, index) => ({ index, code: 'X'.repeat(40) })),
      ),
    )[0] as string;
    expect(long.length).toBeLessThanOrEqual(256);
    expect(readFailedCas([{ Key: CA_FAILED_TAG, Value: long }], 't'.repeat(64)).map((f) => f.index)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
  });

  it('a retry starts with the CAs that have not failed, the failed ones last', () => {
    const c = [0, 1, 2].map((index) => ({
      index,
      settings: { name: `ca${index}`, directoryUrl: `https://ca${index}.test/d` },
    }));
    expect(retryOrder(c, [{ index: 0, code: 'X' }]).map((x) => x.index)).toEqual([1, 2, 0]);
    expect(
      retryOrder(c, [
        { index: 1, code: 'X' },
        { index: 0, code: 'X' },
      ]).map((x) => x.index),
    ).toEqual([2, 0, 1]);
    expect(retryOrder(c, []).map((x) => x.index)).toEqual([0, 1, 2]);
  });
});

describe('acme:ca: the CAs one certificate may come from', () => {
  it('picks and orders CAs by name (any letter case); an unknown name is a spec error listing the known ones', () => {
    const spec = parseSpec('certs/x', [
      { Key: 'acme:domains', Value: 'example.com' },
      { Key: 'acme:ca', Value: 'B.CA.TEST:8443, first' },
    ]);
    expect(spec.cas).toEqual(['b.ca.test:8443', 'first']);
    expect(candidatesOf([A, B], spec, 'certs/x').map((c) => c.index)).toEqual([1, 0]);
    expect(() => candidatesOf([A, B], { ...spec, cas: ['zerossl'] }, 'certs/x')).toThrow(
      'secret "certs/x": tag acme:ca names CA "zerossl", which this function does not have; its CAs are "first", "b.ca.test:8443" (ACME_CAS)',
    );
    expect(() =>
      parseSpec('certs/x', [
        { Key: 'acme:domains', Value: 'example.com' },
        { Key: 'acme:ca', Value: 'lets encrypt' },
      ]),
    ).toThrow(SpecError);
  });
});

/** A world with two scripted CAs behind the CA port; `b` issues unless told otherwise. */
function twoCas(
  opts: { tags?: Record<string, string> } = {},
): World & { b: FakeCa; metrics: string[]; asked: string[] } {
  const world = makeWorld({ config: { cas: [A, B], directoryUrl: URL_A }, ...(opts.tags ? { tags: opts.tags } : {}) });
  const b = new FakeCa({ timeline: world.timeline, dns: world.dns });
  b.account = 'https://b.ca.test/account/7';
  const metrics: string[] = [];
  const asked: string[] = [];
  world.services.metrics = (line) => metrics.push(line);
  const inner = world.services.stepContext;
  world.services.stepContext = (base) => {
    const ctx = inner(base);
    const pick = (ca: CaSettings) => (ca.directoryUrl === URL_B ? b : world.ca);
    ctx.ca = {
      ...ctx.ca,
      clientFor: (ca) => {
        asked.push(ca.name);
        return Promise.resolve(pick(ca));
      },
    };
    return ctx;
  };
  return Object.assign(world, { b, metrics, asked });
}

const pending = (w: World) => parseBundle(w.sm.value(SECRET_ARN, TOKEN));

describe('createSecret with two CAs', () => {
  it('the first unreachable: the second issues, after the first order left nothing in DNS; the bundle, notice and metrics say so', async () => {
    const w = twoCas();
    w.ca.createOrderError = socket('ECONNREFUSED');
    await w.invoke('createSecret');
    expect(w.asked).toEqual(['first', 'b.ca.test:8443']);
    expect(w.b.orders).toHaveLength(1);
    const bundle = pending(w);
    expect(bundle?.acme_ca).toBe('b.ca.test:8443');
    expect(bundle?.acme_directory_url).toBe(URL_B);
    expect(bundle?.acme_account_url).toBe('https://b.ca.test/account/7');
    expect(bundle?.acme_fallbacks).toEqual([
      { ca: 'first', directory_url: URL_A, error_code: 'AcmeUnreachable', reason: 'the CA could not be reached' },
    ]);
    expect(w.dns.live.size).toBe(0);
    // The failed-CA tag served the rotation and is gone.
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();

    await w.invoke('setSecret');
    await w.invoke('testSecret');
    await w.invoke('finishSecret');
    const notice = JSON.parse(w.sns.publishes().at(-1)?.Message ?? '{}') as Record<string, unknown>;
    expect(notice).toMatchObject({
      status: 'success',
      ca: 'b.ca.test:8443',
      ca_directory_url: URL_B,
      ca_fallbacks: [{ ca: 'first', directory_url: URL_A, error_code: 'AcmeUnreachable' }],
    });
    const emf = w.metrics.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf.map((m) => [m.Ca, m.CertificatesIssued ?? 0, m.CaFallbacks ?? 0])).toEqual([
      ['b.ca.test:8443', 1, 0],
      ['a.ca.test', 0, 1],
    ]);
  });

  it('one CA failing on its own terms: no failed-CA tag is written (a retry has no other CA to start at)', async () => {
    const w = makeWorld();
    w.ca.createOrderError = socket('ECONNREFUSED');
    await expect(w.invoke('createSecret')).rejects.toMatchObject({ code: 'AcmeUnreachable' });
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();
    expect(w.log.find('every CA this certificate may come from failed')).toBeUndefined();
  });

  it('a failed validation of our TXT record at the first CA does not fall through', async () => {
    const w = twoCas();
    w.ca.failValidation.set('example.com', 'no TXT record found');
    await expect(w.invoke('createSecret')).rejects.toMatchObject({ code: 'ChallengeFailed' });
    expect(w.asked).toEqual(['first']);
    expect(w.b.orders).toHaveLength(0);
    expect(w.dns.live.size).toBe(0);
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();
  });

  it('an order the first CA turns invalid after finalize falls through; the TXT values were gone before', async () => {
    const w = twoCas();
    w.ca.invalidAfterFinalize = { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'boom' };
    await w.invoke('createSecret');
    expect(pending(w)?.acme_fallbacks?.map((f) => f.error_code)).toEqual(['OrderInvalid']);
    const firstCleanUp = w.timeline.first('dns:cleanUp');
    const secondOrder = w.timeline.last('ca:newOrder');
    expect(w.timeline.count('ca:newOrder')).toBe(2);
    expect(firstCleanUp).toBeGreaterThanOrEqual(0);
    expect(firstCleanUp).toBeLessThan(secondOrder);
  });

  it('both CAs failing: the error says so, and the retry starts again at the first', async () => {
    const w = twoCas();
    w.ca.createOrderError = answered(problem(503, ''), 'still refused after 3 attempts');
    w.b.createOrderError = answered(problem(500, 'serverInternal'));
    const err = await w.invoke('createSecret').catch((e: unknown) => e as AcmeError);
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).message).toContain(
      'every CA this certificate may come from failed (first, b.ca.test:8443); Secrets Manager retries the rotation, starting again at the first',
    );
    // Every CA failed: nothing recorded, so Secrets Manager's retry starts again at the first.
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();
  });

  it("the retry of a rotation whose first CA failed starts at the second one, and the bundle names the first's failure", async () => {
    const w = twoCas({ tags: { [CA_FAILED_TAG]: `${TOKEN} 0:AcmeUnreachable` } });
    await w.invoke('createSecret');
    expect(w.asked).toEqual(['b.ca.test:8443']);
    expect(w.ca.orders).toHaveLength(0);
    expect(pending(w)?.acme_fallbacks).toEqual([
      {
        ca: 'first',
        directory_url: URL_A,
        error_code: 'AcmeUnreachable',
        reason: 'failed in an earlier attempt of this rotation (AcmeUnreachable)',
      },
    ]);
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();
  });

  it("another rotation's failed-CA tag is ignored: a new rotation starts at the first CA again", async () => {
    const w = twoCas({ tags: { [CA_FAILED_TAG]: 'an-older-token 0:AcmeUnreachable' } });
    await w.invoke('createSecret');
    expect(w.asked).toEqual(['first']);
    expect(pending(w)?.acme_ca).toBe('first');
    expect(pending(w)?.acme_fallbacks).toBeUndefined();
    expect(w.sm.tags(SECRET_ARN)[CA_FAILED_TAG]).toBeUndefined();
  });

  it('acme:ca restricts the certificate to the CAs it names', async () => {
    const w = twoCas({ tags: { 'acme:ca': 'b.ca.test:8443' } });
    w.b.createOrderError = socket('ECONNREFUSED');
    await expect(w.invoke('createSecret')).rejects.toMatchObject({ code: 'AcmeUnreachable' });
    expect(w.asked).toEqual(['b.ca.test:8443']);
    expect(w.ca.orders).toHaveLength(0);
  });

  it('CAA: a CA the records do not name is skipped, naming the record; none allowed fails before any order', async () => {
    const w = twoCas();
    w.ca.identities = ['first.example'];
    w.b.identities = ['b.example'];
    const inner = w.services.stepContext;
    const caaSet = '0 issue "b.example"';
    w.services.stepContext = (base) => {
      const ctx = inner(base);
      ctx.ca = {
        ...ctx.ca,
        caaIdentities: (ca) => (ca.directoryUrl === URL_B ? w.b : w.ca).caaIdentities(),
        caa: {
          relevantSet: (name) => {
            const [flags, tag, value] = caaSet.split(' ');
            return Promise.resolve({
              name,
              foundAt: 'example.com',
              properties: [
                { critical: flags === '128', tag: tag as string, value: (value as string).replace(/"/g, '') },
              ],
            });
          },
        },
      };
      return ctx;
    };
    await w.invoke('createSecret');
    expect(w.asked).toEqual(['b.ca.test:8443']);
    expect(w.log.find('CAA forbids this CA')).toMatchObject({
      ca: 'first',
      why: 'example.com CAA 0 issue "b.example" does not allow this CA (it answers to "first.example") to issue for example.com',
    });

    const fresh = twoCas();
    const freshInner = fresh.services.stepContext;
    fresh.services.stepContext = (base) => {
      const ctx = freshInner(base);
      ctx.ca = {
        ...ctx.ca,
        caaIdentities: () => Promise.resolve(['ca.example']),
        caa: {
          relevantSet: (name) =>
            Promise.resolve({
              name,
              foundAt: 'example.com',
              properties: [{ critical: false, tag: 'issue', value: 'nobody.example' }],
            }),
        },
      };
      return ctx;
    };
    await expect(fresh.invoke('createSecret')).rejects.toMatchObject({ code: 'AcmeCaaForbids' });
    expect(fresh.asked).toEqual([]);
    expect(fresh.dns.presentCalls).toHaveLength(0);
  });
});
