/**
 * The local endpoint's STS and accounts through the real SDK clients over HTTP: AssumeRole's trust
 * policy and external id, session expiry, and Route 53 per account (zones, changes, listings,
 * an assumed role's permission policy, throttling), as the real services answer.
 */
import { Resolver } from 'node:dns/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startLocalAws, type LocalAws, type LocalAwsOptions } from './aws/server.js';
import { inProcessHandler } from './aws/in-process.js';
import { Route53Service } from './aws/route53.js';
import { StsService } from './aws/sts.js';
import { startDnsServer } from './dns-server.js';

const OWN = '123456789012';
const DNS_ACCOUNT = '210987654321';
const FUNCTION_ROLE = `arn:aws:iam::${OWN}:role/acme-rotation`;
const DNS_ROLE = `arn:aws:iam::${DNS_ACCOUNT}:role/acme-dns01`;

const running: LocalAws[] = [];

async function start(options?: LocalAwsOptions): Promise<LocalAws> {
  const aws = await startLocalAws(options);
  running.push(aws);
  return aws;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((aws) => aws.stop()));
});

type AwsError = Error & { $metadata?: { httpStatusCode?: number } };

async function failure(p: Promise<unknown>): Promise<AwsError> {
  try {
    await p;
  } catch (e) {
    return e as AwsError;
  }
  throw new Error('expected the call to fail');
}

const ownCredentials = { accessKeyId: 'test', secretAccessKey: 'test' };

function stsClient(aws: LocalAws): STSClient {
  return new STSClient({ endpoint: aws.url, region: 'us-east-1', credentials: ownCredentials, maxAttempts: 1 });
}

function route53Client(aws: LocalAws, credentials?: Credentials): Route53Client {
  return new Route53Client({
    endpoint: aws.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: credentials
      ? {
          accessKeyId: credentials.AccessKeyId!,
          secretAccessKey: credentials.SecretAccessKey!,
          sessionToken: credentials.SessionToken!,
        }
      : ownCredentials,
  });
}

/** A zone in the DNS account, and the role the function assumes to write challenges in it. */
function dnsAccount(aws: LocalAws, opts: { externalId?: string; actions?: string[] } = {}) {
  const zone = aws.route53.createZone('dns.example', { account: DNS_ACCOUNT });
  const other = aws.route53.createZone('other.example', { account: DNS_ACCOUNT });
  aws.sts.createRole({
    arn: DNS_ROLE,
    trustedPrincipals: [FUNCTION_ROLE],
    ...(opts.externalId !== undefined ? { externalId: opts.externalId } : {}),
    route53: { zoneIds: [zone.id], ...(opts.actions ? { actions: opts.actions } : {}) },
  });
  return { zone, other };
}

async function assume(aws: LocalAws, input: { externalId?: string; durationSeconds?: number } = {}) {
  return stsClient(aws).send(
    new AssumeRoleCommand({
      RoleArn: DNS_ROLE,
      RoleSessionName: 'acme-rotation',
      ...(input.externalId !== undefined ? { ExternalId: input.externalId } : {}),
      ...(input.durationSeconds !== undefined ? { DurationSeconds: input.durationSeconds } : {}),
    }),
  );
}

function txtChange(zoneId: string, name: string, value: string) {
  return new ChangeResourceRecordSetsCommand({
    HostedZoneId: zoneId,
    ChangeBatch: {
      Changes: [
        {
          Action: 'UPSERT',
          ResourceRecordSet: { Name: name, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: `"${value}"` }] },
        },
      ],
    },
  });
}

