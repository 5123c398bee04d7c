/**
 * The AcmeRotation component under Pulumi mocks: every resource it declares, with its inputs,
 * and every IAM statement — read from the inputs the AWS provider would receive.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { AcmeRotationArgs } from '../../infra/args.js';
import { AcmeRotation, AcmeRotationArgsError, COMPONENT_TYPE } from '../../infra/component.js';
import { loadStackArgs } from '../../infra/validate.js';
import type { PolicyDocument } from '../../infra/iam.js';
import { acmArnTags } from '../../rotation/certificate/spec.js';
import { parseAwaitRequest } from '../../rotation/watch/await.js';
import { makeRootCa } from '../helpers/certs.js';
import { expectLeastPrivilege, statement } from './iam.js';
import {
  ACCOUNT,
  AwsMocks,
  PROJECT,
  REGION,
  Registrations,
  STACK,
  acmArnOf,
  baseConfig,
  mockPem,
  settle,
  valueOf,
  type Recorded,
} from './mocks.js';

const BUNDLE_DIR = '/repo/dist/rotation';
const WATCH_BUNDLE_DIR = '/repo/dist/watch';
const T = {
  function: 'aws:lambda/function:Function',
  permission: 'aws:lambda/permission:Permission',
  logGroup: 'aws:cloudwatch/logGroup:LogGroup',
  role: 'aws:iam/role:Role',
  rolePolicy: 'aws:iam/rolePolicy:RolePolicy',
  secret: 'aws:secretsmanager/secret:Secret',
  secretPolicy: 'aws:secretsmanager/secretPolicy:SecretPolicy',
  secretRotation: 'aws:secretsmanager/secretRotation:SecretRotation',
  secretVersion: 'aws:secretsmanager/secretVersion:SecretVersion',
  acmCertificate: 'aws:acm/certificate:Certificate',
  tlsKey: 'tls:index/privateKey:PrivateKey',
  tlsSelfSigned: 'tls:index/selfSignedCert:SelfSignedCert',
  topic: 'aws:sns/topic:Topic',
  subscription: 'aws:sns/topicSubscription:TopicSubscription',
  topicPolicy: 'aws:sns/topicPolicy:TopicPolicy',
  rule: 'aws:cloudwatch/eventRule:EventRule',
  target: 'aws:cloudwatch/eventTarget:EventTarget',
  alarm: 'aws:cloudwatch/metricAlarm:MetricAlarm',
  dashboard: 'aws:cloudwatch/dashboard:Dashboard',
  invocation: 'aws:lambda/invocation:Invocation',
};
/** The child components AcmeRotation is made of. */
const C = {
  notices: 'acme-rotation:index:Notices',
  functionRole: 'acme-rotation:index:FunctionRole',
  account: 'acme-rotation:index:AcmeAccount',
  rotation: 'acme-rotation:index:RotationFunction',
  certificate: 'acme-rotation:index:CertificateSecret',
  watch: 'acme-rotation:index:RenewalWatch',
  acm: 'acme-rotation:index:AcmCertificates',
};
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/acme-rotation-dev-rotation`;
const WATCH_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/acme-rotation-dev-watch`;
const ROTATION_FN_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-rotation-dev-rotation`;
const WATCH_FN_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-rotation-dev-watch`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:acme-rotation-dev-notices`;
/** How Pulumi serializes a secret value (rpc.specialSigKey / specialSecretSig). */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_SIG_VALUE = '1b47061264138c4ac30d75fd1eb44270';
/** A secret Output's value as the provider receives it. */
const secretValue = (value: unknown) => ({ [SECRET_SIG]: SECRET_SIG_VALUE, value });
const secretArn = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;

/** The component's args from stack config values (as in Pulumi.<stack>.yaml), the stack's route. */
function argsFrom(extra: Record<string, unknown> = {}): AcmeRotationArgs {
  const raw = baseConfig(extra);
  const ns = `${PROJECT}:`;
  return loadStackArgs({
    namespace: PROJECT,
    stack: STACK,
    get: (k) => raw[`${ns}${k}`],
    keys: Object.keys(raw)
      .filter((k) => k.startsWith(ns))
      .map((k) => k.slice(ns.length)),
    awsIgnoreTags: raw['aws:ignoreTags'],
  }).args;
}

const mocks = new AwsMocks();
const registrations = new Registrations(PROJECT, STACK);

async function deploy(
  extra: Record<string, unknown> = {},
  args: Partial<{ eabHmacKey: pulumi.Input<string> }> = {},
): Promise<AcmeRotation> {
  const component = new AcmeRotation('acme-rotation', {
    ...argsFrom(extra),
    rotationBundleDir: BUNDLE_DIR,
    watchBundleDir: WATCH_BUNDLE_DIR,
    ...args,
  });
  await valueOf(component.functionName);
  await settle(mocks);
  return component;
}

function policyOf(r: Recorded, field = 'policy'): PolicyDocument {
  return JSON.parse(r.inputs[field] as string) as PolicyDocument;
}

function typeCounts(custom: boolean): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of mocks.resources.filter((x) => x.custom === custom)) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

beforeAll(async () => {
  // The default AWS provider's configuration, which the component checks as the stack does.
  pulumi.runtime.setAllConfig({ 'aws:ignoreTags': baseConfig()['aws:ignoreTags'] as string });
  await pulumi.runtime.setMocks(mocks, PROJECT, STACK, false);
  registrations.install(pulumi.runtime.getMonitor());
});

beforeEach(() => {
  mocks.reset();
  registrations.reset();
});

describe('what one stack declares', () => {
  it('declares exactly these resources for one certificate (persistent account, e-mail notices)', async () => {
    await deploy({ 'acme-rotation:notificationEmail': 'ops@example.com' });
    expect(typeCounts(true)).toEqual({
      [T.topic]: 1,
      [T.subscription]: 1,
      [T.logGroup]: 2,
      [T.role]: 2,
      [T.rolePolicy]: 2,
      [T.secret]: 2,
      [T.secretPolicy]: 2,
      [T.function]: 3, // rotation, watch, and the watch's first-certificate waiter
      [T.permission]: 2,
      [T.secretRotation]: 1,
      [T.rule]: 2,
      [T.target]: 2,
      [T.alarm]: 3, // rotation errors, certificates at risk, ACM targets lagging
      [T.dashboard]: 1,
      [T.topicPolicy]: 1,
    });
    expect(typeCounts(false)).toEqual({
      [COMPONENT_TYPE]: 1,
      [C.notices]: 1,
      [C.functionRole]: 2,
      [C.account]: 1,
      [C.rotation]: 1,
      [C.certificate]: 1,
      [C.watch]: 1,
    });
  });

  it('adds a secret, its policy and its rotation per certificate, and nothing else', async () => {
    await deploy({
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com', '*.example.com'] },
        { name: 'api', domains: ['api.example.org'] },
        { name: 'dev', domains: ['*.dev.example.com'] },
      ],
    });
    const counts = typeCounts(true);
    expect(counts[T.secret]).toBe(4); // 3 certificates + the ACME account
    expect(counts[T.secretPolicy]).toBe(4);
    expect(counts[T.secretRotation]).toBe(3);
    expect(counts[T.function]).toBe(3);
    expect(counts[T.subscription]).toBeUndefined();
    expect(typeCounts(false)[C.certificate]).toBe(3);
  });

  it('parents every resource to the component, through one child component at most', async () => {
    await deploy();
    expect(registrations.list).toHaveLength(mocks.resources.length);
    const [root, ...rest] = registrations.list;
    expect(root).toMatchObject({ type: COMPONENT_TYPE, name: 'acme-rotation', parentMockUrn: '' });
    for (const r of rest) {
      const types = registrations.ancestors(r).map((a) => a.type);
      expect(types[types.length - 1], `${r.type} ${r.name}`).toBe(COMPONENT_TYPE);
      if (r.custom) expect(types.length, `${r.type} ${r.name}`).toBeLessThanOrEqual(2);
      else expect(types, `${r.type} ${r.name}`).toEqual([COMPONENT_TYPE]);
    }
  });

  it('never writes a placeholder version into a certificate secret', async () => {
    await deploy();
    expect(mocks.ofType(T.secretVersion)).toEqual([]);
  });
});

describe('the rotation function', () => {
  it('runs nodejs22.x on arm64 with 512 MB, 900 s, JSON logs in its own log group, from dist/rotation', async () => {
    await deploy();
    const fn = mocks.one(T.function, 'acme-rotation-rotation');
    expect(fn.inputs).toMatchObject({
      name: 'acme-rotation-dev-rotation',
      runtime: 'nodejs22.x',
      architectures: ['arm64'],
      handler: 'index.handler',
      memorySize: 512,
      timeout: 900,
      role: ROLE_ARN,
      loggingConfig: { logFormat: 'JSON', logGroup: '/aws/lambda/acme-rotation-dev-rotation' },
    });
    const code = fn.inputs.code as pulumi.asset.FileArchive;
    expect(code).toBeInstanceOf(pulumi.asset.FileArchive);
    expect(await code.path).toBe(BUNDLE_DIR);
    expect(mocks.one(T.logGroup, 'acme-rotation-rotation-logs').inputs).toMatchObject({
      name: '/aws/lambda/acme-rotation-dev-rotation',
      retentionInDays: 90,
    });
  });

  it('gets the environment the README documents', async () => {
    await deploy();
    const env = (mocks.one(T.function, 'acme-rotation-rotation').inputs.environment as { variables: object }).variables;
    expect(env).toEqual({
      ACME_DIRECTORY_URL: 'https://acme-v02.api.letsencrypt.org/directory',
      ACME_ACCOUNT_SECRET_ID: secretArn('acme-rotation-dev/acme-account'),
      NOTIFICATION_TOPIC_ARN: TOPIC_ARN,
      DNS_PROPAGATION_TIMEOUT_SECONDS: '300',
      ACME_TIMEOUT_SECONDS: '180',
      LOG_LEVEL: 'info',
      NODE_OPTIONS: '--enable-source-maps',
      // Per-CA metrics under the watch's namespace and Stack dimension.
      METRIC_NAMESPACE: 'AcmeRotation',
      METRIC_STACK: 'acme-rotation/dev',
    });
  });

  it('with cas, gets ACME_CAS: each CA with its own account secret, the one-CA account and chain variables unset', async () => {
    await deploy({
      'acme-rotation:cas': [
        { ca: 'production', name: 'letsencrypt', profile: 'tlsserver' },
        { ca: 'https://acme.zerossl.com/v2/DV90', name: 'zerossl', preferredChain: 'USERTrust ECC' },
      ],
    });
    const env = (
      mocks.one(T.function, 'acme-rotation-rotation').inputs.environment as { variables: Record<string, string> }
    ).variables;
    expect(JSON.parse(env.ACME_CAS ?? '[]')).toEqual([
      {
        name: 'letsencrypt',
        directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
        accountSecretId: secretArn('acme-rotation-dev/acme-account'),
        profile: 'tlsserver',
      },
      {
        name: 'zerossl',
        directoryUrl: 'https://acme.zerossl.com/v2/DV90',
        accountSecretId: 'acme-rotation-dev/acme-account-zerossl',
        preferredChain: 'USERTrust ECC',
      },
    ]);
    expect(env.ACME_DIRECTORY_URL).toBe('https://acme-v02.api.letsencrypt.org/directory');
    expect(env.ACME_ACCOUNT_SECRET_ID).toBeUndefined();
    expect(env.ACME_PREFERRED_CHAIN).toBeUndefined();
  });

  it('passes the optional settings through', async () => {
    await deploy({
      'acme-rotation:ca': 'staging',
      'acme-rotation:email': 'certs@example.com',
      'acme-rotation:account': 'ephemeral',
      'acme-rotation:eventBus': 'certs',
      'acme-rotation:dnsResolvers': ['1.1.1.1', '8.8.8.8:53'],
      'acme-rotation:dnsPropagationTimeoutSeconds': '120',
      'acme-rotation:acmeTimeoutSeconds': '240',
      'acme-rotation:logLevel': 'debug',
      'acme-rotation:memoryMb': '1024',
      'acme-rotation:logRetentionDays': '365',
    });
    const fn = mocks.one(T.function, 'acme-rotation-rotation');
    expect(fn.inputs.memorySize).toBe(1024);
    expect((fn.inputs.environment as { variables: object }).variables).toEqual({
      ACME_DIRECTORY_URL: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      ACME_EMAIL: 'certs@example.com',
      NOTIFICATION_TOPIC_ARN: TOPIC_ARN,
      EVENT_BUS_NAME: 'certs',
      DNS_RESOLVERS: '1.1.1.1,8.8.8.8:53',
      DNS_PROPAGATION_TIMEOUT_SECONDS: '120',
      ACME_TIMEOUT_SECONDS: '240',
      LOG_LEVEL: 'debug',
      NODE_OPTIONS: '--enable-source-maps',
      METRIC_NAMESPACE: 'AcmeRotation',
      METRIC_STACK: 'acme-rotation/dev',
    });
    expect(mocks.one(T.logGroup, 'acme-rotation-rotation-logs').inputs.retentionInDays).toBe(365);
    expect(fn.inputs.code).toBeInstanceOf(pulumi.asset.FileArchive);
    // Ephemeral account: no account secret.
    expect(mocks.ofType(T.secret).map((r) => r.inputs.name)).toEqual(['certs/web']);
  });

  it('takes any CA on its terms: preferred chain, lifetime cap, and a private root shipped in the package', async () => {
    const root = makeRootCa({ cn: 'Component Test Private Root' });
    await deploy({
      'acme-rotation:ca': 'https://ca.internal.example:9000/acme/acme/directory',
      'acme-rotation:certificateLifetime': '24h',
      'acme-rotation:preferredChain': 'Component Test Private Root',
      'acme-rotation:maxCertificateLifetimeDays': '30',
      'acme-rotation:caRootsPem': root.certPem,
    });
    const fn = mocks.one(T.function, 'acme-rotation-rotation');
    expect((fn.inputs.environment as { variables: object }).variables).toMatchObject({
      ACME_DIRECTORY_URL: 'https://ca.internal.example:9000/acme/acme/directory',
      ACME_PREFERRED_CHAIN: 'Component Test Private Root',
      MAX_CERTIFICATE_LIFETIME_DAYS: '30',
      NODE_EXTRA_CA_CERTS: '/var/task/ca-roots.pem',
    });
    const code = fn.inputs.code as pulumi.asset.AssetArchive;
    expect(code).toBeInstanceOf(pulumi.asset.AssetArchive);
    const assets = (await code.assets) as Record<string, pulumi.asset.Asset | pulumi.asset.Archive>;
    expect(Object.keys(assets).sort()).toEqual(['.', 'ca-roots.pem']);
    expect(await (assets['.'] as pulumi.asset.FileArchive).path).toBe(BUNDLE_DIR);
    expect(await (assets['ca-roots.pem'] as pulumi.asset.StringAsset).text).toBe(root.certPem);
  });

  it('may be invoked by Secrets Manager from this account only', async () => {
    await deploy();
    expect(mocks.one(T.permission, 'acme-rotation-rotation-invoke').inputs).toEqual({
      action: 'lambda:InvokeFunction',
      function: 'acme-rotation-dev-rotation',
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: ACCOUNT,
    });
  });
});

describe('IAM: the rotation role', () => {
  it('is assumed by Lambda only', async () => {
    await deploy();
    const role = mocks.one(T.role, 'acme-rotation-rotation-role');
    expect(policyOf(role, 'assumeRolePolicy').Statement).toEqual([
      {
        Sid: 'LambdaAssumesThisRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: ['sts:AssumeRole'],
      },
    ]);
  });

  it('may write challenges only in the zones of the certificates (names resolved to public zones, ids as given)', async () => {
    await deploy({
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com', '*.example.com'] },
        { name: 'dev', domains: ['api.dev.example.com'] },
        { name: 'org', domains: ['example.org'] },
      ],
      'acme-rotation:hostedZones': ['example.com', 'dev.example.com', 'Z0EXAMPLEORG000000003'],
    });
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expectLeastPrivilege(doc);
    const zones = [
      'arn:aws:route53:::hostedzone/Z0DEVEXAMPLECOM00002',
      'arn:aws:route53:::hostedzone/Z0EXAMPLECOM000000001',
      'arn:aws:route53:::hostedzone/Z0EXAMPLEORG000000003',
    ];
    expect(statement(doc, 'WriteChallengeTxtRecords').Resource).toEqual(zones);
    expect(statement(doc, 'WriteChallengeTxtRecords').Condition).toMatchObject({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
      },
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.*'] },
    });
    expect(statement(doc, 'ReadChallengeZones').Resource).toEqual(zones);
    expect(doc.Statement.map((s) => s.Sid)).toEqual([
      'WriteOwnLogs',
      'WriteChallengeTxtRecords',
      'ReadChallengeZones',
      'WaitForChallengeChanges',
      'PublishNotices',
    ]);
    expect(statement(doc, 'WriteOwnLogs').Resource).toBe(
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/acme-rotation-dev-rotation:*`,
    );
    expect(statement(doc, 'PublishNotices').Resource).toBe(TOPIC_ARN);
    // A zone no certificate uses is not granted, and the private twin of example.com is never picked.
    expect(JSON.stringify(doc)).not.toContain('Z0PRIVEXAMPLECOM0005');
    expect(JSON.stringify(doc)).not.toContain('Z0ACMEEXAMPLENET0004');
  });

  it('adds the bus, the KMS key and delegated challenge names when configured', async () => {
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    await deploy({
      'acme-rotation:eventBus': 'certs',
      'acme-rotation:kmsKeyArn': key,
      'acme-rotation:certificates': [
        {
          name: 'shop',
          domains: ['shop.example.com'],
          hostedZoneIds: ['Z0EXAMPLECOM000000001', 'Z0ACMEEXAMPLENET0004'],
          cnameTargets: ['*.acme.example.net'],
        },
      ],
    });
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expectLeastPrivilege(doc);
    expect(statement(doc, 'PutRotationEvents').Resource).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/certs`);
    expect(statement(doc, 'UseSecretsKeyThroughSecretsManager').Resource).toBe(key);
    const delegated = statement(doc, 'WriteDelegatedChallengeTxtRecords');
    expect(delegated.Resource).toEqual([
      'arn:aws:route53:::hostedzone/Z0ACMEEXAMPLENET0004',
      'arn:aws:route53:::hostedzone/Z0EXAMPLECOM000000001',
    ]);
    expect(delegated.Condition?.['ForAllValues:StringLike']).toEqual({
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['*.acme.example.net'],
    });
    for (const secret of mocks.ofType(T.secret)) expect(secret.inputs.kmsKeyId).toBe(key);
  });
});

describe('certificate secrets', () => {
  it('carry the spec tags the rotation reads, with the resolved zone ids, and the stack tags', async () => {
    await deploy({
      'acme-rotation:tags': { team: 'platform' },
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com', '*.example.com'], keyType: 'rsa-4096', profile: 'tlsserver' },
      ],
    });
    const secret = mocks.one(T.secret, 'acme-rotation-cert-web');
    expect(secret.inputs).toEqual({
      name: 'certs/web',
      description: 'TLS certificate for example.com, *.example.com (acme-rotation)',
      recoveryWindowInDays: 30,
      tags: {
        team: 'platform',
        'acme:domains': 'example.com,*.example.com',
        'acme:key-type': 'rsa-4096',
        'acme:profile': 'tlsserver',
        'acme:hosted-zone-ids': 'Z0EXAMPLECOM000000001',
      },
    });
  });

  it('open to the rotation role and the renewal watch by a resource policy on the exact ARN', async () => {
    await deploy();
    const policy = mocks.one(T.secretPolicy, 'acme-rotation-cert-web-policy');
    expect(policy.inputs.secretArn).toBe(secretArn('certs/web'));
    expect(policy.inputs.blockPublicPolicy).toBe(true);
    const doc = policyOf(policy);
    expectLeastPrivilege(doc);
    expect(doc.Statement.map((s) => [s.Sid, s.Principal, s.Resource])).toEqual([
      ['RotationReadsAndWritesVersions', { AWS: ROLE_ARN }, secretArn('certs/web')],
      ['RotationWritesStatusTagsOnly', { AWS: ROLE_ARN }, secretArn('certs/web')],
      ['WatchReadsAndStartsRotation', { AWS: WATCH_ROLE_ARN }, secretArn('certs/web')],
      ['WatchClearsFailedRotation', { AWS: WATCH_ROLE_ARN }, secretArn('certs/web')],
      ['WatchWritesRenewalTagsOnly', { AWS: WATCH_ROLE_ARN }, secretArn('certs/web')],
    ]);
    expect(doc.Statement.find((st) => st.Sid === 'WatchReadsAndStartsRotation')?.Action).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:ListSecretVersionIds',
      'secretsmanager:RotateSecret',
    ]);
    expect(doc.Statement.find((st) => st.Sid === 'WatchWritesRenewalTagsOnly')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'aws:TagKeys': ['acme-rotation:renewal-*'] },
      Null: { 'aws:TagKeys': 'false' },
    });
  });

  it('rotate immediately, on the derived schedule, with our function', async () => {
    await deploy({
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com'] },
        { name: 'short', domains: ['short.example.com'], profile: 'shortlived' },
        { name: 'hourly', domains: ['h.example.com'], schedule: '12h' },
      ],
    });
    const fnArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-rotation-dev-rotation`;
    expect(mocks.one(T.secretRotation, 'acme-rotation-cert-web-rotation').inputs).toEqual({
      secretId: secretArn('certs/web'),
      rotationLambdaArn: fnArn,
      rotationRules: { automaticallyAfterDays: 30 },
      rotateImmediately: true,
    });
    expect(mocks.one(T.secretRotation, 'acme-rotation-cert-short-rotation').inputs.rotationRules).toEqual({
      automaticallyAfterDays: 4,
    });
    expect(mocks.one(T.secretRotation, 'acme-rotation-cert-hourly-rotation').inputs.rotationRules).toEqual({
      scheduleExpression: 'rate(12 hours)',
    });
  });

  it('exposes each secret ARN, name, zones and schedule', async () => {
    const component = await deploy();
    const web = component.certificates.web;
    expect(web).toBeDefined();
    expect(await valueOf(web!.secretArn)).toBe(secretArn('certs/web'));
    expect(await valueOf(web!.secretName)).toBe('certs/web');
    expect(await valueOf(web!.hostedZoneIds)).toEqual(['Z0EXAMPLECOM000000001']);
    expect(web!.schedule).toMatch(/^every 30 days: 2\/3 of 45 days/);
    expect(await valueOf(component.topicArn)).toBe(TOPIC_ARN);
    expect(await valueOf(component.functionName)).toBe('acme-rotation-dev-rotation');
  });
});

