/**
 * The deployment's waiter (rotation/watch/await.ts): it returns once AWSCURRENT holds a
 * certificate and every ACM ARN of the secret holds its serial, re-imports into a lagging ARN
 * through its reconcile port, fails at once when waiting cannot help, and on timeout fails with
 * the rotation's last failure. Real SDK clients against the local endpoint's Secrets Manager and
 * ACM models, in process; time is virtual (the waiter's sleep advances it).
 */
import { ROTATION_FAILURE_TAG } from '../../rotation/certificate/tags.js';
import { randomUUID } from 'node:crypto';

import { ACMClient, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createLogger } from '../../rotation/lib/log.js';
import { acmArnTags, domainTags } from '../../rotation/certificate/spec.js';
import {
  AWAIT_EVENT_KEY,
  awaitCertificates,
  AwaitFailedError,
  isAwaitEvent,
  parseAwaitRequest,
  type AwaitPorts,
  type AwaitRequest,
  type AwaitSummary,
} from '../../rotation/watch/await.js';
import { rotationLogGroupOf, sdkAwaitPorts } from '../../rotation/watch/await-lambda.js';
import { handler } from '../../rotation/watch/index.js';
import { AcmAdapter } from '../../rotation/aws/acm.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { AcmService } from '../local/aws/acm.js';
import { inProcessHandler } from '../local/aws/in-process.js';
import { SecretsManagerService } from '../local/aws/secretsmanager.js';
import { startLocalAws, type LocalAws } from '../local/aws/server.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const NAMES = ['example.com', '*.example.com'];
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const CURRENT_VERSION = '11111111-2222-4333-8444-555555555555';
const PENDING_VERSION = '66666666-7777-4888-9999-aaaaaaaaaaaa';

let sm: SecretsManagerService;
let acm: AcmService;
let clock: number;
let sleeps: number[];
/** Run at each sleep, by its index: what the rotation does meanwhile. */
let during: Array<(() => void | Promise<void>) | undefined>;
const acmClients = new Map<string, ACMClient>();

function acmClient(region: string): ACMClient {
  let c = acmClients.get(region);
  if (!c) {
    c = new ACMClient({ region, credentials, maxAttempts: 1, requestHandler: inProcessHandler({ acm }) });
    acmClients.set(region, c);
  }
  return c;
}

beforeEach(() => {
  sm = new SecretsManagerService({ accountId: ACCOUNT, region: REGION });
  acm = new AcmService({ accountId: ACCOUNT });
  acmClients.clear();
  clock = Date.parse('2026-12-06T03:00:00Z');
  sleeps = [];
  during = [];
});

function ports(extra: Partial<AwaitPorts> = {}, timeLeftMs = 900_000): AwaitPorts {
  const started = clock;
  const secrets = new SecretsManagerClient({
    region: REGION,
    credentials,
    maxAttempts: 1,
    requestHandler: inProcessHandler({ secretsmanager: sm }),
  });
  return sdkAwaitPorts(
    { secrets, acm: async () => new AcmAdapter((region) => acmClient(region)) },
    {
      logger: createLogger({ service: 'test' }, { sink: () => undefined }),
      now: () => clock,
      sleep: async (ms) => {
        const step = during[sleeps.length];
        sleeps.push(ms);
        clock += ms;
        await step?.();
      },
      timeLeftMs: () => timeLeftMs - (clock - started),
      rotationLogGroup: '/aws/lambda/acme-rotation-dev-rotation',
      ...extra,
    },
  );
}

/** An ACM certificate holding a self-signed stand-in of the stack's placeholder. */
async function placeholderArn(region: string): Promise<string> {
  const pki = makeTestPki({ names: NAMES, intermediates: 0 });
  const out = await acmClient(region).send(
    new ImportCertificateCommand({
      Certificate: Buffer.from(pki.leaf.certPem),
      PrivateKey: Buffer.from(pki.leaf.keyPem),
    }),
  );
  return out.CertificateArn as string;
}

