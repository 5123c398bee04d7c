/**
 * The AWS call layer (rotation/aws/calls.ts) through real SDK clients and their retry middleware,
 * answered by a scripted HTTP handler: throttling is retried inside the SDK's own retry loop by
 * the strategy every client gets from sdkClientConfig, for as long as the call's budget (a
 * Deadline on a virtual clock) has room for the wait; other failures get the SDK's attempts alone;
 * every call is counted; and one mapper turns every SDK error into AwsServiceError.
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { HttpRequest, HttpResponse } from '@smithy/types';
import { describe, expect, it } from 'vitest';

import { AcmAdapter } from '../../rotation/aws/acm.js';
import { AwsCalls, DeadlineRetryStrategy, mapAwsError } from '../../rotation/aws/calls.js';
import { sdkClientConfig } from '../../rotation/aws/client-config.js';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { AwsServiceError, ERROR_CODES } from '../../rotation/lib/errors.js';
import { Route53Adapter } from '../../rotation/route53/adapter.js';

const R53 = 'https://route53.amazonaws.com/doc/2013-04-01/';
const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

interface Answer {
  status: number;
  body: string;
  type?: string;
}

const xmlError = (status: number, code: string, message: string): Answer => ({
  status,
  type: 'text/xml',
  body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="${R53}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
});
const R53_THROTTLED = xmlError(400, 'Throttling', 'Rate exceeded');
const INSYNC: Answer = {
  status: 200,
  type: 'text/xml',
  body: `<?xml version="1.0"?>\n<GetChangeResponse xmlns="${R53}"><ChangeInfo><Id>/change/C9</Id><Status>INSYNC</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>`,
};
const jsonError = (code: string, message: string): Answer => ({
  status: 400,
  type: 'application/x-amz-json-1.1',
  body: JSON.stringify({ __type: code, message }),
});

/** An HTTP handler answering requests in turn from `answers` (the last one again when they run out). */
function scripted(answers: Answer[]) {
  const seen: HttpRequest[] = [];
  return {
    seen,
    handler: {
      async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
        const a = answers[Math.min(seen.length, answers.length - 1)] as Answer;
        seen.push(request);
        return {
          response: {
            statusCode: a.status,
            headers: { 'content-type': a.type ?? 'text/xml', 'x-amzn-requestid': 'r-1' },
            body: Buffer.from(a.body),
          },
        };
      },
    },
  };
}

/** Client settings as the function makes them, with the scripted handler in place of HTTPS. */
function settings(handler: ReturnType<typeof scripted>['handler'], maxAttempts: number, region = 'us-east-1') {
  return {
    ...sdkClientConfig(10_000, maxAttempts, 'standard'),
    region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: handler,
  };
}

/** A Deadline on a virtual clock that the waits advance; `sleeps` records them. */
function virtualTime(remainingMs: number) {
  let now = 0;
  const sleeps: number[] = [];
  const deadline = new Deadline(remainingMs, 0, () => now);
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    now += ms;
  };
  /** The throttling policy of a call bounded by this deadline; `random` picks the jitter. */
  const policy = (random = () => 0) => ({ budgetMs: () => deadline.remainingMs(), sleep, random });
  return { sleeps, deadline, sleep, policy };
}

const failure = (p: Promise<unknown>): Promise<AwsServiceError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as AwsServiceError,
  );

/**
 * A Route 53 adapter as the function makes one, on a client with `sdkAttempts` attempts of the
 * SDK's own, answered by `answers`, its throttling bounded by a Deadline of `budgetMs` (virtual time).
 */
function route53(answers: Answer[], sdkAttempts: number, opts: { budgetMs?: number; random?: () => number } = {}) {
  const wire = scripted(answers);
  const time = virtualTime(opts.budgetMs ?? 60_000);
  const adapter = new Route53Adapter(new Route53Client(settings(wire.handler, sdkAttempts)), time.policy(opts.random));
  return { wire, time, adapter };
}

