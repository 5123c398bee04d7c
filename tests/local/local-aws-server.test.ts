/**
 * The local AWS endpoint: dispatch by protocol, SNS and EventBridge through the real SDK clients,
 * call recording, fault injection (error / hang / applyThenHang / applyThenError / applyThenDrop)
 * and Route 53 throttling.
 */
import { Resolver } from 'node:dns/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  CreateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { startLocalAws, type LocalAws, type LocalAwsOptions } from './aws/server.js';
import { startDnsServer } from './dns-server.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const running: LocalAws[] = [];

async function start(options?: LocalAwsOptions): Promise<LocalAws> {
  const aws = await startLocalAws(options);
  running.push(aws);
  return aws;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((aws) => aws.stop()));
});

function clients(aws: LocalAws) {
  const common = { endpoint: aws.url, region: 'us-east-1', credentials, maxAttempts: 1 };
  return {
    sm: new SecretsManagerClient(common),
    sns: new SNSClient(common),
    events: new EventBridgeClient(common),
    route53: new Route53Client(common),
  };
}

async function failure(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('server', () => {
  it('binds 127.0.0.1 on an ephemeral port and answers unknown requests with 400', async () => {
    const aws = await start();
    expect(aws.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(aws.env['AWS_ENDPOINT_URL']).toBe(aws.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${aws.url}/nothing`, { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    expect(aws.calls).toEqual([]);
  });

  it('records calls with service, operation, input and error code', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    await sm.send(new CreateSecretCommand({ Name: 'rec', SecretString: 'v' }));
    await failure(sm.send(new GetSecretValueCommand({ SecretId: 'missing' })));
    expect(aws.calls.map((c) => [c.service, c.operation, c.error])).toEqual([
      ['secretsmanager', 'CreateSecret', undefined],
      ['secretsmanager', 'GetSecretValue', 'ResourceNotFoundException'],
    ]);
    expect(aws.calls[1]?.input).toEqual({ SecretId: 'missing' });
    expect(aws.countCalls()).toBe(2);
    expect(aws.countCalls('secretsmanager', 'GetSecretValue')).toBe(1);
    expect(aws.countCalls('sns')).toBe(0);
    aws.resetCalls();
    expect(aws.countCalls()).toBe(0);
  });
});

describe('Secrets Manager SecretBinary', () => {
  it('stores and returns binary values through the SDK, keeps versions immutable, refuses both kinds at once', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'bin', SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'bin' }));
    expect(got.SecretString).toBeUndefined();
    expect([...(got.SecretBinary ?? [])]).toEqual([0, 1, 2, 250, 255]);

    const token = '11111111-2222-3333-4444-555555555555';
    await sm.send(new PutSecretValueCommand({ SecretId: 'bin', ClientRequestToken: token, SecretBinary: bytes }));
    // Same token and same bytes: idempotent. Same token, a string instead: a new value, refused.
    await sm.send(new PutSecretValueCommand({ SecretId: 'bin', ClientRequestToken: token, SecretBinary: bytes }));
    const changed = await failure(
      sm.send(new PutSecretValueCommand({ SecretId: 'bin', ClientRequestToken: token, SecretString: 'x' })),
    );
    expect(changed.name).toBe('ResourceExistsException');

    const both = await failure(
      sm.send(new CreateSecretCommand({ Name: 'both', SecretString: 's', SecretBinary: bytes })),
    );
    expect(both.name).toBe('InvalidParameterException');
    expect(both.message).toMatch(/both a binary secret value and a string secret value/);
    const empty = await failure(sm.send(new CreateSecretCommand({ Name: 'empty', SecretBinary: new Uint8Array() })));
    expect(empty.name).toBe('ValidationException');
  });
});

describe('SNS', () => {
  it('CreateTopic and Publish record the message; an unknown topic is NotFound', async () => {
    const aws = await start();
    const { sns } = clients(aws);
    const topic = await sns.send(new CreateTopicCommand({ Name: 'cert-events' }));
    expect(topic.TopicArn).toBe('arn:aws:sns:us-east-1:123456789012:cert-events');

    const published = await sns.send(
      new PublishCommand({
        TopicArn: topic.TopicArn,
        Subject: 'Certificate renewal failed',
        Message: 'details & <more>',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'error' } },
      }),
    );
    expect(published.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(aws.sns.messages).toEqual([
      {
        TopicArn: topic.TopicArn,
        Subject: 'Certificate renewal failed',
        Message: 'details & <more>',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'error' } },
        MessageId: published.MessageId,
      },
    ]);

    const err = await failure(
      sns.send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:nope', Message: 'x' })),
    );
    expect(err.name).toBe('NotFoundException');
    expect(err.message).toBe('Topic does not exist');
    expect(err.$metadata?.httpStatusCode).toBe(404);
    expect(aws.calls.at(-1)).toMatchObject({ service: 'sns', operation: 'Publish', error: 'NotFound' });
    expect(aws.sns.messages).toHaveLength(1);
  });
});

describe('EventBridge', () => {
  it('PutEvents records entries; an unknown bus fails per entry', async () => {
    const aws = await start();
    const { events } = clients(aws);
    const ok = await events.send(
      new PutEventsCommand({
        Entries: [{ Source: 'acme.rotation', DetailType: 'Certificate Renewed', Detail: '{"a":1}' }],
      }),
    );
    expect(ok.FailedEntryCount).toBe(0);
    expect(ok.Entries?.[0]?.EventId).toBeTruthy();
    expect(aws.events.entries).toMatchObject([
      { Source: 'acme.rotation', DetailType: 'Certificate Renewed', Detail: '{"a":1}', EventBusName: 'default' },
    ]);

    const mixed = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'missing-bus' },
          { Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'default' },
        ],
      }),
    );
    expect(mixed.FailedEntryCount).toBe(1);
    expect(mixed.Entries?.[0]?.ErrorCode).toBe('ResourceNotFoundException');
    expect(mixed.Entries?.[1]?.EventId).toBeTruthy();
    expect(aws.events.entries).toHaveLength(2);

    const bus = await events.send(new CreateEventBusCommand({ Name: 'certs' }));
    expect(bus.EventBusArn).toBe('arn:aws:events:us-east-1:123456789012:event-bus/certs');
    const onBus = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'certs' },
          { Source: 's', DetailType: 'd', Detail: '{}', EventBusName: bus.EventBusArn },
        ],
      }),
    );
    expect(onBus.FailedEntryCount).toBe(0);
    expect(aws.events.entries.map((e) => e.EventBusName)).toEqual(['default', 'default', 'certs', bus.EventBusArn]);
    const dup = await failure(events.send(new CreateEventBusCommand({ Name: 'certs' })));
    expect(dup.name).toBe('ResourceAlreadyExistsException');
  });
});

describe('faults', () => {
  it('error faults apply before the operation, by match and count, with onHit', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    await sm.send(new CreateSecretCommand({ Name: 'f', SecretString: 'v1' }));
    let hits = 0;
    aws.addFault({
      service: 'secretsmanager',
      operation: 'PutSecretValue',
      match: (input) => (input as { SecretString?: string }).SecretString === 'bad',
      times: 2,
      action: { type: 'error', error: { code: 'InternalServiceError', message: 'boom', status: 500 } },
      onHit: () => hits++,
    });
    for (let i = 0; i < 2; i++) {
      const err = await failure(sm.send(new PutSecretValueCommand({ SecretId: 'f', SecretString: 'bad' })));
      expect(err.name).toBe('InternalServiceError');
      expect(err.$metadata?.httpStatusCode).toBe(500);
    }
    expect(hits).toBe(2);
    expect(aws.secrets.valueAt('f', 'AWSCURRENT')).toBe('v1'); // never applied
    // Exhausted: the third call goes through. Non-matching inputs were never affected.
    await sm.send(new PutSecretValueCommand({ SecretId: 'f', SecretString: 'bad' }));
    expect(aws.secrets.valueAt('f', 'AWSCURRENT')).toBe('bad');
    expect(aws.calls.filter((c) => c.operation === 'PutSecretValue').map((c) => c.error)).toEqual([
      'InternalServiceError',
      'InternalServiceError',
      undefined,
    ]);

    const remove = aws.addFault({
      service: 'secretsmanager',
      operation: 'GetSecretValue',
      times: Infinity,
      action: { type: 'error', error: { code: 'ThrottlingException', message: 'slow down' } },
    });
    for (let i = 0; i < 3; i++) {
      expect((await failure(sm.send(new GetSecretValueCommand({ SecretId: 'f' })))).name).toBe('ThrottlingException');
    }
    remove();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'f' }))).SecretString).toBe('bad');

    aws.addFault({
      service: 'secretsmanager',
      operation: 'GetSecretValue',
      action: { type: 'error', error: { code: 'InternalServiceError', message: 'x' } },
    });
    aws.clearFaults();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'f' }))).SecretString).toBe('bad');
  });

  it('hang keeps the socket open; stop() destroys it', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    await sm.send(new CreateSecretCommand({ Name: 'h', SecretString: 'v1' }));
    aws.addFault({ service: 'secretsmanager', operation: 'GetSecretValue', action: { type: 'hang' } });
    let settled = false;
    const pending = sm.send(new GetSecretValueCommand({ SecretId: 'h' })).finally(() => {
      settled = true;
    });
    pending.catch(() => undefined);
    await until(() => aws.countCalls('secretsmanager', 'GetSecretValue') === 1);
    await sleep(100);
    expect(settled).toBe(false);

    const t0 = Date.now();
    await aws.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    const err = await failure(pending);
    expect(err).toBeInstanceOf(Error);
  });

  it('applyThenHang changes state but never answers', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    await sm.send(new CreateSecretCommand({ Name: 'a', SecretString: 'v1' }));
    let hit = false;
    aws.addFault({
      service: 'secretsmanager',
      operation: 'PutSecretValue',
      action: { type: 'applyThenHang' },
      onHit: () => {
        hit = true;
      },
    });
    const abort = new AbortController();
    const pending = sm.send(new PutSecretValueCommand({ SecretId: 'a', SecretString: 'v2' }), {
      abortSignal: abort.signal,
    });
    pending.catch(() => undefined);
    await until(() => hit);
    expect(aws.secrets.valueAt('a', 'AWSCURRENT')).toBe('v2');
    expect(aws.secrets.valueAt('a', 'AWSPREVIOUS')).toBe('v1');
    abort.abort();
    await failure(pending);
  });
});

describe('Route 53 throttling', () => {
  it('answers Throttling past the rate, per second with burst = rate', async () => {
    const aws = await start({ route53RateLimitPerSecond: 3 });
    const { route53, sm } = clients(aws);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => route53.send(new ListHostedZonesCommand({}))),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - rejected.length).toBe(3);
    expect(rejected).toHaveLength(3);
    for (const r of rejected) {
      const err = r.reason as Error & { $metadata?: { httpStatusCode?: number } };
      expect(err.name).toBe('Throttling');
      expect(err.message).toBe('Rate exceeded');
      expect(err.$metadata?.httpStatusCode).toBe(400);
    }
    expect(aws.calls.filter((c) => c.error === 'Throttling')).toHaveLength(3);
    // Other services are not limited.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => sm.send(new CreateSecretCommand({ Name: `s${i}`, SecretString: 'x' }))),
    );
    // Tokens refill at the rate.
    await sleep(400);
    await route53.send(new ListHostedZonesCommand({}));
  });

  it('is unlimited without a rate', async () => {
    const aws = await start();
    const { route53 } = clients(aws);
    await Promise.all(Array.from({ length: 20 }, () => route53.send(new ListHostedZonesCommand({}))));
    expect(aws.countCalls('route53', 'ListHostedZones')).toBe(20);
  });
});

describe('Route 53 through the endpoint', () => {
  it('passes the change delay, records the parsed input and renders faults as Route 53 errors', async () => {
    const aws = await start({ route53ChangeDelayMs: 200 });
    const { route53 } = clients(aws);
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'ref-1' }));
    const zoneId = zone.HostedZone!.Id!;
    const change = await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: '_acme-challenge.example.com',
                Type: 'TXT',
                TTL: 60,
                ResourceRecords: [{ Value: '"token"' }],
              },
            },
          ],
        },
      }),
    );
    expect(change.ChangeInfo?.Status).toBe('PENDING');
    const recorded = aws.calls.find((c) => c.operation === 'ChangeResourceRecordSets');
    expect(recorded).toMatchObject({ service: 'route53', input: { method: 'POST' } });
    expect(JSON.stringify(recorded?.input)).toContain('_acme-challenge.example.com');
    await sleep(300);
    const done = await route53.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id! }));
    expect(done.ChangeInfo?.Status).toBe('INSYNC');

    aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'error', error: { code: 'PriorRequestNotComplete', message: 'busy' } },
    });
    const err = await failure(
      route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Changes: [
              {
                Action: 'DELETE',
                ResourceRecordSet: {
                  Name: '_acme-challenge.example.com',
                  Type: 'TXT',
                  TTL: 60,
                  ResourceRecords: [{ Value: '"token"' }],
                },
              },
            ],
          },
        }),
      ),
    );
    expect(err.name).toBe('PriorRequestNotComplete');
    expect(aws.calls.at(-1)?.error).toBe('PriorRequestNotComplete');
  });
});

function txtChange(action: 'CREATE' | 'UPSERT' | 'DELETE', zoneId: string, value: string) {
  return new ChangeResourceRecordSetsCommand({
    HostedZoneId: zoneId,
    ChangeBatch: {
      Changes: [
        {
          Action: action,
          ResourceRecordSet: {
            Name: '_acme-challenge.example.com',
            Type: 'TXT',
            TTL: 60,
            ResourceRecords: [{ Value: `"${value}"` }],
          },
        },
      ],
    },
  });
}

describe('lost responses (applyThenError / applyThenDrop)', () => {
  it('applyThenError: Route 53 applies the CREATE, answers 500; the SDK retry meets the real "already exists"', async () => {
    const aws = await start();
    const zoneId = aws.route53.createZone('example.com').id;
    const route53 = new Route53Client({ endpoint: aws.url, region: 'us-east-1', credentials, maxAttempts: 3 });
    let appliedWhenHit: string[] | undefined;
    aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'applyThenError', error: { code: 'InternalFailure', message: 'lost', status: 500 } },
      onHit: () => (appliedWhenHit = aws.route53.txtValues('_acme-challenge.example.com')),
    });
    const err = await failure(route53.send(txtChange('CREATE', zoneId, 'token')));
    expect(err.name).toBe('InvalidChangeBatch');
    expect(err.message).toMatch(/already exists/);
    expect(appliedWhenHit).toEqual(['token']);
    expect(aws.calls.filter((c) => c.operation === 'ChangeResourceRecordSets').map((c) => c.error)).toEqual([
      'InternalFailure',
      'InvalidChangeBatch',
    ]);
    expect(aws.route53.txtValues('_acme-challenge.example.com')).toEqual(['token']);
  });

  it('applyThenError: an UPSERT retried by the SDK succeeds (UPSERT is idempotent)', async () => {
    const aws = await start();
    const zoneId = aws.route53.createZone('example.com').id;
    const route53 = new Route53Client({ endpoint: aws.url, region: 'us-east-1', credentials, maxAttempts: 3 });
    aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'applyThenError', error: { code: 'InternalFailure', message: 'lost', status: 500 } },
    });
    const out = await route53.send(txtChange('UPSERT', zoneId, 'token'));
    expect(out.ChangeInfo?.Status).toBeDefined();
    expect(aws.countCalls('route53', 'ChangeResourceRecordSets')).toBe(2);
    expect(aws.route53.txtValues('_acme-challenge.example.com')).toEqual(['token']);
  });

  it('applyThenError with no retries: the caller sees the error although the state changed', async () => {
    const aws = await start();
    const { sm } = clients(aws);
    await sm.send(new CreateSecretCommand({ Name: 'e', SecretString: 'v1' }));
    aws.addFault({
      service: 'secretsmanager',
      operation: 'PutSecretValue',
      action: { type: 'applyThenError', error: { code: 'InternalServiceError', message: 'lost', status: 500 } },
    });
    const err = await failure(sm.send(new PutSecretValueCommand({ SecretId: 'e', SecretString: 'v2' })));
    expect(err.name).toBe('InternalServiceError');
    expect(err.$metadata?.httpStatusCode).toBe(500);
    expect(aws.secrets.valueAt('e', 'AWSCURRENT')).toBe('v2');
    expect(aws.calls.at(-1)?.error).toBe('InternalServiceError');
  });

  it('applyThenDrop: the state changes and the connection is reset', async () => {
    const aws = await start();
    const zoneId = aws.route53.createZone('example.com').id;
    const { route53 } = clients(aws); // maxAttempts 1
    let hits = 0;
    aws.addFault({
      service: 'route53',
      operation: 'ChangeResourceRecordSets',
      action: { type: 'applyThenDrop' },
      onHit: () => hits++,
    });
    const err = await failure(route53.send(txtChange('CREATE', zoneId, 'token')));
    expect(`${err.name} ${err.message} ${(err as NodeJS.ErrnoException).code ?? ''}`).toMatch(
      /ECONNRESET|socket hang up/i,
    );
    expect(hits).toBe(1);
    expect(aws.route53.txtValues('_acme-challenge.example.com')).toEqual(['token']);
    // The retry a caller would make meets the applied state.
    expect((await failure(route53.send(txtChange('CREATE', zoneId, 'token')))).name).toBe('InvalidChangeBatch');
  });
});

describe('Route 53 held changes through the endpoint and the DNS responder', () => {
  it('a held change stays PENDING (and unseen by DNS) past its delay, then turns INSYNC when released', async () => {
    const aws = await start({ route53ChangeDelayMs: 50 });
    const dns = await startDnsServer({ route53: aws.route53 });
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dns.port}`]);
      const zoneId = aws.route53.createZone('example.com').id;
      const { route53 } = clients(aws);
      aws.route53.holdChanges(true);
      const change = await route53.send(txtChange('CREATE', zoneId, 'held'));
      const id = change.ChangeInfo!.Id!;
      await sleep(200);
      expect((await route53.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status).toBe('PENDING');
      // The API view already has the record; DNS does not serve it while the change is PENDING.
      expect(aws.route53.txtValues('_acme-challenge.example.com')).toEqual(['held']);
      await expect(resolver.resolveTxt('_acme-challenge.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });

      aws.route53.holdChanges(false);
      expect((await route53.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status).toBe('INSYNC');
      expect(await resolver.resolveTxt('_acme-challenge.example.com')).toEqual([['held']]);

      // A runtime delay change applies to later changes.
      aws.route53.changeDelayMs = 60_000;
      const slow = await route53.send(txtChange('UPSERT', zoneId, 'slow'));
      expect((await route53.send(new GetChangeCommand({ Id: slow.ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe(
        'PENDING',
      );
      expect(await resolver.resolveTxt('_acme-challenge.example.com')).toEqual([['held']]);
    } finally {
      await dns.stop();
    }
  });
});