async function importInto(arn: string, pki: TestPki): Promise<void> {
  await acmClient(arn.split(':')[3] as string).send(
    new ImportCertificateCommand({
      CertificateArn: arn,
      Certificate: Buffer.from(pki.leaf.certPem),
      PrivateKey: Buffer.from(pki.leaf.keyPem),
      CertificateChain: Buffer.from(pki.chainPem),
    }),
  );
}

function certificateSecret(
  name: string,
  arns: string[],
  opts: { value?: string; pending?: boolean; rotationEnabled?: boolean; tags?: Record<string, string> } = {},
): string {
  const tags: Record<string, string> = { ...opts.tags };
  for (const t of [...domainTags(NAMES), ...acmArnTags(arns)]) tags[t.Key] = t.Value;
  const versions: Record<string, { value?: string; stages: string[] }> = {};
  if (opts.value !== undefined) versions[CURRENT_VERSION] = { value: opts.value, stages: ['AWSCURRENT'] };
  if (opts.pending) versions[PENDING_VERSION] = { stages: ['AWSPENDING'] };
  return sm.seedSecret({ name, rotationEnabled: opts.rotationEnabled ?? true, tags, versions }).arn;
}

/** What the rotation's finishSecret does: the bundle becomes AWSCURRENT. */
function promote(secretArn: string, pki: TestPki): void {
  sm.handle('PutSecretValue', {
    SecretId: secretArn,
    ClientRequestToken: randomUUID(),
    SecretString: JSON.stringify(pki.bundle),
    VersionStages: ['AWSCURRENT'],
  });
}

/** ACM's serial of a certificate, computed from the certificate itself. */
const serialOf = (pki: TestPki) => pki.leaf.cert.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, '');

const request = (secretIds: string[], timeoutSeconds = 600): AwaitRequest => ({ secretIds, timeoutSeconds });