describe('deployment to ACM', () => {
  /** An imported certificate of this account, in a region the program does not create one in. */
  const EXISTING = `arn:aws:acm:ap-southeast-2:${ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
  const US_EAST = acmArnOf('acme-rotation-cert-web-acm-us-east-1', 'us-east-1');
  const EU_WEST = acmArnOf('acme-rotation-cert-web-acm-eu-west-1', 'eu-west-1');
  const acmWeb = (acm: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    'acme-rotation:certificates': [{ name: 'web', domains: ['example.com', '*.example.com'], acm, ...extra }],
  });

  it('creates one ACM certificate per region from a placeholder of the same key type, owned by the rotation afterwards', async () => {
    await deploy(acmWeb({ regions: ['us-east-1', 'eu-west-1'], arns: [EXISTING] }, { keyType: 'rsa-3072' }));
    expect(mocks.one(T.tlsKey, 'acme-rotation-cert-web-acm-key').inputs).toEqual({
      algorithm: 'RSA',
      rsaBits: 3072,
    });
    expect(mocks.one(T.tlsSelfSigned, 'acme-rotation-cert-web-acm-placeholder').inputs).toMatchObject({
      privateKeyPem: secretValue(mockPem('PRIVATE KEY', 'acme-rotation-cert-web-acm-key')),
      subject: { commonName: 'example.com', organization: 'acme-rotation placeholder' },
      dnsNames: ['example.com', '*.example.com'],
      // KU digitalSignature and EKU serverAuth, no RSA keyEncipherment: ACM re-imports a CA's
      // certificate over it (placeholder-reimport.test.ts renders and re-imports it).
      allowedUses: ['digital_signature', 'server_auth'],
    });
    // Two created (the existing ARN is only named), each in its region.
    expect(mocks.ofType(T.acmCertificate).map((r) => [r.name, r.inputs.region])).toEqual([
      ['acme-rotation-cert-web-acm-us-east-1', 'us-east-1'],
      ['acme-rotation-cert-web-acm-eu-west-1', 'eu-west-1'],
    ]);
    for (const region of ['us-east-1', 'eu-west-1']) {
      const name = `acme-rotation-cert-web-acm-${region}`;
      expect(mocks.one(T.acmCertificate, name).inputs).toEqual({
        region,
        // The key stays a secret all the way into the state.
        privateKey: secretValue(mockPem('PRIVATE KEY', 'acme-rotation-cert-web-acm-key')),
        certificateBody: mockPem('CERTIFICATE', 'acme-rotation-cert-web-acm-placeholder'),
        tags: {},
      });
      const reg = registrations.list.find((r) => r.type === T.acmCertificate && r.name === name);
      expect(reg?.ignoreChanges.sort()).toEqual(['certificateBody', 'certificateChain', 'privateKey']);
      expect(registrations.ancestors(reg as NonNullable<typeof reg>).map((a) => a.type)).toEqual([
        C.acm,
        COMPONENT_TYPE,
      ]);
    }
  });

  it.each([
    ['ecdsa-p256', { algorithm: 'ECDSA', ecdsaCurve: 'P256' }],
    ['ecdsa-p384', { algorithm: 'ECDSA', ecdsaCurve: 'P384' }],
    ['rsa-2048', { algorithm: 'RSA', rsaBits: 2048 }],
    ['rsa-4096', { algorithm: 'RSA', rsaBits: 4096 }],
  ])('makes the placeholder key of a %s certificate %o (ACM re-import keeps the algorithm)', async (keyType, args) => {
    await deploy(acmWeb({ regions: ['us-east-1'] }, { keyType }));
    expect(mocks.one(T.tlsKey, 'acme-rotation-cert-web-acm-key').inputs).toEqual(args);
  });

  it('tags the secret with every ARN, grants exactly those to the rotation role, and exports them by region', async () => {
    const component = await deploy(acmWeb({ regions: ['us-east-1', 'eu-west-1', 'eu-central-1'], arns: [EXISTING] }));
    const EU_CENTRAL = acmArnOf('acme-rotation-cert-web-acm-eu-central-1', 'eu-central-1');
    const arns = [EXISTING, EU_CENTRAL, EU_WEST, US_EAST].sort();
    const tags = mocks.one(T.secret, 'acme-rotation-cert-web').inputs.tags as Record<string, string>;
    // Four ARNs are longer than one tag value's 255 characters: they go on in :2.
    expect(tags['acme:acm-certificate-arns']).toBe(arns.slice(0, 2).join(','));
    expect(tags['acme:acm-certificate-arns:2']).toBe(arns.slice(2).join(','));
    expect(Object.keys(tags).filter((k) => k.startsWith('acme:acm'))).toHaveLength(2);
    expect(Object.fromEntries(acmArnTags(arns).map((t) => [t.Key, t.Value]))).toEqual({
      'acme:acm-certificate-arns': tags['acme:acm-certificate-arns'],
      'acme:acm-certificate-arns:2': tags['acme:acm-certificate-arns:2'],
    });

    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expectLeastPrivilege(doc);
    expect(statement(doc, 'DeliverToAcmCertificates')).toEqual({
      Sid: 'DeliverToAcmCertificates',
      Effect: 'Allow',
      Action: ['acm:DescribeCertificate', 'acm:ImportCertificate'],
      Resource: arns,
    });
    expect(JSON.stringify(doc.Statement.filter((st) => st.Sid !== 'DeliverToAcmCertificates'))).not.toContain('acm:');
    expect(await valueOf(component.certificates.web!.acmArns)).toEqual({
      'ap-southeast-2': EXISTING,
      'eu-central-1': EU_CENTRAL,
      'eu-west-1': EU_WEST,
      'us-east-1': US_EAST,
    });
  });

  it('starts the first rotation only once the ACM certificates and their grant exist', async () => {
    await deploy(acmWeb({ regions: ['us-east-1'] }));
    const urnOf = (type: string, name: string) =>
      registrations.list.find((r) => r.type === type && r.name === name)?.mockUrn;
    const secret = registrations.list.find((r) => r.type === T.secret && r.name === 'acme-rotation-cert-web');
    expect(secret?.dependencies).toContain(urnOf(T.acmCertificate, 'acme-rotation-cert-web-acm-us-east-1'));
    const policy = registrations.list.find(
      (r) => r.type === T.rolePolicy && r.name === 'acme-rotation-rotation-policy',
    );
    expect(policy?.dependencies).toContain(urnOf(T.acmCertificate, 'acme-rotation-cert-web-acm-us-east-1'));
    const rotation = registrations.list.find(
      (r) => r.type === T.secretRotation && r.name === 'acme-rotation-cert-web-rotation',
    );
    expect(rotation?.dependencies).toEqual(
      expect.arrayContaining([urnOf(T.rolePolicy, 'acme-rotation-rotation-policy'), secret?.mockUrn]),
    );
  });

  it('hands out the ARNs only after the watch function waited for the first certificate behind them', async () => {
    const component = await deploy(acmWeb({ regions: ['us-east-1'], arns: [EXISTING] }));
    const secretName = mocks.one(T.secret, 'acme-rotation-cert-web').inputs.name as string;
    const invocation = mocks.one(T.invocation, 'acme-rotation-cert-web-first-certificate');
    // The waiter: the watch's code without its reserved concurrency, so waits never meet a run's slot.
    expect(invocation.inputs.functionName).toBe('acme-rotation-dev-watch-await');
    // The event the waiter's own parser reads, for this secret, within the watch's 900 s.
    expect(parseAwaitRequest(JSON.parse(invocation.inputs.input as string))).toEqual({
      secretIds: [secretArn(secretName)],
      timeoutSeconds: 840,
    });
    // Another secret or another set of ARNs waits (and delivers) again.
    expect(invocation.inputs.triggers).toEqual({
      secretArn: secretArn(secretName),
      acmCertificateArns: [EXISTING, US_EAST].sort().join(','),
    });
    const reg = (type: string, name: string) => registrations.list.find((r) => r.type === type && r.name === name);
    const waiter = reg(T.invocation, 'acme-rotation-cert-web-first-certificate');
    expect(waiter?.dependencies).toEqual(
      expect.arrayContaining(
        [
          reg(T.secretRotation, 'acme-rotation-cert-web-rotation'),
          reg(T.secretPolicy, 'acme-rotation-cert-web-policy'),
          reg(T.rolePolicy, 'acme-rotation-watch-policy'),
          reg(T.function, 'acme-rotation-watch-await'),
        ].map((r) => r?.mockUrn),
      ),
    );

    // The watch may compare and re-import exactly these certificates.
    const watchDoc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-watch-policy'));
    expect(statement(watchDoc, 'DeliverToAcmCertificates').Resource).toEqual([EXISTING, US_EAST].sort());
    // …and announce a refusal where the rotation does.
    expect(statement(watchDoc, 'PublishNotices').Resource).toBe(TOPIC_ARN);
    expectLeastPrivilege(watchDoc);

    // A listener given the exported ARN depends on the wait: it never sees the placeholder.
    new aws.lb.Listener('https', {
      loadBalancerArn: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:loadbalancer/app/web/0123456789abcdef`,
      defaultActions: [],
      certificateArn: component.certificates.web!.acmArns.apply((byRegion) => byRegion['us-east-1'] as string),
    });
    await settle(mocks);
    expect(mocks.one('aws:lb/listener:Listener', 'https').inputs.certificateArn).toBe(US_EAST);
    expect(reg('aws:lb/listener:Listener', 'https')?.dependencies).toContain(waiter?.mockUrn);
  });

  it('waits for nothing when no certificate is deployed to ACM', async () => {
    await deploy();
    expect(mocks.ofType(T.invocation)).toEqual([]);
  });

  it('creates nothing for existing ARNs only, and nothing at all without acm', async () => {
    await deploy(acmWeb({ arns: [EXISTING] }));
    expect(mocks.ofType(T.acmCertificate)).toEqual([]);
    expect(mocks.ofType(T.tlsKey)).toEqual([]);
    expect(mocks.ofType(T.tlsSelfSigned)).toEqual([]);
    const tags = mocks.one(T.secret, 'acme-rotation-cert-web').inputs.tags as Record<string, string>;
    expect(tags['acme:acm-certificate-arns']).toBe(EXISTING);

    mocks.reset();
    registrations.reset();
    const component = await deploy();
    expect(mocks.ofType(C.acm)).toEqual([]);
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expect(JSON.stringify(doc)).not.toContain('acm:');
    expect(Object.keys(mocks.one(T.secret, 'acme-rotation-cert-web').inputs.tags as object)).not.toContain(
      'acme:acm-certificate-arns',
    );
    expect(await valueOf(component.certificates.web!.acmArns)).toEqual({});
  });
});