describe('AssumeRole', () => {
  it('grants a session of the role in its account, with the external id the trust policy requires', async () => {
    const t0 = Date.parse('2030-01-02T03:04:05Z');
    const aws = await start({ now: () => t0 });
    dnsAccount(aws, { externalId: 'ext-123' });
    const out = await assume(aws, { externalId: 'ext-123' });
    const role = aws.sts.role(DNS_ROLE)!;
    expect(out.AssumedRoleUser).toEqual({
      Arn: `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`,
      AssumedRoleId: `${role.roleId}:acme-rotation`,
    });
    expect(role.roleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toBeTruthy();
    expect(out.Credentials?.SessionToken).toBeTruthy();
    // The default session is an hour, IAM's default MaxSessionDuration.
    expect(out.Credentials?.Expiration?.toISOString()).toBe('2030-01-02T04:04:05.000Z');

    const identity = await new STSClient({
      endpoint: aws.url,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: {
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      },
    }).send(new GetCallerIdentityCommand({}));
    expect(identity).toMatchObject({
      Account: DNS_ACCOUNT,
      Arn: `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`,
      UserId: `${role.roleId}:acme-rotation`,
    });
    const own = await stsClient(aws).send(new GetCallerIdentityCommand({}));
    expect(own).toMatchObject({ Account: OWN, Arn: FUNCTION_ROLE });
    expect(aws.calls.filter((c) => c.service === 'sts').map((c) => [c.operation, c.account])).toEqual([
      ['AssumeRole', OWN],
      ['GetCallerIdentity', DNS_ACCOUNT],
      ['GetCallerIdentity', OWN],
    ]);
    expect(aws.calls[0]?.input).toMatchObject({ Action: 'AssumeRole', RoleArn: DNS_ROLE, ExternalId: 'ext-123' });
  });

  it('refuses a missing or wrong external id, an untrusted caller and an unknown role alike', async () => {
    const aws = await start();
    dnsAccount(aws, { externalId: 'ext-123' });
    const denied = `User: ${FUNCTION_ROLE} is not authorized to perform: sts:AssumeRole on resource: ${DNS_ROLE}`;
    for (const externalId of [undefined, 'ext-999']) {
      const err = await failure(assume(aws, externalId === undefined ? {} : { externalId }));
      expect(err.name).toBe('AccessDenied');
      expect(err.message).toBe(denied);
      expect(err.$metadata?.httpStatusCode).toBe(403);
    }

    // A role that trusts someone else.
    aws.sts.createRole({
      arn: `arn:aws:iam::${DNS_ACCOUNT}:role/someone-elses`,
      trustedPrincipals: [`arn:aws:iam::${OWN}:role/another-function`],
      route53: { zoneIds: ['*'] },
    });
    const untrusted = await failure(
      stsClient(aws).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${DNS_ACCOUNT}:role/someone-elses`, RoleSessionName: 's1' }),
      ),
    );
    expect(untrusted.name).toBe('AccessDenied');
    expect(untrusted.message).toBe(
      `User: ${FUNCTION_ROLE} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${DNS_ACCOUNT}:role/someone-elses`,
    );

    // STS does not reveal whether a role exists.
    const unknown = await failure(
      stsClient(aws).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${DNS_ACCOUNT}:role/nope`, RoleSessionName: 's1' }),
      ),
    );
    expect([unknown.name, unknown.message]).toEqual([
      'AccessDenied',
      `User: ${FUNCTION_ROLE} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${DNS_ACCOUNT}:role/nope`,
    ]);
    expect(aws.sts.sessions()).toHaveLength(0);
    expect(aws.calls.map((c) => c.error)).toEqual(Array(4).fill('AccessDenied'));
  });

  it('trusts by account root, and names a configured caller in its refusals', async () => {
    const caller = `arn:aws:sts::${OWN}:assumed-role/acme-rotation-fn/acme-rotation-fn`;
    const aws = await start({ principalArn: caller });
    aws.sts.createRole({ arn: DNS_ROLE, trustedPrincipals: [`arn:aws:iam::${OWN}:root`], route53: { zoneIds: [] } });
    expect((await assume(aws)).AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`,
    );
    // A session's role is trusted through the role's ARN.
    aws.sts.createRole({
      arn: DNS_ROLE,
      trustedPrincipals: [`arn:aws:iam::${OWN}:role/acme-rotation-fn`],
      route53: { zoneIds: [] },
    });
    expect((await assume(aws)).Credentials?.AccessKeyId).toMatch(/^ASIA/);
    aws.sts.createRole({ arn: DNS_ROLE, trustedPrincipals: [`arn:aws:iam::${OWN}:role/x`], route53: { zoneIds: [] } });
    expect((await failure(assume(aws))).message).toBe(
      `User: ${caller} is not authorized to perform: sts:AssumeRole on resource: ${DNS_ROLE}`,
    );
  });

  it('answers DurationSeconds outside 900–43200, or past the role maximum, with ValidationError', async () => {
    const aws = await start();
    dnsAccount(aws);
    const short = await failure(assume(aws, { durationSeconds: 899 }));
    expect([short.name, short.message, short.$metadata?.httpStatusCode]).toEqual([
      'ValidationError',
      "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
      400,
    ]);
    const long = await failure(assume(aws, { durationSeconds: 43201 }));
    expect([long.name, long.message]).toEqual([
      'ValidationError',
      "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
    ]);
    const overRole = await failure(assume(aws, { durationSeconds: 7200 }));
    expect([overRole.name, overRole.message]).toEqual([
      'ValidationError',
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    ]);
    const badName = await failure(
      stsClient(aws).send(new AssumeRoleCommand({ RoleArn: DNS_ROLE, RoleSessionName: 'has space' })),
    );
    expect(badName.name).toBe('ValidationError');
    expect(badName.message).toContain("at 'roleSessionName' failed to satisfy constraint");
    expect((await assume(aws, { durationSeconds: 900 })).Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it('expires sessions: every service then refuses the credentials with ExpiredToken', async () => {
    let clock = Date.parse('2030-01-02T03:04:05Z');
    const aws = await start({ now: () => clock });
    const { zone } = dnsAccount(aws);
    aws.sts.maxSessionSeconds = 60;
    const out = await assume(aws, { durationSeconds: 3600 });
    expect(out.Credentials?.Expiration?.toISOString()).toBe('2030-01-02T03:05:05.000Z');
    const r53 = route53Client(aws, out.Credentials);
    await r53.send(new GetHostedZoneCommand({ Id: zone.id }));

    clock += 60_000;
    const expired = await failure(r53.send(new GetHostedZoneCommand({ Id: zone.id })));
    expect([expired.name, expired.message, expired.$metadata?.httpStatusCode]).toEqual([
      'ExpiredToken',
      'The security token included in the request is expired',
      403,
    ]);
    const sm = new SecretsManagerClient({
      endpoint: aws.url,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: {
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      },
    });
    const smErr = await failure(sm.send(new GetSecretValueCommand({ SecretId: 'x' })));
    expect([smErr.name, smErr.$metadata?.httpStatusCode]).toEqual(['ExpiredTokenException', 403]);
    expect(aws.calls.slice(-2).map((c) => [c.service, c.error, c.account])).toEqual([
      ['route53', 'ExpiredToken', undefined],
      ['secretsmanager', 'ExpiredTokenException', undefined],
    ]);

    // A fresh session works again; expireSessions() ends every session at once.
    const again = await assume(aws);
    const r53b = route53Client(aws, again.Credentials);
    await r53b.send(new GetHostedZoneCommand({ Id: zone.id }));
    aws.sts.expireSessions();
    expect((await failure(r53b.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('ExpiredToken');
  });

  it('refuses a session key the endpoint never issued, or one sent without its session token', async () => {
    const aws = await start();
    const { zone } = dnsAccount(aws);
    const forged = await failure(
      route53Client(aws, {
        AccessKeyId: 'ASIAFORGEDFORGEDFORG',
        SecretAccessKey: 'x',
        SessionToken: 'y',
        Expiration: new Date(),
      }).send(new GetHostedZoneCommand({ Id: zone.id })),
    );
    expect([forged.name, forged.message, forged.$metadata?.httpStatusCode]).toEqual([
      'InvalidClientTokenId',
      'The security token included in the request is invalid.',
      403,
    ]);
    const out = await assume(aws);
    const noToken = new Route53Client({
      endpoint: aws.url,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey! },
    });
    expect((await failure(noToken.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('InvalidClientTokenId');
  });

  it('an assumed-role session cannot assume roles: its policy only covers Route 53', async () => {
    const aws = await start();
    dnsAccount(aws);
    const out = await assume(aws);
    const chained = new STSClient({
      endpoint: aws.url,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: {
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      },
    });
    const err = await failure(chained.send(new AssumeRoleCommand({ RoleArn: DNS_ROLE, RoleSessionName: 'again' })));
    expect([err.name, err.message]).toEqual([
      'AccessDenied',
      `User: arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation is not authorized to perform: sts:AssumeRole on resource: ${DNS_ROLE}`,
    ]);
  });
});

describe('Route 53 per account', () => {
  it("another account's zone is NoSuchHostedZone without a role, and its changes NoSuchChange", async () => {
    const aws = await start();
    const { zone } = dnsAccount(aws);
    const own = aws.route53.createZone('own.example');
    expect([own.account, zone.account]).toEqual([OWN, DNS_ACCOUNT]);
    const r53 = route53Client(aws);
    for (const command of [
      new GetHostedZoneCommand({ Id: zone.id }),
      new ListResourceRecordSetsCommand({ HostedZoneId: zone.id }),
      txtChange(zone.id, '_acme-challenge.dns.example', 'nope'),
    ]) {
      const err = await failure(r53.send(command as GetHostedZoneCommand));
      expect([err.name, err.message, err.$metadata?.httpStatusCode]).toEqual([
        'NoSuchHostedZone',
        `No hosted zone found with ID: ${zone.id}`,
        404,
      ]);
    }
    expect(aws.route53.txtValues('_acme-challenge.dns.example')).toEqual([]);

    // Through the role, the change is made in the DNS account; only that account finds it.
    const assumed = route53Client(aws, (await assume(aws)).Credentials);
    const change = await assumed.send(txtChange(zone.id, '_acme-challenge.dns.example', 'token'));
    expect(aws.route53.txtValues('_acme-challenge.dns.example')).toEqual(['token']);
    const id = change.ChangeInfo!.Id!;
    expect((await assumed.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status).toBe('INSYNC');
    const notOurs = await failure(r53.send(new GetChangeCommand({ Id: id })));
    expect([notOurs.name, notOurs.$metadata?.httpStatusCode]).toEqual(['NoSuchChange', 404]);

    const records = await assumed.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.id }));
    expect(records.ResourceRecordSets?.map((r) => r.Type)).toEqual(['NS', 'SOA', 'TXT']);
    const own53 = await r53.send(new GetHostedZoneCommand({ Id: own.id }));
    expect(own53.HostedZone?.Name).toBe('own.example.');
    expect(
      aws.calls
        .filter((c) => c.service === 'route53' && c.error === undefined)
        .map((c) => [c.operation, c.principal, c.account]),
    ).toEqual([
      ['ChangeResourceRecordSets', `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`, DNS_ACCOUNT],
      ['GetChange', `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`, DNS_ACCOUNT],
      ['ListResourceRecordSets', `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`, DNS_ACCOUNT],
      ['GetHostedZone', FUNCTION_ROLE, OWN],
    ]);
  });

  it("an assumed role is AccessDenied for an action or zone outside its policy, before the zone's existence", async () => {
    const aws = await start();
    const { zone, other } = dnsAccount(aws, { actions: ['GetHostedZone', 'ListResourceRecordSets', 'GetChange'] });
    const session = `arn:aws:sts::${DNS_ACCOUNT}:assumed-role/acme-dns01/acme-rotation`;
    const assumed = route53Client(aws, (await assume(aws)).Credentials);

    const noAction = await failure(assumed.send(txtChange(zone.id, '_acme-challenge.dns.example', 'x')));
    expect([noAction.name, noAction.message, noAction.$metadata?.httpStatusCode]).toEqual([
      'AccessDenied',
      `User: ${session} is not authorized to perform: route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/${zone.id}`,
      403,
    ]);
    const otherZone = await failure(assumed.send(new GetHostedZoneCommand({ Id: other.id })));
    expect([otherZone.name, otherZone.message]).toEqual([
      'AccessDenied',
      `User: ${session} is not authorized to perform: route53:GetHostedZone on resource: arn:aws:route53:::hostedzone/${other.id}`,
    ]);
    // Not zone-scoped, and not in the role's actions.
    const listing = await failure(assumed.send(new ListHostedZonesByNameCommand({ DNSName: 'dns.example' })));
    expect([listing.name, listing.message]).toEqual([
      'AccessDenied',
      `User: ${session} is not authorized to perform: route53:ListHostedZonesByName`,
    ]);
    // IAM answers before the lookup: a zone the policy does not name is denied even if it does not exist.
    expect((await failure(assumed.send(new GetHostedZoneCommand({ Id: 'ZNOSUCHZONE' })))).name).toBe('AccessDenied');
    // What the policy allows works.
    expect((await assumed.send(new GetHostedZoneCommand({ Id: zone.id }))).HostedZone?.Id).toBe(
      `/hostedzone/${zone.id}`,
    );
    expect(aws.route53.txtValues('_acme-challenge.dns.example')).toEqual([]);
  });

  it('a role allowed every zone of its account still sees only its account', async () => {
    const aws = await start();
    const { zone } = dnsAccount(aws);
    const own = aws.route53.createZone('own.example');
    aws.sts.createRole({
      arn: DNS_ROLE,
      trustedPrincipals: [FUNCTION_ROLE],
      route53: { zoneIds: ['*'], actions: ['GetHostedZone', 'ListHostedZonesByName'] },
    });
    const assumed = route53Client(aws, (await assume(aws)).Credentials);
    expect((await failure(assumed.send(new GetHostedZoneCommand({ Id: own.id })))).name).toBe('NoSuchHostedZone');
    expect((await assumed.send(new GetHostedZoneCommand({ Id: zone.id }))).HostedZone?.Name).toBe('dns.example.');
  });

  it("ListHostedZonesByName lists only the caller account's zones", async () => {
    const aws = await start();
    aws.route53.createZone('own.example');
    aws.route53.createZone('b.own.example');
    dnsAccount(aws, { actions: ['ListHostedZonesByName'] });
    const names = async (client: Route53Client) =>
      (await client.send(new ListHostedZonesByNameCommand({}))).HostedZones?.map((z) => z.Name);
    expect(await names(route53Client(aws))).toEqual(['own.example.', 'b.own.example.']);
    expect(await names(route53Client(aws, (await assume(aws)).Credentials))).toEqual([
      'dns.example.',
      'other.example.',
    ]);
    expect(aws.route53.zones(DNS_ACCOUNT).map((z) => z.name)).toEqual(['dns.example.', 'other.example.']);
    expect(aws.route53.zones()).toHaveLength(4);
  });

  it('throttles each account on its own bucket', async () => {
    const frozen = Date.now();
    const aws = await start({ route53RateLimitPerSecond: 2, now: () => frozen });
    const { zone } = dnsAccount(aws);
    const own = aws.route53.createZone('own.example');
    const r53 = route53Client(aws);
    const assumed = route53Client(aws, (await assume(aws)).Credentials);
    // The clock stands still, so no bucket refills: two calls each, then Throttling.
    await r53.send(new GetHostedZoneCommand({ Id: own.id }));
    await r53.send(new GetHostedZoneCommand({ Id: own.id }));
    const throttled = await failure(r53.send(new GetHostedZoneCommand({ Id: own.id })));
    expect([throttled.name, throttled.message]).toEqual(['Throttling', 'Rate exceeded']);
    await assumed.send(new GetHostedZoneCommand({ Id: zone.id }));
    await assumed.send(new GetHostedZoneCommand({ Id: zone.id }));
    expect((await failure(assumed.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('Throttling');
    expect(aws.calls.filter((c) => c.error === 'Throttling').map((c) => c.account)).toEqual([OWN, DNS_ACCOUNT]);
  });

  it('faults can target one account', async () => {
    const aws = await start();
    const { zone } = dnsAccount(aws);
    const own = aws.route53.createZone('own.example');
    aws.addFault({
      service: 'route53',
      operation: 'GetHostedZone',
      account: DNS_ACCOUNT,
      times: Infinity,
      action: { type: 'error', error: { code: 'ServiceUnavailable', message: 'down', status: 503 } },
    });
    expect((await route53Client(aws).send(new GetHostedZoneCommand({ Id: own.id }))).HostedZone?.Id).toBe(
      `/hostedzone/${own.id}`,
    );
    const assumed = route53Client(aws, (await assume(aws)).Credentials);
    expect((await failure(assumed.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('ServiceUnavailable');
  });

  it("the DNS responder serves every account's public zones", async () => {
    const aws = await start();
    const { zone } = dnsAccount(aws);
    aws.route53.createZone('own.example');
    const dns = await startDnsServer({ route53: aws.route53 });
    try {
      const assumed = route53Client(aws, (await assume(aws)).Credentials);
      await assumed.send(txtChange(zone.id, '_acme-challenge.dns.example', 'cross'));
      await route53Client(aws).send(txtChange(aws.route53.zones(OWN)[0]!.id, '_acme-challenge.own.example', 'mine'));
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dns.port}`]);
      expect(await resolver.resolveTxt('_acme-challenge.dns.example')).toEqual([['cross']]);
      expect(await resolver.resolveTxt('_acme-challenge.own.example')).toEqual([['mine']]);
    } finally {
      await dns.stop();
    }
  });
});