describe('throttling through the SDK retry strategy, bounded by the Deadline', () => {
  it('retries a throttled Route 53 call inside the SDK retry loop until it is answered, counting every attempt', async () => {
    // One SDK attempt of its own: every retry here is the budget's.
    const { wire, time, adapter } = route53([R53_THROTTLED, R53_THROTTLED, R53_THROTTLED, INSYNC], 1, {
      random: () => 1,
    });

    expect(await adapter.getChange('/change/C9')).toBe('INSYNC');

    expect(wire.seen).toHaveLength(4); // three throttled, then answered
    expect(wire.seen.every((r) => r.path.endsWith('/change/C9'))).toBe(true);
    expect(time.sleeps).toEqual([400, 800, 1600]); // full-jitter ceiling doubling from 400 ms
    // The SDK's own attempt header counts the retries: they ran in its loop.
    expect(wire.seen.map((r) => r.headers['amz-sdk-request'])).toEqual([
      'attempt=1; max=1',
      'attempt=2; max=1',
      'attempt=3; max=1',
      'attempt=4; max=1',
    ]);
    expect(adapter.stats()).toMatchObject({ total: 1, throttled: 3 });
    expect(adapter.callCount.GetChange).toBe(1);
    expect(adapter.attemptCount.GetChange).toBe(4);
  });

  it("stops when the next wait would cross the deadline, saying so with Route 53's own error", async () => {
    const { wire, time, adapter } = route53([R53_THROTTLED], 1, { budgetMs: 1_000 });

    const err = await failure(adapter.getChange('C9'));

    // 1000 ms: a wait of 400 (600 left), another (200 left); the third would not fit.
    expect(time.sleeps).toEqual([400, 400]);
    expect(wire.seen).toHaveLength(3);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({
      code: 'AwsRoute53Error',
      service: 'Route53',
      operation: 'GetChange',
      awsCode: 'Throttling',
    });
    expect(err.message).toBe(
      'Route 53 throttled GetChange for 0 s (3 attempts) and the function has no time left to wait: ' +
        'Route53 GetChange failed (Throttling): Rate exceeded. ' +
        'Route 53 allows about 5 requests/second per account, shared by everything in it; ' +
        'spread the rotation schedules or raise the function timeout',
    );
    expect(adapter.stats()).toMatchObject({ total: 1, throttled: 3 });
  });

  it('lets the SDK make its own attempts first, then waits within the budget', async () => {
    const { wire, time, adapter } = route53([R53_THROTTLED, R53_THROTTLED, R53_THROTTLED, INSYNC], 2, {
      random: () => 1,
    });
    expect(await adapter.getChange('C9')).toBe('INSYNC');
    expect(wire.seen).toHaveLength(4);
    // The SDK's retry (its own backoff, a real timer), then the budget's waits from the first step
    // of their backoff.
    expect(time.sleeps).toEqual([400, 800]);
    expect(adapter.attemptCount.GetChange).toBe(4);
    expect(adapter.throttled).toBe(3);
  });

  it('gives each call its own budget, though the client is shared', async () => {
    const wire = scripted([R53_THROTTLED, R53_THROTTLED, INSYNC]);
    const client = new Route53Client(settings(wire.handler, 1));
    const time = virtualTime(60_000);
    const spent = new Route53Adapter(client, { budgetMs: () => 0, sleep: time.sleep, random: () => 0 });
    const roomy = new Route53Adapter(client, time.policy());
    const [a, b] = await Promise.allSettled([spent.getChange('C9'), roomy.getChange('C9')]);
    expect(a.status).toBe('rejected');
    expect((a as PromiseRejectedResult).reason).toMatchObject({ awsCode: 'Throttling' });
    expect(b).toEqual({ status: 'fulfilled', value: 'INSYNC' });
    expect(time.sleeps).toEqual([400]); // the roomy call's one wait; the spent one never waited
    expect(spent.stats().throttled + roomy.stats().throttled).toBe(2);
  });

  it('does not wait out an error other than throttling', async () => {
    const { wire, time, adapter } = route53([xmlError(404, 'NoSuchHostedZone', 'No hosted zone found with ID: ZX')], 3);
    const err = await failure(adapter.getZone('/hostedzone/ZX'));
    expect(err).toMatchObject({ operation: 'GetHostedZone', awsCode: 'NoSuchHostedZone' });
    expect(err.message).toBe('Route53 GetHostedZone failed (NoSuchHostedZone): No hosted zone found with ID: ZX');
    expect(wire.seen).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it("retries a server error the SDK's way only: its attempts, never the budget's waits", async () => {
    const { wire, time, adapter } = route53([{ ...xmlError(500, 'InternalFailure', 'try again'), status: 500 }], 3);
    const err = await failure(adapter.getChange('C9'));
    expect(err).toMatchObject({ awsCode: 'InternalFailure' });
    expect(err.message).not.toMatch(/no time left/);
    expect(wire.seen).toHaveLength(3);
    expect(time.sleeps).toEqual([]);
  });

  it('leaves a call made outside the call layer to the SDK strategy alone', async () => {
    const wire = scripted([R53_THROTTLED, INSYNC]);
    const client = new Route53Client(settings(wire.handler, 1));
    const err = await client.send(new GetChangeCommand({ Id: 'C9' })).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ name: 'Throttling' });
    expect(err).not.toBeInstanceOf(AwsServiceError);
    expect(wire.seen).toHaveLength(1);
  });

  it('without a budget, waits out ACM throttling five times, then fails naming the ARN and the attempts', async () => {
    const wire = scripted([jsonError('ThrottlingException', 'Rate exceeded')]);
    const sleeps: number[] = [];
    const adapter = new AcmAdapter(() => new ACMClient(settings(wire.handler, 1, 'eu-west-1')), {
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 1,
    });
    const err = await failure(adapter.describe(ARN));
    expect(sleeps).toEqual([400, 800, 1600, 3200, 4000]);
    expect(wire.seen).toHaveLength(6);
    expect(err).toMatchObject({
      code: 'AwsACMError',
      operation: 'DescribeCertificate',
      awsCode: 'ThrottlingException',
    });
    expect(err.message).toBe(
      'ACM throttled DescribeCertificate for 0 s (6 attempts) and the function has no time left to wait: ' +
        `ACM DescribeCertificate failed (ThrottlingException): ${ARN}: Rate exceeded`,
    );
    expect(adapter.calls).toEqual({ DescribeCertificate: 1, ImportCertificate: 0 });
  });

  it('ACM within a budget: the throttled describe is answered once ACM lets it through', async () => {
    const answered: Answer = {
      status: 200,
      type: 'application/x-amz-json-1.1',
      body: JSON.stringify({ Certificate: { CertificateArn: ARN, Serial: '0a:0b', KeyAlgorithm: 'EC_prime256v1' } }),
    };
    const wire = scripted([jsonError('ThrottlingException', 'Rate exceeded'), answered]);
    const time = virtualTime(60_000);
    const adapter = new AcmAdapter(() => new ACMClient(settings(wire.handler, 1, 'eu-west-1')), time.policy());
    expect(await adapter.describe(ARN)).toMatchObject({ serial: '0a:0b', keyAlgorithm: 'EC_prime256v1' });
    expect(time.sleeps).toEqual([400]);
    expect(wire.seen[0]?.headers['x-amz-target']).toBe('CertificateManager.DescribeCertificate');
  });

  it('Secrets Manager calls get the SDK attempts alone: a throttled read fails with AWS words, no waits', async () => {
    const wire = scripted([jsonError('ThrottlingException', 'Rate exceeded')]);
    const secrets = new SecretsAdapter(new SecretsManagerClient(settings(wire.handler, 1)));
    const err = await failure(secrets.getValue('certs/web', { stage: 'AWSCURRENT' }));
    expect(err.message).toBe('SecretsManager GetSecretValue failed (ThrottlingException): Rate exceeded');
    expect(err.code).toBe('AwsSecretsManagerError');
    expect(wire.seen).toHaveLength(1);
    expect(secrets.calls).toEqual({ GetSecretValue: 1 });
  });

  it('gives every client made from one configuration a strategy of its own (its quota and sending rate)', async () => {
    const config = sdkClientConfig(10_000);
    const a = new Route53Client({ ...config, region: 'us-east-1' });
    const b = new SecretsManagerClient({ ...config, region: 'us-east-1' });
    const sa = await a.config.retryStrategy();
    const sb = await b.config.retryStrategy();
    expect(sa).toBeInstanceOf(DeadlineRetryStrategy);
    expect(sb).toBeInstanceOf(DeadlineRetryStrategy);
    expect(sa).not.toBe(sb);
    expect((sa as DeadlineRetryStrategy).mode).toBe('adaptive');
    a.destroy();
    b.destroy();
  });
});

