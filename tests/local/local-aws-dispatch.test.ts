/**
 * The two ways into the local AWS services, the HTTP server and the in-process request handler,
 * take one path (dispatcher.ts): the same SDK calls get the same answers through either (results,
 * refusals, status codes, refused credentials), and the SigV4 credential scope is read one way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ACMClient, DescribeCertificateCommand, ListCertificatesCommand } from '@aws-sdk/client-acm';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetHostedZoneCommand, ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import { FaultList } from './faults.js';
import { AcmService } from './aws/acm.js';
import { credentialScope } from './aws/credential-scope.js';
import { EventsService } from './aws/events.js';
import { inProcessHandler } from './aws/in-process.js';
import { Route53Service } from './aws/route53.js';
import { SecretsManagerService } from './aws/secretsmanager.js';
import { startLocalAws, type LocalAws } from './aws/server.js';
import { SnsService } from './aws/sns.js';
import { StsService } from './aws/sts.js';
import type { Fault } from './aws/types.js';

const ACCOUNT = '123456789012';
const own = { accessKeyId: 'test', secretAccessKey: 'test' };
/** The account the zone lives in, and the role a session assumes there. */
const ZONE = { account: '111122223333', role: 'arn:aws:iam::111122223333:role/zone-writer' };

/** The AWS Signature Version 4 test suite's request (get-vanilla): its Authorization header. */
const SUITE_AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
  'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';

describe('credentialScope', () => {
  it("reads the Authorization header's credential", () => {
    expect(credentialScope({ headers: { authorization: SUITE_AUTHORIZATION }, query: new URLSearchParams() })).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      date: '20150830',
      region: 'us-east-1',
      service: 'service',
    });
  });

  it("reads a presigned URL's X-Amz-Credential", () => {
    const query = new URLSearchParams(
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Feu-west-3%2Fsts%2Faws4_request',
    );
    expect(credentialScope({ headers: {}, query })).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      date: '20150830',
      region: 'eu-west-3',
      service: 'sts',
    });
  });

  it('is undefined for an unsigned request or a malformed scope', () => {
    const query = new URLSearchParams();
    expect(credentialScope({ headers: {}, query })).toBeUndefined();
    for (const credential of [
      'AKIDEXAMPLE/2015083/us-east-1/service/aws4_request',
      'AKIDEXAMPLE/20150830/us-east-1/service',
      'AKIDEXAMPLE/20150830/us-east-1/aws4_request',
    ]) {
      const authorization = `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=00`;
      expect(credentialScope({ headers: { authorization }, query })).toBeUndefined();
    }
  });
});

/** One way into a fresh set of services: the models (for setup) and what a client needs. */
interface Way {
  name: string;
  secrets: SecretsManagerService;
  sts: StsService;
  route53: Route53Service;
  client: { endpoint: string; requestHandler?: RequestHandler<HttpRequest, HttpResponse> };
}

const running: LocalAws[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((aws) => aws.stop()));
});

async function overHttp(): Promise<Way> {
  const aws = await startLocalAws({ accountId: ACCOUNT });
  running.push(aws);
  aws.sns.createTopic('known');
  return { name: 'server', secrets: aws.secrets, sts: aws.sts, route53: aws.route53, client: { endpoint: aws.url } };
}

function inProcess(): Way {
  const secrets = new SecretsManagerService({ accountId: ACCOUNT });
  const sts = new StsService({ accountId: ACCOUNT });
  const route53 = new Route53Service({ accountId: ACCOUNT, changeDelayMs: 0 });
  const sns = new SnsService({ accountId: ACCOUNT });
  sns.createTopic('known');
  const requestHandler = inProcessHandler({
    secretsmanager: secrets,
    sts,
    route53,
    sns,
    events: new EventsService({ accountId: ACCOUNT }),
    acm: new AcmService({ accountId: ACCOUNT }),
  });
  return {
    name: 'in-process',
    secrets,
    sts,
    route53,
    client: { endpoint: 'http://in-process.invalid', requestHandler },
  };
}