describe('the waiter request', () => {
  it('is told from the scheduled watch by its key, and checked', () => {
    expect(isAwaitEvent({ [AWAIT_EVENT_KEY]: {} })).toBe(true);
    expect(isAwaitEvent({ continuation: 2 })).toBe(false);
    expect(isAwaitEvent({ source: 'aws.events', 'detail-type': 'Scheduled Event' })).toBe(false);
    expect(parseAwaitRequest({ [AWAIT_EVENT_KEY]: { secretIds: ['a', 'a', 'b '], timeoutSeconds: 60 } })).toEqual({
      secretIds: ['a', 'b'],
      timeoutSeconds: 60,
    });
    expect(() => parseAwaitRequest({ [AWAIT_EVENT_KEY]: { secretIds: [], timeoutSeconds: 60 } })).toThrow(
      /secretIds must be a non-empty list/,
    );
    expect(() => parseAwaitRequest({ [AWAIT_EVENT_KEY]: { secretIds: ['a'], timeoutSeconds: 901 } })).toThrow(
      /timeoutSeconds 901 is not a whole number from 1 to 900/,
    );
    expect(() => parseAwaitRequest({ [AWAIT_EVENT_KEY]: { secretIds: [''], timeoutSeconds: 5 } })).toThrow(
      /secret ARN or name/,
    );
  });

  it("names the rotation function's log group as the stack names it", () => {
    expect(rotationLogGroupOf(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-rotation-dev-rotation`)).toBe(
      '/aws/lambda/acme-rotation-dev-rotation',
    );
    expect(rotationLogGroupOf(undefined)).toBeUndefined();
  });
});

describe('waiting for the first certificate', () => {
  it('returns at once when AWSCURRENT and every ARN (two regions) hold the same certificate', async () => {
    const pki = makeTestPki({ names: NAMES });
    const arns = [await placeholderArn('us-east-1'), await placeholderArn('eu-west-1')];
    for (const arn of arns) await importInto(arn, pki);
    const secret = certificateSecret('certs/web', arns, { value: JSON.stringify(pki.bundle) });

    const summary = await awaitCertificates(request([secret]), ports());
    expect(sleeps).toEqual([]);
    expect(summary.awaited).toEqual([
      {
        secretArn: secret,
        secretName: 'certs/web',
        serial: serialOf(pki),
        expiry: pki.bundle.expiry,
        acmCertificateArns: arns,
      },
    ]);
  });

  it('waits through no certificate and an ARN still on the placeholder, until the rotation delivered', async () => {
    const pki = makeTestPki({ names: NAMES });
    const arns = [await placeholderArn('us-east-1'), await placeholderArn('eu-west-1')];
    const secret = certificateSecret('certs/web', arns, { pending: true });
    during[1] = () => promote(secret, pki); // promoted after the second sleep…
    during[2] = () => importInto(arns[0] as string, pki); // …delivered to one region…
    during[4] = () => importInto(arns[1] as string, pki); // …and the other, later.

    const summary = await awaitCertificates(request([secret]), ports());
    expect(sleeps).toHaveLength(5);
    expect(summary.awaited[0]?.serial).toBe(serialOf(pki));
    for (const arn of arns) expect(acm.certificate(arn)?.certificatePem).toBe(pki.leaf.certPem);
  });

  it('re-imports into an ARN that lags behind AWSCURRENT through its reconcile port, at most once a minute', async () => {
    const pki = makeTestPki({ names: NAMES });
    const ready = await placeholderArn('us-east-1');
    await importInto(ready, pki);
    const added = await placeholderArn('ap-southeast-2');
    const secret = certificateSecret('certs/web', [ready, added], { value: JSON.stringify(pki.bundle) });
    const asked: string[][] = [];
    let refusals = 2;
    const summary = await awaitCertificates(
      request([secret]),
      ports({
        reconcile: async (s, lagging) => {
          asked.push(lagging);
          expect(s.arn).toBe(secret);
          if (refusals-- > 0) throw new Error('ThrottlingException: Rate exceeded');
          for (const arn of lagging) await importInto(arn, pki);
        },
      }),
    );
    expect(asked).toEqual([[added], [added], [added]]);
    // Two refusals, each followed by a minute's wait at least before the next attempt.
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(120_000);
    expect(summary.awaited[0]?.acmCertificateArns).toEqual([ready, added]);
    expect(
      acm
        .certificate(added)
        ?.serial.replace(/:/g, '')
        .toUpperCase()
        .replace(/^(00)+(?=.)/, ''),
    ).toBe(serialOf(pki));
  });

  it("fails at once, naming the value, when AWSCURRENT holds another application's secret", async () => {
    const secret = certificateSecret('certs/web', [await placeholderArn('us-east-1')], {
      value: JSON.stringify({ username: 'app', password: 'hunter2' }),
    });
    const err = await awaitCertificates(request([secret]), ports()).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(AwaitFailedError);
    expect(err.message).toContain(
      'secret "certs/web": AWSCURRENT holds a JSON object with the field(s) username, password',
    );
    expect(err.message).not.toContain('hunter2');
    expect(sleeps).toEqual([]);
  });

  it('fails at once when rotation is not enabled on the secret', async () => {
    const secret = certificateSecret('certs/web', [], { rotationEnabled: false });
    await expect(awaitCertificates(request([secret]), ports())).rejects.toThrow(
      /secret "certs\/web": rotation is not enabled/,
    );
  });

  it("times out with the rotation's last failure, the pending version and where failures are reported", async () => {
    const failure = '2026-12-06T02:59:00.000Z createSecret: DNS-01 TXT record not seen on ns-1.awsdns-01.org in 300 s';
    const ok = makeTestPki({ names: NAMES });
    const done = certificateSecret('certs/api', [], { value: JSON.stringify(ok.bundle) });
    const stuck = certificateSecret('certs/web', [await placeholderArn('us-east-1')], {
      pending: true,
      tags: { [ROTATION_FAILURE_TAG]: failure },
    });

    const started = clock;
    const err = await awaitCertificates(request([done, stuck], 120), ports()).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(AwaitFailedError);
    expect(clock - started).toBeLessThanOrEqual(120_000);
    expect(clock - started).toBeGreaterThan(90_000);
    expect(err.message).toMatch(/^no first certificate in every place after \d+ s \(of 120 s asked\):/);
    expect(err.message).toContain(
      `secret "certs/web": no certificate in AWSCURRENT yet; a rotation is in progress or failed (AWSPENDING is version ${PENDING_VERSION}); the rotation's last failure: ${failure}`,
    );
    expect(err.message).not.toContain('certs/api');
    expect(err.message).toContain('/aws/lambda/acme-rotation-dev-rotation');
  });

  it("stops within the invocation's remaining time when it is shorter than the request's timeout", async () => {
    const secret = certificateSecret('certs/web', [], { pending: true });
    const started = clock;
    await expect(awaitCertificates(request([secret], 900), ports({}, 60_000))).rejects.toThrow(
      /the secret records no rotation failure/,
    );
    // The reserve (10 s) is kept for reporting: Lambda never kills the waiter mid-answer.
    expect(clock - started).toBeLessThanOrEqual(50_000);
  });
});

describe("the watch function's handler, given the waiter event", () => {
  let local: LocalAws;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    local = await startLocalAws();
    // The SDK clients the handler makes read these (a Lambda gets its region and role the same way).
    for (const [k, v] of Object.entries({ ...local.env, WATCH_ROTATION_FUNCTION_ARN: undefined })) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await local?.stop();
  });

  it('delivers AWSCURRENT at once to an ACM certificate added after the first certificate, then returns', async () => {
    const pki = makeTestPki({ names: NAMES });
    const importRaw = (
      region: string,
      material: { certPem: string; keyPem: string; chainPem?: string },
      arn?: string,
    ) =>
      local.acm.handle(
        'ImportCertificate',
        {
          ...(arn ? { CertificateArn: arn } : {}),
          Certificate: Buffer.from(material.certPem).toString('base64'),
          PrivateKey: Buffer.from(material.keyPem).toString('base64'),
          ...(material.chainPem ? { CertificateChain: Buffer.from(material.chainPem).toString('base64') } : {}),
        },
        region,
      ) as { CertificateArn: string };
    const stand = makeTestPki({ names: NAMES, intermediates: 0 }).leaf;
    const held = importRaw('us-east-1', stand).CertificateArn;
    importRaw('us-east-1', { ...pki.leaf, chainPem: pki.chainPem }, held);
    // A region added to the stack later: its new ACM certificate holds the placeholder.
    const added = importRaw('eu-central-1', makeTestPki({ names: NAMES, intermediates: 0 }).leaf).CertificateArn;
    const tags: Record<string, string> = {};
    for (const t of [...domainTags(NAMES), ...acmArnTags([held, added])]) tags[t.Key] = t.Value;
    const secret = local.secrets.seedSecret({
      name: 'certs/web',
      rotationEnabled: true,
      tags,
      versions: { [CURRENT_VERSION]: { value: JSON.stringify(pki.bundle), stages: ['AWSCURRENT'] } },
    }).arn;
    local.resetCalls();

    const out = (await handler(
      { [AWAIT_EVENT_KEY]: { secretIds: [secret], timeoutSeconds: 60 } },
      { getRemainingTimeInMillis: () => 120_000, awsRequestId: 'req-1' },
    )) as AwaitSummary;
    expect(out.awaited).toEqual([expect.objectContaining({ secretArn: secret, serial: serialOf(pki) })]);
    expect(local.acm.certificate(added)?.certificatePem).toBe(pki.leaf.certPem);
    expect(local.acm.certificate(held)?.importCount).toBe(2);
    // Only the lagging ARN was imported into; nothing was rotated.
    expect(local.countCalls('acm', 'ImportCertificate')).toBe(1);
    expect(local.countCalls('secretsmanager', 'RotateSecret')).toBe(0);
  });

  it('refuses a malformed waiter event, naming the shape it expects', async () => {
    await expect(handler({ [AWAIT_EVENT_KEY]: { secretIds: 'certs/web' } }, {})).rejects.toThrow(
      /acmeRotationAwait: secretIds must be a non-empty list; expected \{"acmeRotationAwait"/,
    );
  });
});