describe('one error mapper for every service', () => {
  const sdkError = (name: string, message: string, extra: object = {}): Error =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 }, ...extra });

  it.each([
    ['SecretsManager', 'GetSecretValue', 'ResourceNotFoundException', 'AwsSecretsManagerError'],
    ['SecretsManager', 'PutSecretValue', 'InvalidRequestException', 'AwsSecretsManagerError'],
    ['Route53', 'ChangeResourceRecordSets', 'PriorRequestNotComplete', 'AwsRoute53Error'],
    ['Route53', 'GetHostedZone', 'AccessDenied', 'AwsRoute53Error'],
    ['ACM', 'ImportCertificate', 'LimitExceededException', 'AwsACMError'],
    ['STS', 'AssumeRole', 'AccessDenied', 'AwsSTSError'],
  ] as const)('%s %s %s → %s', (service, operation, name, code) => {
    const cause = sdkError(name, 'what AWS said');
    const err = mapAwsError(service, operation, cause);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(ERROR_CODES).toContain(err.code);
    expect(err).toMatchObject({ code, service, operation, awsCode: name, cause });
    expect(err.message).toBe(`${service} ${operation} failed (${name}): what AWS said`);
  });

  it('passes an AwsServiceError through unchanged', () => {
    const mapped = new AwsServiceError('ACM', 'ImportCertificate', 'ValidationException', 'bad');
    expect(mapAwsError('Route53', 'GetChange', mapped)).toBe(mapped);
  });

  it('names the request timeout setting for a request that got no answer', () => {
    const err = mapAwsError(
      'Route53',
      'GetChange',
      sdkError('TimeoutError', 'socket hang up', { $metadata: { attempts: 3 } }),
    );
    expect(err.message).toBe(
      'Route53 GetChange failed (TimeoutError): no answer within the request timeout (API_TIMEOUT_SECONDS) in 3 attempt(s)',
    );
  });

  it("keeps every message of a refusal that carries several (Route 53's InvalidChangeBatch)", () => {
    const err = mapAwsError(
      'Route53',
      'ChangeResourceRecordSets',
      sdkError('InvalidChangeBatch', '', { messages: ['first problem', 'second problem'] }),
    );
    expect(err.message).toBe(
      'Route53 ChangeResourceRecordSets failed (InvalidChangeBatch): first problem; second problem',
    );
  });

  it('puts the subject before AWS words, and says something for an empty message or a thrown non-error', () => {
    expect(mapAwsError('ACM', 'DescribeCertificate', sdkError('X', ''), { subject: ARN }).message).toBe(
      `ACM DescribeCertificate failed (X): ${ARN}: (no message)`,
    );
    expect(mapAwsError('STS', 'AssumeRole', 'socket closed')).toMatchObject({
      awsCode: 'Error',
      detail: 'STS AssumeRole failed (Error): socket closed',
    });
  });

  it('AwsCalls counts calls by operation, failed ones included', async () => {
    const calls = new AwsCalls('SecretsManager');
    await calls.run('DescribeSecret', async () => ({ $metadata: { attempts: 2 } }));
    await calls.run('DescribeSecret', async () => ({}));
    await failure(calls.run('TagResource', () => Promise.reject(sdkError('LimitExceededException', 'too many tags'))));
    expect(calls.calls).toEqual({ DescribeSecret: 2, TagResource: 1 });
    expect(calls.attempts).toEqual({ DescribeSecret: 3, TagResource: 1 });
    expect(calls.total()).toBe(3);
  });
});