/** What a client saw: the picked result, or the error's name, HTTP status and message. */
async function seen<T>(call: Promise<T>, pick: (out: T) => unknown): Promise<unknown> {
  try {
    return { ok: pick(await call) };
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { error: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
}

/** The same calls through one way, in order; each observation is named for the assertions. */
async function script(way: Way): Promise<Record<string, unknown>> {
  const config = { ...way.client, region: 'us-east-1', maxAttempts: 1 };
  const sm = new SecretsManagerClient({ ...config, credentials: own });
  const out: Record<string, unknown> = {};
  out['create'] = await seen(
    sm.send(new CreateSecretCommand({ Name: 'site', SecretString: 'v1', ClientRequestToken: 'a'.repeat(32) })),
    (o) => [o.Name, o.VersionId],
  );
  out['createAgain'] = await seen(sm.send(new CreateSecretCommand({ Name: 'site', SecretString: 'v2' })), () => 0);
  out['get'] = await seen(sm.send(new GetSecretValueCommand({ SecretId: 'site' })), (o) => [
    o.SecretString,
    o.VersionStages,
  ]);
  out['getMissing'] = await seen(sm.send(new GetSecretValueCommand({ SecretId: 'missing' })), () => 0);
  out['reservedTag'] = await seen(
    sm.send(new TagResourceCommand({ SecretId: 'site', Tags: [{ Key: 'aws:x', Value: '1' }] })),
    () => 0,
  );
  const acm = new ACMClient({ ...config, region: 'eu-west-3', credentials: own });
  out['acmList'] = await seen(acm.send(new ListCertificatesCommand({})), (o) => o.CertificateSummaryList);
  out['acmOtherRegion'] = await seen(
    acm.send(
      new DescribeCertificateCommand({
        CertificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0b2e5f3c-0000-4000-8000-000000000000`,
      }),
    ),
    () => 0,
  );
  const r53 = new Route53Client({ ...config, credentials: own });
  out['zones'] = await seen(r53.send(new ListHostedZonesCommand({})), (o) => o.HostedZones);
  out['noZone'] = await seen(r53.send(new GetHostedZoneCommand({ Id: 'ZNOPE' })), () => 0);
  out['publishUnknown'] = await seen(
    new SNSClient({ ...config, credentials: own }).send(
      new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:unknown`, Message: 'm' }),
    ),
    () => 0,
  );
  out['putEventsUnknownBus'] = await seen(
    new EventBridgeClient({ ...config, credentials: own }).send(
      new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'nope' }] }),
    ),
    (o) => [o.FailedEntryCount, o.Entries?.map((e) => e.ErrorCode)],
  );

  const zone = way.route53.createZone('dns.example', { account: ZONE.account, id: 'ZDNS' });
  way.sts.createRole({ arn: ZONE.role, trustedPrincipals: [ACCOUNT], route53: { zoneIds: [zone.id] } });
  const sts = new STSClient({ ...config, credentials: own });
  out['whoAmI'] = await seen(sts.send(new GetCallerIdentityCommand({})), (o) => [o.Arn, o.Account]);
  const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: ZONE.role, RoleSessionName: 'parity' }));
  const session = {
    accessKeyId: assumed.Credentials!.AccessKeyId!,
    secretAccessKey: assumed.Credentials!.SecretAccessKey!,
    sessionToken: assumed.Credentials!.SessionToken!,
  };
  const r53Session = new Route53Client({ ...config, credentials: session });
  const smSession = new SecretsManagerClient({ ...config, credentials: session });
  out['sessionZone'] = await seen(r53Session.send(new GetHostedZoneCommand({ Id: 'ZDNS' })), (o) => o.HostedZone?.Id);
  out['sessionDenied'] = await seen(r53Session.send(new ListHostedZonesCommand({})), () => 0);
  way.sts.expireSessions();
  out['expiredRoute53'] = await seen(r53Session.send(new GetHostedZoneCommand({ Id: 'ZDNS' })), () => 0);
  out['expiredSecrets'] = await seen(smSession.send(new GetSecretValueCommand({ SecretId: 'site' })), () => 0);
  return out;
}

describe('server and in-process handler', () => {
  it('answer the same calls alike, through the one dispatcher', async () => {
    const http = await script(await overHttp());
    const direct = await script(inProcess());
    expect(direct).toEqual(http);
    // What both answered, as the services answer it.
    expect(http).toMatchObject({
      create: { ok: ['site', 'a'.repeat(32)] },
      createAgain: { error: 'ResourceExistsException', status: 400 },
      get: { ok: ['v1', ['AWSCURRENT']] },
      getMissing: { error: 'ResourceNotFoundException', status: 400 },
      reservedTag: { error: 'InvalidParameterException', status: 400 },
      acmList: { ok: [] },
      acmOtherRegion: { error: 'InvalidArnException', status: 400 },
      zones: { ok: [] },
      noZone: { error: 'NoSuchHostedZone', status: 404 },
      publishUnknown: { error: 'NotFoundException', status: 404 },
      putEventsUnknownBus: { ok: [1, ['ResourceNotFoundException']] },
      whoAmI: { ok: [`arn:aws:iam::${ACCOUNT}:role/acme-rotation`, ACCOUNT] },
      sessionZone: { ok: '/hostedzone/ZDNS' },
      sessionDenied: { error: 'AccessDenied', status: 403 },
      expiredRoute53: { error: 'ExpiredToken', status: 403 },
      expiredSecrets: { error: 'ExpiredTokenException', status: 403 },
    });
  });
});

describe('in-process faults', () => {
  it('answer as through the server: an error instead of the call, or after it applied; no connection to hang', async () => {
    const secrets = new SecretsManagerService({ accountId: ACCOUNT });
    const faults = new FaultList<Fault>();
    const sm = new SecretsManagerClient({
      region: 'us-east-1',
      credentials: own,
      maxAttempts: 1,
      requestHandler: inProcessHandler({ secretsmanager: secrets }, { faults }),
    });
    faults.add({
      service: 'secretsmanager',
      operation: 'CreateSecret',
      match: (input) => (input as { Name?: string }).Name === 'refused',
      action: { type: 'error', error: { code: 'AccessDeniedException', message: 'not authorized', status: 400 } },
    });
    faults.add({
      service: 'secretsmanager',
      operation: 'CreateSecret',
      action: { type: 'applyThenError', error: { code: 'InternalServiceError', message: 'lost', status: 500 } },
    });
    const refused = await seen(sm.send(new CreateSecretCommand({ Name: 'refused', SecretString: 'x' })), () => 0);
    expect(refused).toEqual({ error: 'AccessDeniedException', status: 400, message: 'not authorized' });
    expect(secrets.get('refused')).toBeUndefined();
    const lost = await seen(sm.send(new CreateSecretCommand({ Name: 'applied', SecretString: 'x' })), () => 0);
    expect(lost).toMatchObject({ error: 'InternalServiceError', status: 500 });
    expect(secrets.valueAt('applied', 'AWSCURRENT')).toBe('x');
    faults.add({ service: 'secretsmanager', operation: 'GetSecretValue', action: { type: 'hang' } });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'applied' }))).rejects.toThrow(
      /a hang fault needs a connection/,
    );
  });
});