describe('hosted zones in other accounts', () => {
  const DNS_ROLE = 'arn:aws:iam::111122223333:role/acme-dns';
  const OTHER_ROLE = 'arn:aws:iam::444455556666:role/dns/acme';
  /** Zones the mocks do not know: looking one up would fail the deployment. */
  const DNS_ZONE = 'Z0DNSACCOUNT00000001';
  const SHOP_ZONE = 'Z0DNSACCOUNT00000002';
  const OTHER_ZONE = 'Z0OTHERACCOUNT000003';
  const crossAccount = (extra: Record<string, unknown> = {}) => ({
    'acme-rotation:hostedZones': [
      'example.com',
      { id: DNS_ZONE, roleArn: DNS_ROLE, externalId: 'acme-7f3a' },
      { id: SHOP_ZONE, roleArn: DNS_ROLE, name: 'shop.example.net' },
      { id: OTHER_ZONE, roleArn: OTHER_ROLE },
    ],
    'acme-rotation:certificates': [
      // One certificate across its own account and another: the other zone by id, never looked up.
      { name: 'web', domains: ['example.com', 'www.example.io'], hostedZoneIds: ['Z0EXAMPLECOM000000001', DNS_ZONE] },
      // Matched by the name configured for the zone.
      { name: 'shop', domains: ['shop.example.net', '*.shop.example.net'] },
    ],
    ...extra,
  });

  it('tags the secrets with the zones, and never looks up a zone of another account', async () => {
    await deploy(crossAccount());
    const tags = (name: string) => mocks.one(T.secret, name).inputs.tags as Record<string, string>;
    expect(tags('acme-rotation-cert-web')['acme:hosted-zone-ids']).toBe(`Z0EXAMPLECOM000000001,${DNS_ZONE}`);
    expect(tags('acme-rotation-cert-shop')['acme:hosted-zone-ids']).toBe(SHOP_ZONE);
    const lookedUp = mocks.calls
      .filter((c) => c.token === 'aws:route53/getZone:getZone')
      .map((c) => (c.inputs as Record<string, unknown>).zoneId ?? (c.inputs as Record<string, unknown>).name);
    expect(lookedUp.sort()).toEqual(['Z0EXAMPLECOM000000001', 'example.com']);
  });

  it('gives the function ROUTE53_ROLES for the used zones and the one external id', async () => {
    await deploy(crossAccount());
    const env = (
      mocks.one(T.function, 'acme-rotation-rotation').inputs.environment as { variables: Record<string, string> }
    ).variables;
    expect(env.ROUTE53_ROLES).toBe(`${DNS_ZONE}=${DNS_ROLE},${SHOP_ZONE}=${DNS_ROLE}`);
    expect(env.ROUTE53_EXTERNAL_ID).toBe('acme-7f3a');
    // OTHER_ZONE is configured but no certificate uses it: neither its role nor its zone is granted.
    expect(JSON.stringify(env)).not.toContain(OTHER_ZONE);
  });

  it("may assume exactly the zones' roles, and holds no Route 53 grant for their zones", async () => {
    await deploy(crossAccount());
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expectLeastPrivilege(doc);
    expect(statement(doc, 'AssumeHostedZoneRoles')).toEqual({
      Sid: 'AssumeHostedZoneRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: [DNS_ROLE],
    });
    expect(statement(doc, 'WriteChallengeTxtRecords').Resource).toEqual([
      'arn:aws:route53:::hostedzone/Z0EXAMPLECOM000000001',
    ]);
    expect(statement(doc, 'ReadChallengeZones').Resource).toEqual([
      'arn:aws:route53:::hostedzone/Z0EXAMPLECOM000000001',
    ]);
    for (const zone of [DNS_ZONE, SHOP_ZONE, OTHER_ZONE]) expect(JSON.stringify(doc)).not.toContain(zone);
    expect(JSON.stringify(doc)).not.toContain(OTHER_ROLE);
  });

  it('exports per role the policy it needs in its account and the trust policy naming the rotation role', async () => {
    const component = await deploy(crossAccount());
    const roles = await valueOf(component.route53Roles);
    expect(Object.keys(roles)).toEqual([DNS_ROLE]);
    const dns = roles[DNS_ROLE];
    expect(dns?.zoneIds).toEqual([DNS_ZONE, SHOP_ZONE]);
    expect(dns?.trustPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AcmeRotationFunctionAssumesThisRole',
          Effect: 'Allow',
          Principal: { AWS: ROLE_ARN },
          Action: ['sts:AssumeRole'],
          Condition: { StringEquals: { 'sts:ExternalId': 'acme-7f3a' } },
        },
      ],
    });
    const policy = dns?.policy as PolicyDocument;
    expectLeastPrivilege(policy);
    const zones = [`arn:aws:route53:::hostedzone/${DNS_ZONE}`, `arn:aws:route53:::hostedzone/${SHOP_ZONE}`];
    expect(policy.Statement.map((st) => [st.Sid, st.Action, st.Resource])).toEqual([
      ['WriteChallengeTxtRecords', ['route53:ChangeResourceRecordSets'], zones],
      ['ReadChallengeZones', ['route53:GetHostedZone', 'route53:ListResourceRecordSets'], zones],
      ['WaitForChallengeChanges', ['route53:GetChange'], 'arn:aws:route53:::change/*'],
    ]);
    // The same TXT-only, CREATE/DELETE-only, _acme-challenge-only condition as the function's own.
    const own = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expect(statement(policy, 'WriteChallengeTxtRecords').Condition).toEqual(
      statement(own, 'WriteChallengeTxtRecords').Condition,
    );
  });

  it('sets no role variables and exports no roles for a stack of one account', async () => {
    const component = await deploy();
    const env = (
      mocks.one(T.function, 'acme-rotation-rotation').inputs.environment as { variables: Record<string, string> }
    ).variables;
    expect(env).not.toHaveProperty('ROUTE53_ROLES');
    expect(env).not.toHaveProperty('ROUTE53_EXTERNAL_ID');
    expect(await valueOf(component.route53Roles)).toEqual({});
    expect(JSON.stringify(policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy')))).not.toContain('sts:');
  });
});