describe('in process', () => {
  it('answers STSClient and Route53Client from the models, per account', async () => {
    const route53 = new Route53Service({ changeDelayMs: 0 });
    const sts = new StsService({ accountId: OWN });
    const zone = route53.createZone('dns.example', { account: DNS_ACCOUNT });
    sts.createRole({ arn: DNS_ROLE, trustedPrincipals: [FUNCTION_ROLE], route53: { zoneIds: [zone.id] } });
    const requestHandler = inProcessHandler({ route53, sts });
    const common = { region: 'us-east-1', endpoint: 'http://in-process.invalid', requestHandler, maxAttempts: 1 };
    const out = await new STSClient({ ...common, credentials: ownCredentials }).send(
      new AssumeRoleCommand({ RoleArn: DNS_ROLE, RoleSessionName: 'unit' }),
    );
    const own = new Route53Client({ ...common, credentials: ownCredentials });
    expect((await failure(own.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('NoSuchHostedZone');
    const assumed = new Route53Client({
      ...common,
      credentials: {
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      },
    });
    await assumed.send(txtChange(zone.id, '_acme-challenge.dns.example', 'unit'));
    expect(route53.txtValues('_acme-challenge.dns.example')).toEqual(['unit']);
    sts.expireSessions();
    expect((await failure(assumed.send(new GetHostedZoneCommand({ Id: zone.id })))).name).toBe('ExpiredToken');
  });
});