describe('the ACME account secret', () => {
  it('is created empty (the function writes the account) and opened to the rotation role', async () => {
    await deploy();
    expect(mocks.one(T.secret, 'acme-rotation-acme-account').inputs).toEqual({
      name: 'acme-rotation-dev/acme-account',
      description: 'acme-rotation acme-rotation/dev: ACME account key (written by the rotation function on first use)',
      recoveryWindowInDays: 30,
      tags: {},
    });
    const doc = policyOf(mocks.one(T.secretPolicy, 'acme-rotation-acme-account-policy'));
    expectLeastPrivilege(doc);
    expect(doc.Statement).toEqual([
      {
        Sid: 'RotationUsesAcmeAccount',
        Effect: 'Allow',
        Principal: { AWS: ROLE_ARN },
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        Resource: secretArn('acme-rotation-dev/acme-account'),
      },
    ]);
    expect(mocks.ofType(T.secretVersion)).toEqual([]);
  });

  it('holds the EAB credentials, as a secret, when configured', async () => {
    await deploy(
      { 'acme-rotation:eabKid': 'kid-1', 'acme-rotation:eabHmacKey': 'c2VjcmV0' },
      { eabHmacKey: pulumi.secret('c2VjcmV0') },
    );
    const version = mocks.one(T.secretVersion, 'acme-rotation-acme-account-eab');
    expect(version.inputs.secretId).toBe(secretArn('acme-rotation-dev/acme-account'));
    // Pulumi marks secret inputs with its secret signature: the value never lands in plain state.
    const secret = version.inputs.secretString as Record<string, string>;
    expect(secret[SECRET_SIG]).toBe(SECRET_SIG_VALUE);
    expect(JSON.parse(secret.value as string)).toEqual({ eab: { kid: 'kid-1', hmac_key: 'c2VjcmV0' } });
  });
});

describe('an account per CA of cas', () => {
  it('gives each further CA its own account secret, open to the rotation role, with its own EAB credentials', async () => {
    await deploy({
      'acme-rotation:cas': [
        { ca: 'production', name: 'letsencrypt' },
        { ca: 'https://acme.zerossl.com/v2/DV90', name: 'zerossl', eabKid: 'zerossl-kid', eabHmacKey: 'c2VjcmV0' },
      ],
    });
    expect(mocks.one(T.secret, 'acme-rotation-acme-account').inputs.name).toBe('acme-rotation-dev/acme-account');
    expect(mocks.one(T.secret, 'acme-rotation-acme-account-1').inputs.name).toBe(
      'acme-rotation-dev/acme-account-zerossl',
    );
    const policy = policyOf(mocks.one(T.secretPolicy, 'acme-rotation-acme-account-1-policy'));
    expect(policy.Statement.map((st) => [st.Principal, st.Resource])).toEqual(
      policy.Statement.map(() => [{ AWS: ROLE_ARN }, secretArn('acme-rotation-dev/acme-account-zerossl')]),
    );
    // Let's Encrypt needs no EAB; ZeroSSL's credentials go to ZeroSSL's account secret only.
    expect(mocks.ofType(T.secretVersion).map((v) => v.name)).toEqual(['acme-rotation-acme-account-1-eab']);
    const version = mocks.one(T.secretVersion, 'acme-rotation-acme-account-1-eab');
    expect(version.inputs.secretId).toBe(secretArn('acme-rotation-dev/acme-account-zerossl'));
    const value = version.inputs.secretString as Record<string, string>;
    expect(value[SECRET_SIG]).toBe(SECRET_SIG_VALUE);
    expect(JSON.parse(value.value as string)).toEqual({ eab: { kid: 'zerossl-kid', hmac_key: 'c2VjcmV0' } });
  });
});

describe('notices and alarms', () => {
  it('subscribes the notification e-mail', async () => {
    await deploy({ 'acme-rotation:notificationEmail': 'ops@example.com' });
    expect(mocks.one(T.subscription, 'acme-rotation-notices-email').inputs).toEqual({
      topic: TOPIC_ARN,
      protocol: 'email',
      endpoint: 'ops@example.com',
    });
  });

  it("routes Secrets Manager's RotationFailed / RotationAbandoned / TestRotationFailed for our secrets to the topic", async () => {
    await deploy();
    const rule = mocks.one(T.rule, 'acme-rotation-rotation-failures');
    expect(JSON.parse(rule.inputs.eventPattern as string)).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'],
        additionalEventData: { SecretId: [{ prefix: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:certs/` }] },
      },
    });
    const target = mocks.one(T.target, 'acme-rotation-rotation-failures-notice');
    expect(target.inputs.arn).toBe(TOPIC_ARN);
    expect(target.inputs.rule).toBe('acme-rotation-dev-rotation-failures');
    const transformer = target.inputs.inputTransformer as { inputPaths: object; inputTemplate: string };
    expect(transformer.inputPaths).toMatchObject({
      event: '$.detail.eventName',
      secret: '$.detail.additionalEventData.SecretId',
    });
    expect(transformer.inputTemplate).toContain('"status":"failed"');
  });

  it('alarms on function errors', async () => {
    await deploy();
    expect(mocks.one(T.alarm, 'acme-rotation-rotation-errors').inputs).toMatchObject({
      name: 'acme-rotation-dev-rotation-errors',
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: 'acme-rotation-dev-rotation' },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [TOPIC_ARN],
      okActions: [TOPIC_ARN],
    });
  });

  it('alarms on certificates at risk, and on the watch going silent (no data is breaching)', async () => {
    await deploy();
    const alarm = mocks.one(T.alarm, 'acme-rotation-certificates-at-risk');
    expect(alarm.inputs).toMatchObject({
      name: 'acme-rotation-dev-certificates-at-risk',
      namespace: 'AcmeRotation',
      metricName: 'CertificatesAtRisk',
      dimensions: { Stack: 'acme-rotation/dev' },
      statistic: 'Maximum',
      // Two hourly runs per period: a run that lands late still falls in it.
      period: 7200,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'breaching',
      alarmActions: [TOPIC_ARN],
      okActions: [TOPIC_ARN],
    });
    expect(alarm.inputs.insufficientDataActions).toBeUndefined();
  });

  it("derives the alarm's period from the watch schedule", async () => {
    await deploy({ 'acme-rotation:watchSchedule': 'cron(0 6,18 * * ? *)' });
    expect(mocks.one(T.alarm, 'acme-rotation-certificates-at-risk').inputs.period).toBe(86_400);
    mocks.reset();
    await deploy({ 'acme-rotation:watchSchedule': 'rate(20 minutes)' });
    expect(mocks.one(T.alarm, 'acme-rotation-certificates-at-risk').inputs.period).toBe(2400);
  });

  it('lets only the rule and the two alarms publish to the topic', async () => {
    await deploy();
    const policy = mocks.one(T.topicPolicy, 'acme-rotation-notices-policy');
    expect(policy.inputs.arn).toBe(TOPIC_ARN);
    const doc = policyOf(policy);
    expectLeastPrivilege(doc);
    expect(statement(doc, 'RotationFailureRulePublishes').Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/acme-rotation-dev-rotation-failures` },
    });
    expect(statement(doc, 'AlarmsPublish').Condition?.ArnEquals).toEqual({
      'aws:SourceArn': [
        `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:acme-rotation-dev-rotation-errors`,
        `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:acme-rotation-dev-certificates-at-risk`,
      ],
    });
  });
});

describe('the renewal watch', () => {
  it('runs the dist/watch bundle with its own role and log group, on the hourly schedule', async () => {
    await deploy();
    const fn = mocks.one(T.function, 'acme-rotation-watch');
    expect(fn.inputs).toMatchObject({
      name: 'acme-rotation-dev-watch',
      runtime: 'nodejs22.x',
      architectures: ['arm64'],
      handler: 'index.handler',
      memorySize: 256,
      timeout: 900,
      role: WATCH_ROLE_ARN,
      loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/acme-rotation-dev-watch' },
    });
    const code = fn.inputs.code as pulumi.asset.FileArchive;
    expect(code).toBeInstanceOf(pulumi.asset.FileArchive);
    expect(await code.path).toBe(WATCH_BUNDLE_DIR);
    expect(mocks.one(T.logGroup, 'acme-rotation-watch-logs').inputs).toMatchObject({
      name: '/aws/lambda/acme-rotation-dev-watch',
      retentionInDays: 90,
    });
    expect(mocks.one(T.rule, 'acme-rotation-watch-schedule').inputs).toMatchObject({
      name: 'acme-rotation-dev-watch-schedule',
      scheduleExpression: 'rate(1 hour)',
    });
    expect(mocks.one(T.target, 'acme-rotation-watch-target').inputs).toEqual({
      rule: 'acme-rotation-dev-watch-schedule',
      arn: WATCH_FN_ARN,
    });
    expect(mocks.one(T.permission, 'acme-rotation-watch-invoke').inputs).toEqual({
      action: 'lambda:InvokeFunction',
      function: 'acme-rotation-dev-watch',
      principal: 'events.amazonaws.com',
      sourceArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/acme-rotation-dev-watch-schedule`,
    });
    // Nothing of the expiry check is left.
    expect(mocks.resources.filter((r) => r.name.includes('expiry-check'))).toEqual([]);
  });

  it('runs one at a time: reserved concurrency 1 queues a continuation, the schedule and a retry that meet', async () => {
    await deploy();
    expect(mocks.one(T.function, 'acme-rotation-watch').inputs.reservedConcurrentExecutions).toBe(1);
  });

  it("waits for first certificates in a function of its own: the watch's code, role and environment, no reserved concurrency", async () => {
    await deploy();
    const watch = mocks.one(T.function, 'acme-rotation-watch').inputs;
    const waiter = mocks.one(T.function, 'acme-rotation-watch-await').inputs;
    expect(waiter).toMatchObject({
      name: 'acme-rotation-dev-watch-await',
      handler: 'index.handler',
      timeout: 900,
      role: WATCH_ROLE_ARN,
      loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/acme-rotation-dev-watch' },
    });
    // Synchronous waits would be throttled by the watch's one slot (several certificates wait at once).
    expect(waiter.reservedConcurrentExecutions).toBeUndefined();
    expect(waiter.environment).toEqual(watch.environment);
    expect(await (waiter.code as pulumi.asset.FileArchive).path).toBe(WATCH_BUNDLE_DIR);
  });

  it('alarms when an ACM target has lagged behind AWSCURRENT past the reconciliation threshold', async () => {
    await deploy();
    expect(mocks.one(T.alarm, 'acme-rotation-acm-targets-lagging').inputs).toMatchObject({
      name: 'acme-rotation-dev-acm-targets-lagging',
      namespace: 'AcmeRotation',
      metricName: 'AcmTargetsLagging',
      dimensions: { Stack: 'acme-rotation/dev' },
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [TOPIC_ARN],
    });
  });

  it('gets the environment of the contract, continuing itself when out of time', async () => {
    await deploy();
    const env = (mocks.one(T.function, 'acme-rotation-watch').inputs.environment as { variables: object }).variables;
    expect(env).toEqual({
      ACME_DIRECTORY_URL: 'https://acme-v02.api.letsencrypt.org/directory',
      LOG_LEVEL: 'info',
      WATCH_METRIC_NAMESPACE: 'AcmeRotation',
      WATCH_METRIC_STACK: 'acme-rotation/dev',
      WATCH_CONTINUE: 'true',
      WATCH_ROTATION_FUNCTION_ARN: ROTATION_FN_ARN,
      WATCH_INTERVAL_SECONDS: '3600',
      NODE_OPTIONS: '--enable-source-maps',
      NOTIFICATION_TOPIC_ARN: TOPIC_ARN,
    });
  });

  it('passes the schedule, the pace, the log level and a private CA through', async () => {
    const root = makeRootCa({ cn: 'Watch Test Private Root' });
    await deploy({
      'acme-rotation:ca': 'https://ca.internal.example/directory',
      'acme-rotation:certificateLifetime': '30d',
      'acme-rotation:caRootsPem': root.certPem,
      'acme-rotation:logLevel': 'debug',
      'acme-rotation:watchSchedule': 'rate(30 minutes)',
      'acme-rotation:watchMaxConcurrentRotations': '20',
    });
    const fn = mocks.one(T.function, 'acme-rotation-watch');
    expect((fn.inputs.environment as { variables: object }).variables).toEqual({
      ACME_DIRECTORY_URL: 'https://ca.internal.example/directory',
      LOG_LEVEL: 'debug',
      WATCH_METRIC_NAMESPACE: 'AcmeRotation',
      WATCH_METRIC_STACK: 'acme-rotation/dev',
      WATCH_CONTINUE: 'true',
      WATCH_ROTATION_FUNCTION_ARN: ROTATION_FN_ARN,
      WATCH_INTERVAL_SECONDS: '1800',
      NOTIFICATION_TOPIC_ARN: TOPIC_ARN,
      WATCH_MAX_CONCURRENT_ROTATIONS: '20',
      NODE_EXTRA_CA_CERTS: '/var/task/ca-roots.pem',
      NODE_OPTIONS: '--enable-source-maps',
    });
    const assets = (await (fn.inputs.code as pulumi.asset.AssetArchive).assets) as Record<
      string,
      pulumi.asset.Asset | pulumi.asset.Archive
    >;
    expect(Object.keys(assets).sort()).toEqual(['.', 'ca-roots.pem']);
    expect(await (assets['.'] as pulumi.asset.FileArchive).path).toBe(WATCH_BUNDLE_DIR);
    expect(await (assets['ca-roots.pem'] as pulumi.asset.StringAsset).text).toBe(root.certPem);
    expect(mocks.one(T.rule, 'acme-rotation-watch-schedule').inputs.scheduleExpression).toBe('rate(30 minutes)');
  });

  it('runs as a role that lists secrets, invokes the rotation function and itself, and nothing else', async () => {
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    await deploy({ 'acme-rotation:kmsKeyArn': key });
    const role = mocks.one(T.role, 'acme-rotation-watch-role');
    expect(role.inputs.name).toBe('acme-rotation-dev-watch');
    expect(policyOf(role, 'assumeRolePolicy').Statement.map((st) => st.Principal)).toEqual([
      { Service: 'lambda.amazonaws.com' },
    ]);
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-watch-policy'));
    expectLeastPrivilege(doc);
    expect(doc.Statement.map((st) => [st.Sid, st.Action, st.Resource])).toEqual([
      [
        'WriteOwnLogs',
        ['logs:CreateLogStream', 'logs:PutLogEvents'],
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/acme-rotation-dev-watch:*`,
      ],
      ['FindCertificateSecrets', ['secretsmanager:ListSecrets'], '*'],
      ['StartRotationsAndContinue', ['lambda:InvokeFunction'], [ROTATION_FN_ARN, WATCH_FN_ARN]],
      ['ReadSecretsKeyThroughSecretsManager', ['kms:Decrypt'], key],
    ]);
    const json = JSON.stringify(doc);
    expect(json).not.toContain('route53');
    expect(json).not.toContain('acme-account');
    expect(json).not.toMatch(/PutSecretValue|UpdateSecretVersionStage/);
    // The account secret is the rotation's alone.
    const account = JSON.stringify(policyOf(mocks.one(T.secretPolicy, 'acme-rotation-acme-account-policy')));
    expect(account).not.toContain(WATCH_ROLE_ARN);
  });

  it('starts only after the grants on every certificate secret are in place', async () => {
    await deploy({
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com'] },
        { name: 'api', domains: ['api.example.org'] },
      ],
    });
    const fn = registrations.list.find((r) => r.type === T.function && r.name === 'acme-rotation-watch');
    const byName = (type: string, name: string) =>
      registrations.list.find((r) => r.type === type && r.name === name)?.mockUrn;
    for (const dep of [
      byName(T.secretPolicy, 'acme-rotation-cert-web-policy'),
      byName(T.secretPolicy, 'acme-rotation-cert-api-policy'),
      byName(T.rolePolicy, 'acme-rotation-watch-policy'),
      byName(T.logGroup, 'acme-rotation-watch-logs'),
    ]) {
      expect(dep).toBeDefined();
      expect(fn?.dependencies).toContain(dep);
    }
  });
});

describe('the dashboard', () => {
  it('shows per-certificate days left and next renewal, the watch metrics and the rotations', async () => {
    const component = await deploy();
    const dashboard = mocks.one(T.dashboard, 'acme-rotation-dashboard');
    expect(dashboard.inputs.dashboardName).toBe('acme-rotation-dev-certificates');
    const body = JSON.parse(dashboard.inputs.dashboardBody as string) as {
      start: string;
      widgets: Array<{ type: string; properties: Record<string, unknown> }>;
    };
    expect(body.start).toBe('-P7D');
    const logs = body.widgets.filter((w) => w.type === 'log').map((w) => w.properties);
    expect(logs.map((p) => [p.view, p.region])).toEqual([
      ['table', REGION],
      ['timeSeries', REGION],
    ]);
    expect(logs[0]?.query).toBe(
      "SOURCE '/aws/lambda/acme-rotation-dev-watch' | filter message = 'certificate' | " +
        'stats latest(daysLeft) as daysLeft, latest(renewAt) as renewAt, latest(status) as status, ' +
        'max(@timestamp) as lastChecked by secretName | sort daysLeft asc | limit 10000',
    );
    expect(logs[1]?.query).toBe(
      "SOURCE '/aws/lambda/acme-rotation-dev-rotation' | filter message = 'rotation finished' or message = 'step failed' | " +
        "stats sum(strcontains(message, 'rotation finished')) as succeeded, " +
        "sum(strcontains(message, 'step failed')) as failed by bin(1h)",
    );
    const lines = body.widgets.filter((w) => w.type === 'metric').flatMap((w) => w.properties.metrics as unknown[][]);
    const metrics = lines
      .filter((m) => typeof m[0] === 'string')
      .map((m) => [m[0], m[1], m[2], m[3], (m[4] as { stat: string }).stat]);
    expect(metrics).toEqual([
      ['AcmeRotation', 'RenewalsDue', 'Stack', 'acme-rotation/dev', 'Maximum'],
      ['AcmeRotation', 'RenewalsStarted', 'Stack', 'acme-rotation/dev', 'Sum'],
      ['AcmeRotation', 'RenewalsDeferred', 'Stack', 'acme-rotation/dev', 'Maximum'],
      ['AcmeRotation', 'AriErrors', 'Stack', 'acme-rotation/dev', 'Maximum'],
      ['AcmeRotation', 'CertificatesAtRisk', 'Stack', 'acme-rotation/dev', 'Maximum'],
      ['AcmeRotation', 'AcmTargetsLagging', 'Stack', 'acme-rotation/dev', 'Maximum'],
      ['AcmeRotation', 'AcmTargetsDelivered', 'Stack', 'acme-rotation/dev', 'Sum'],
      ['AcmeRotation', 'AcmTargetsFailed', 'Stack', 'acme-rotation/dev', 'Sum'],
    ]);
    // Per ARN and per CA: one line for each value the functions emit (the names the metrics carry).
    const searches = lines
      .filter((m) => typeof m[0] === 'object')
      .map((m) => (m[0] as { expression: string }).expression);
    expect(searches).toEqual([
      `SEARCH('{AcmeRotation,Stack,CertificateArn} MetricName="AcmDeliveryFailures" Stack="acme-rotation/dev"', 'Sum', 3600)`,
      `SEARCH('{AcmeRotation,Stack,Ca} MetricName="CertificatesIssued" Stack="acme-rotation/dev"', 'Sum', 3600)`,
      `SEARCH('{AcmeRotation,Stack,Ca} MetricName="CaFallbacks" Stack="acme-rotation/dev"', 'Sum', 3600)`,
    ]);
    expect(await valueOf(component.dashboardName)).toBe('acme-rotation-dev-certificates');
    expect(await valueOf(component.dashboardUrl)).toBe(
      `https://console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards:name=acme-rotation-dev-certificates`,
    );
    expect(await valueOf(component.watchFunctionName)).toBe('acme-rotation-dev-watch');
  });
});

describe('every policy the stack declares', () => {
  it('is least privilege: no * action, no secret wildcard, no route53:*', async () => {
    await deploy({
      'acme-rotation:eventBus': 'certs',
      'acme-rotation:kmsKeyArn': `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      'acme-rotation:certificates': [
        { name: 'web', domains: ['example.com', '*.example.com'] },
        {
          name: 'shop',
          domains: ['shop.example.com'],
          hostedZoneIds: ['Z0EXAMPLECOM000000001', 'Z0ACMEEXAMPLENET0004'],
          cnameTargets: ['*.acme.example.net'],
        },
      ],
    });
    const policies = [
      ...mocks.ofType(T.rolePolicy).map((r) => policyOf(r)),
      ...mocks.ofType(T.secretPolicy).map((r) => policyOf(r)),
      ...mocks.ofType(T.topicPolicy).map((r) => policyOf(r)),
      ...mocks.ofType(T.role).map((r) => policyOf(r, 'assumeRolePolicy')),
    ];
    expect(policies).toHaveLength(2 + 3 + 1 + 2);
    for (const doc of policies) expectLeastPrivilege(doc);
    // The one "*" resource: ListSecrets, which IAM accepts on nothing else.
    const star = policies.flatMap((d) => d.Statement).filter((st) => JSON.stringify(st).includes('"*"'));
    expect(star.map((st) => [st.Sid, st.Action, st.Resource])).toEqual([
      ['FindCertificateSecrets', ['secretsmanager:ListSecrets'], '*'],
    ]);
    const all = JSON.stringify(policies);
    expect(all).not.toContain('route53:*');
    expect(all).not.toContain('secretsmanager:*');
    expect(all).not.toMatch(/secret:[^"]*\*/);
    expect(all).not.toContain('UPSERT');
  });
});

/**
 * The URNs a stack of two certificates (e-mail notices, EAB) holds, as 0.2 declared them: each
 * component's resources under it, as `type::name`, the topic policy under AcmeRotation itself.
 */
const LAYOUT: Record<string, string[]> = {
  [COMPONENT_TYPE]: [`${T.topicPolicy}::acme-rotation-notices-policy`],
  [C.account]: [
    `${T.secret}::acme-rotation-acme-account`,
    `${T.secretPolicy}::acme-rotation-acme-account-policy`,
    `${T.secretVersion}::acme-rotation-acme-account-eab`,
  ],
  [C.certificate]: [
    `${T.secret}::acme-rotation-cert-api`,
    `${T.secret}::acme-rotation-cert-web`,
    `${T.secretPolicy}::acme-rotation-cert-api-policy`,
    `${T.secretPolicy}::acme-rotation-cert-web-policy`,
    `${T.secretRotation}::acme-rotation-cert-api-rotation`,
    `${T.secretRotation}::acme-rotation-cert-web-rotation`,
  ],
  [C.functionRole]: [
    `${T.logGroup}::acme-rotation-rotation-logs`,
    `${T.logGroup}::acme-rotation-watch-logs`,
    `${T.role}::acme-rotation-rotation-role`,
    `${T.role}::acme-rotation-watch-role`,
    `${T.rolePolicy}::acme-rotation-rotation-policy`,
    `${T.rolePolicy}::acme-rotation-watch-policy`,
  ],
  [C.notices]: [
    `${T.rule}::acme-rotation-rotation-failures`,
    `${T.target}::acme-rotation-rotation-failures-notice`,
    `${T.topic}::acme-rotation-notices`,
    `${T.subscription}::acme-rotation-notices-email`,
  ],
  [C.watch]: [
    `${T.dashboard}::acme-rotation-dashboard`,
    `${T.rule}::acme-rotation-watch-schedule`,
    `${T.target}::acme-rotation-watch-target`,
    `${T.alarm}::acme-rotation-acm-targets-lagging`,
    `${T.alarm}::acme-rotation-certificates-at-risk`,
    `${T.function}::acme-rotation-watch`,
    `${T.function}::acme-rotation-watch-await`,
    `${T.permission}::acme-rotation-watch-invoke`,
  ],
  [C.rotation]: [
    `${T.alarm}::acme-rotation-rotation-errors`,
    `${T.function}::acme-rotation-rotation`,
    `${T.permission}::acme-rotation-rotation-invoke`,
  ],
};
/** The child components: by type, the names of their instances. */
const CHILDREN: Record<string, string[]> = {
  [C.account]: ['acme-rotation'],
  [C.certificate]: ['acme-rotation-cert-api', 'acme-rotation-cert-web'],
  [C.functionRole]: ['acme-rotation-rotation', 'acme-rotation-watch'],
  [C.notices]: ['acme-rotation'],
  [C.watch]: ['acme-rotation'],
  [C.rotation]: ['acme-rotation'],
};
const urnOf = (qualifiedType: string, name: string) => `urn:pulumi:${STACK}::${PROJECT}::${qualifiedType}::${name}`;
const LAYOUT_URNS = [
  urnOf(COMPONENT_TYPE, 'acme-rotation'),
  ...Object.entries(CHILDREN).flatMap(([type, names]) => names.map((n) => urnOf(`${COMPONENT_TYPE}$${type}`, n))),
  ...Object.entries(LAYOUT).flatMap(([parent, resources]) =>
    resources.map((typeAndName) => {
      const [type, name] = typeAndName.split('::') as [string, string];
      const chain = parent === COMPONENT_TYPE ? COMPONENT_TYPE : `${COMPONENT_TYPE}$${parent}`;
      return urnOf(`${chain}$${type}`, name);
    }),
  ),
];

describe("a stack's URNs", () => {
  async function deployTwoCertificates(): Promise<void> {
    await deploy(
      {
        'acme-rotation:notificationEmail': 'ops@example.com',
        'acme-rotation:eabKid': 'kid-1',
        'acme-rotation:eabHmacKey': 'c2VjcmV0',
        'acme-rotation:certificates': [
          { name: 'web', domains: ['example.com', '*.example.com'] },
          { name: 'api', domains: ['api.example.org'] },
        ],
      },
      { eabHmacKey: pulumi.secret('c2VjcmV0') },
    );
  }

  it('are the ones 0.2 declared, every resource under its component by its own name', async () => {
    await deployTwoCertificates();
    const urns = registrations.list.map((r) => registrations.engineUrn(r));
    expect(new Set(urns).size).toBe(urns.length);
    expect([...urns].sort()).toEqual([...LAYOUT_URNS].sort());
  });

  it('carry no alias: a stack from before 0.1 takes a `pulumi up` with 0.2 first (CHANGELOG.md)', async () => {
    await deployTwoCertificates();
    expect(registrations.list.length).toBeGreaterThan(0);
    for (const r of registrations.list) expect(registrations.aliasUrns(r), `${r.type} ${r.name}`).toEqual([]);
  });

  it('keep the at-risk alarm under the renewal watch and the topic policy under AcmeRotation itself', async () => {
    await deploy();
    const alarm = registrations.list.find((r) => r.type === T.alarm && r.name === 'acme-rotation-certificates-at-risk');
    expect(alarm && registrations.engineUrn(alarm)).toBe(
      `urn:pulumi:${STACK}::${PROJECT}::${COMPONENT_TYPE}$${C.watch}$${T.alarm}::acme-rotation-certificates-at-risk`,
    );
    const policy = registrations.list.find((r) => r.type === T.topicPolicy);
    expect(policy && registrations.ancestors(policy).map((a) => a.type)).toEqual([COMPONENT_TYPE]);
    const secret = registrations.list.find((r) => r.type === T.secret && r.name === 'acme-rotation-cert-web');
    expect(secret && registrations.engineUrn(secret)).toBe(
      `urn:pulumi:${STACK}::${PROJECT}::${COMPONENT_TYPE}$${C.certificate}$${T.secret}::acme-rotation-cert-web`,
    );
  });
});

describe('typed args: the consumer route', () => {
  const KMS = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
  const EXISTING_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:platform-alerts`;

  /** The problems AcmeRotation reports for these args (nothing may be declared). */
  function argProblems(args: Record<string, unknown>): string[] {
    try {
      new AcmeRotation('certs', args as unknown as AcmeRotationArgs, {});
    } catch (err) {
      if (err instanceof AcmeRotationArgsError) return err.problems;
      throw err;
    }
    return [];
  }

  it('reports every problem with the stack route’s message, under the field instead of the config key', async () => {
    const bad = {
      certificates: [{ name: 'web', domains: ['example..com'], keyType: 'dsa' }],
      hostedZones: ['example.com'],
      memoryMb: 64,
      kmsKeyArn: 'alias/certs',
      logLevel: 'loud',
    };
    const viaArgs = argProblems(bad);
    expect(viaArgs.length).toBe(5);
    expect(viaArgs).toContain('memoryMb: "64" is not a whole number between 128 and 10240');
    expect(viaArgs.some((p) => p.startsWith('certificates[0].keyType: "dsa" is not one of'))).toBe(true);
    const viaStack = (() => {
      try {
        argsFrom(Object.fromEntries(Object.entries(bad).map(([k, v]) => [`acme-rotation:${k}`, v])));
      } catch (err) {
        return (err as { problems: string[] }).problems;
      }
      return [];
    })();
    expect(viaStack).toEqual(viaArgs.map((p) => `acme-rotation:${p}`));
    await settle(mocks);
    expect(mocks.resources).toEqual([]);
  });

  it('names an argument it does not know', () => {
    expect(
      argProblems({
        certificates: [{ name: 'web', domains: ['example.com'] }],
        hostedZones: ['example.com'],
        zones: [],
      }),
    ).toEqual([expect.stringMatching(/^zones: is not an argument of AcmeRotation \(known: certificates, /)]);
  });

  it('takes Outputs as given: a zone id, an existing topic (no topic or topic policy of its own), a KMS key, a bus', async () => {
    const component = new AcmeRotation('acme-rotation', {
      certificates: [{ name: 'web', domains: ['example.com', '*.example.com'] }],
      hostedZones: [pulumi.output('Z0EXAMPLECOM000000001')],
      notificationTopicArn: pulumi.output(EXISTING_TOPIC),
      kmsKeyArn: pulumi.output(KMS),
      eventBus: pulumi.output('certs'),
      rotationBundleDir: BUNDLE_DIR,
      watchBundleDir: WATCH_BUNDLE_DIR,
    });
    expect(await valueOf(component.topicArn)).toBe(EXISTING_TOPIC);
    expect(await valueOf(component.certificates.web.hostedZoneIds)).toEqual(['Z0EXAMPLECOM000000001']);
    await settle(mocks);
    expect(mocks.ofType(T.topic)).toEqual([]);
    expect(mocks.ofType(T.topicPolicy)).toEqual([]);
    expect(mocks.one(T.target, 'acme-rotation-rotation-failures-notice').inputs.arn).toBe(EXISTING_TOPIC);
    const fn = mocks.one(T.function, 'acme-rotation-rotation');
    expect((fn.inputs.environment as { variables: Record<string, string> }).variables).toMatchObject({
      NOTIFICATION_TOPIC_ARN: EXISTING_TOPIC,
      EVENT_BUS_NAME: 'certs',
    });
    expect(mocks.one(T.secret, 'acme-rotation-cert-web').inputs.kmsKeyId).toBe(KMS);
    const doc = policyOf(mocks.one(T.rolePolicy, 'acme-rotation-rotation-policy'));
    expect(statement(doc, 'UseSecretsKeyThroughSecretsManager').Resource).toBe(KMS);
    expect(statement(doc, 'PutRotationEvents').Resource).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/certs`);
    expect(statement(doc, 'WriteChallengeTxtRecords').Resource).toEqual([
      'arn:aws:route53:::hostedzone/Z0EXAMPLECOM000000001',
    ]);
  });

  it('types the outputs by certificate name', async () => {
    const component = new AcmeRotation('acme-rotation', {
      certificates: [
        { name: 'api', domains: ['api.example.org'], hostedZoneIds: [pulumi.output('Z0EXAMPLEORG000000003')] },
      ],
      rotationBundleDir: BUNDLE_DIR,
      watchBundleDir: WATCH_BUNDLE_DIR,
    });
    // `certificates.api` is typed: no index signature, no undefined.
    expect(await valueOf(component.certificates.api.secretName)).toBe('certs/api');
    expect(await valueOf(component.certificates.api.hostedZoneIds)).toEqual(['Z0EXAMPLEORG000000003']);
    await settle(mocks);
  });
});
