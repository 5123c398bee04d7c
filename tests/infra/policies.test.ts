import { RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX } from '../../rotation/certificate/tags.js';
import { describe, expect, it } from 'vitest';

import { acmTargetStatement } from '../../infra/acm.js';
import { accountSecretPolicy } from '../../infra/ca.js';
import { certificateSecretPolicy } from '../../infra/certificates.js';
import {
  normalisedRecordNamePattern,
  route53RolePolicy,
  route53RoleTrustPolicy,
  route53Statements,
} from '../../infra/hosted-zones.js';
import { PolicyTooLargeError, lambdaAssumeRolePolicy } from '../../infra/iam.js';
import { topicPolicy } from '../../infra/notices.js';
import { rotationRolePolicy, rotationRolePolicyJson } from '../../infra/rotation.js';
import { watchRolePolicy, watchRolePolicyJson } from '../../infra/watch.js';
import { expectLeastPrivilege, statement } from './iam.js';

const LOG_GROUP = 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/acme-rotation-dev-rotation';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:acme-rotation-dev-notices';
const ROLE = 'arn:aws:iam::123456789012:role/acme-rotation-dev-rotation';
const WATCH_ROLE = 'arn:aws:iam::123456789012:role/acme-rotation-dev-watch';
const WATCH_LOG_GROUP = 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/acme-rotation-dev-watch';
const ROTATION_FN = 'arn:aws:lambda:eu-west-1:123456789012:function:acme-rotation-dev-rotation';
const WATCH_FN = 'arn:aws:lambda:eu-west-1:123456789012:function:acme-rotation-dev-watch';
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:certs/web-AbCdEf';
const base = {
  partition: 'aws',
  region: 'eu-west-1',
  logGroupArn: LOG_GROUP,
  zoneIds: ['ZB2', 'ZA1', 'ZB2'],
  topicArn: TOPIC,
};

describe('rotation function policy', () => {
  const doc = rotationRolePolicy(base);

  it('has exactly these statements by default', () => {
    expect(doc.Statement.map((s) => s.Sid)).toEqual([
      'WriteOwnLogs',
      'WriteChallengeTxtRecords',
      'ReadChallengeZones',
      'WaitForChallengeChanges',
      'PublishNotices',
    ]);
    expectLeastPrivilege(doc);
  });

  it('writes logs only to its own log group', () => {
    expect(statement(doc, 'WriteOwnLogs')).toEqual({
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: `${LOG_GROUP}:*`,
    });
  });

  it('changes only TXT records named _acme-challenge.*, only by CREATE and DELETE, only in the configured zones', () => {
    expect(statement(doc, 'WriteChallengeTxtRecords')).toEqual({
      Sid: 'WriteChallengeTxtRecords',
      Effect: 'Allow',
      Action: ['route53:ChangeResourceRecordSets'],
      Resource: ['arn:aws:route53:::hostedzone/ZA1', 'arn:aws:route53:::hostedzone/ZB2'],
      Condition: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
          'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
        },
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.*'],
        },
        Null: {
          'route53:ChangeResourceRecordSetsRecordTypes': 'false',
          'route53:ChangeResourceRecordSetsActions': 'false',
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': 'false',
        },
      },
    });
  });

  it('never allows UPSERT (the compare-and-swap needs DELETE + CREATE to fail on a concurrent change)', () => {
    const json = JSON.stringify(doc);
    expect(json).not.toContain('UPSERT');
    expect(json).not.toContain('route53:*');
    expect(json).not.toContain('ListHostedZones');
  });

  it('reads only the configured zones, and change status', () => {
    expect(statement(doc, 'ReadChallengeZones')).toMatchObject({
      Action: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
      Resource: ['arn:aws:route53:::hostedzone/ZA1', 'arn:aws:route53:::hostedzone/ZB2'],
    });
    expect(statement(doc, 'WaitForChallengeChanges')).toMatchObject({
      Action: ['route53:GetChange'],
      Resource: 'arn:aws:route53:::change/*',
    });
  });

  it('publishes only to its topic', () => {
    expect(statement(doc, 'PublishNotices')).toMatchObject({ Action: ['sns:Publish'], Resource: TOPIC });
  });

  it('holds no Secrets Manager permission at all (those are on each secret)', () => {
    expect(JSON.stringify(doc)).not.toContain('secretsmanager');
  });

  it('adds events:PutEvents on the bus, and KMS through Secrets Manager only, when configured', () => {
    const bus = 'arn:aws:events:eu-west-1:123456789012:event-bus/certs';
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const full = rotationRolePolicy({ ...base, eventBusArn: bus, kmsKeyArn: key });
    expect(statement(full, 'PutRotationEvents')).toMatchObject({ Action: ['events:PutEvents'], Resource: bus });
    expect(statement(full, 'UseSecretsKeyThroughSecretsManager')).toEqual({
      Sid: 'UseSecretsKeyThroughSecretsManager',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: key,
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
    expectLeastPrivilege(full);
    expect(JSON.stringify(doc)).not.toContain('kms:');
    expect(JSON.stringify(doc)).not.toContain('events:');
  });

  it('allows delegated challenge names only in the zones that hold them', () => {
    const delegated = rotationRolePolicy({
      ...base,
      cnameTargets: { names: ['*.ACME.example.net.', '*.acme.example.net'], zoneIds: ['ZNET9'] },
    });
    const st = statement(delegated, 'WriteDelegatedChallengeTxtRecords');
    expect(st.Resource).toEqual(['arn:aws:route53:::hostedzone/ZNET9']);
    expect(st.Condition?.['ForAllValues:StringLike']).toEqual({
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['*.acme.example.net'],
    });
    expect(st.Condition?.['ForAllValues:StringEquals']).toEqual({
      'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
      'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
    });
    expectLeastPrivilege(delegated);
  });

  it('re-imports into exactly the ACM certificates listed: DescribeCertificate and ImportCertificate, nothing else', () => {
    const east = 'arn:aws:acm:us-east-1:123456789012:certificate/7d4b6561-2c2b-e4a2-59e7-5d738afd3333';
    const west = 'arn:aws:acm:eu-west-1:123456789012:certificate/802ed0bd-ec4a-d1c9-5794-43843eff8dce';
    const withAcm = rotationRolePolicy({ ...base, acmCertificateArns: [west, east, west] });
    expect(statement(withAcm, 'DeliverToAcmCertificates')).toEqual({
      Sid: 'DeliverToAcmCertificates',
      Effect: 'Allow',
      Action: ['acm:DescribeCertificate', 'acm:ImportCertificate'],
      Resource: [west, east].sort(),
    });
    expectLeastPrivilege(withAcm);
    expect(acmTargetStatement([])).toBeUndefined();
    expect(rotationRolePolicy({ ...base, acmCertificateArns: [] })).toEqual(doc);
    expect(JSON.stringify(doc)).not.toContain('acm:');
  });

  it('refuses to exceed the inline policy size limit', () => {
    const zoneIds = Array.from({ length: 200 }, (_, i) => `Z${String(i).padStart(20, '0')}`);
    expect(() => rotationRolePolicyJson({ ...base, zoneIds })).toThrow(PolicyTooLargeError);
    expect(() => rotationRolePolicyJson({ ...base, zoneIds })).toThrow(/more than AWS's 10240/);
    expect(JSON.parse(rotationRolePolicyJson(base))).toEqual(rotationRolePolicy(base));
  });

  it('needs at least one zone', () => {
    expect(() => rotationRolePolicy({ ...base, zoneIds: [] })).toThrow(/no hosted zones/);
  });
});

describe('normalised record names (route53:ChangeResourceRecordSetsNormalizedRecordNames)', () => {
  it('lower-cases, drops the trailing dot and escapes other characters as octal', () => {
    expect(normalisedRecordNamePattern('Foo.Example.COM.')).toBe('foo.example.com');
    expect(normalisedRecordNamePattern('*.acme.example.net')).toBe('*.acme.example.net');
    expect(normalisedRecordNamePattern('_acme-challenge.a b.example')).toBe('_acme-challenge.a\\040b.example');
  });
});

describe('certificate secret resource policy', () => {
  const doc = certificateSecretPolicy({ secretArn: SECRET, rotationRoleArn: ROLE, watchRoleArn: WATCH_ROLE });

  it('grants the rotation role the version actions on this exact secret', () => {
    expect(statement(doc, 'RotationReadsAndWritesVersions')).toEqual({
      Sid: 'RotationReadsAndWritesVersions',
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ],
      Resource: SECRET,
    });
  });

  it('lets the rotation write only the status, in-flight, last-failure and failed-CA tags, never the acme:* spec', () => {
    expect(statement(doc, 'RotationWritesStatusTagsOnly')).toEqual({
      Sid: 'RotationWritesStatusTagsOnly',
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
      Resource: SECRET,
      Condition: {
        'ForAllValues:StringLike': {
          'aws:TagKeys': [
            'ExpirationDate',
            'IssuedAt',
            'Domains',
            'acme-rotation:inflight',
            'acme-rotation:inflight:*',
            'acme-rotation:inflight-failure',
            'acme-rotation:inflight-ca-failed',
          ],
        },
        Null: { 'aws:TagKeys': 'false' },
      },
    });
    expect(JSON.stringify(doc)).not.toContain('acme:');
  });

  it('lets the renewal watch read it and start its rotation, on this exact secret', () => {
    expect(statement(doc, 'WatchReadsAndStartsRotation')).toEqual({
      Sid: 'WatchReadsAndStartsRotation',
      Effect: 'Allow',
      Principal: { AWS: WATCH_ROLE },
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:ListSecretVersionIds',
        'secretsmanager:RotateSecret',
      ],
      Resource: SECRET,
    });
  });

  it('lets the watch move no label but AWSPENDING (clearing a failed rotation), on this exact secret', () => {
    expect(statement(doc, 'WatchClearsFailedRotation')).toEqual({
      Sid: 'WatchClearsFailedRotation',
      Effect: 'Allow',
      Principal: { AWS: WATCH_ROLE },
      Action: ['secretsmanager:UpdateSecretVersionStage'],
      Resource: SECRET,
      Condition: { StringEquals: { 'secretsmanager:VersionStage': 'AWSPENDING' } },
    });
  });

  it('lets the watch write only its own acme-rotation:renewal-* tags', () => {
    expect(statement(doc, 'WatchWritesRenewalTagsOnly')).toEqual({
      Sid: 'WatchWritesRenewalTagsOnly',
      Effect: 'Allow',
      Principal: { AWS: WATCH_ROLE },
      Action: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
      Resource: SECRET,
      Condition: {
        'ForAllValues:StringLike': { 'aws:TagKeys': ['acme-rotation:renewal-*'] },
        Null: { 'aws:TagKeys': 'false' },
      },
    });
    // The pattern covers every key the watch writes, and none of the rotation's or the spec's.
    const pattern = /^acme-rotation:renewal-.*$/;
    expect(RENEWAL_TAG_KEYS.length).toBeGreaterThan(0);
    for (const key of RENEWAL_TAG_KEYS) expect(key).toMatch(pattern);
    expect(`${RENEWAL_TAG_PREFIX}-x`).toMatch(pattern);
    for (const key of [
      'ExpirationDate',
      'IssuedAt',
      'Domains',
      'acme-rotation:inflight',
      'acme-rotation:inflight-failure',
      'acme:domains',
    ]) {
      expect(key).not.toMatch(pattern);
    }
  });

  it('gives the watch no version writes but removing AWSPENDING, and no other principal anything', () => {
    const watch = doc.Statement.filter((s) => JSON.stringify(s.Principal) === JSON.stringify({ AWS: WATCH_ROLE }));
    const actions = watch.flatMap((s) => s.Action);
    expect(actions).not.toContain('secretsmanager:PutSecretValue');
    // The one label move it may make is AWSPENDING's: never AWSCURRENT or AWSPREVIOUS.
    for (const s of watch.filter((st) => st.Action.includes('secretsmanager:UpdateSecretVersionStage'))) {
      expect(s.Action).toEqual(['secretsmanager:UpdateSecretVersionStage']);
      expect(s.Condition).toEqual({ StringEquals: { 'secretsmanager:VersionStage': 'AWSPENDING' } });
    }
    const principals = new Set(doc.Statement.map((s) => JSON.stringify(s.Principal)));
    expect([...principals].sort()).toEqual([JSON.stringify({ AWS: ROLE }), JSON.stringify({ AWS: WATCH_ROLE })].sort());
  });

  it('is least privilege and has nothing else', () => {
    expect(doc.Statement).toHaveLength(5);
    expectLeastPrivilege(doc);
    expect(JSON.stringify(doc)).not.toMatch(/DeleteSecret|PutResourcePolicy|CancelRotateSecret/);
    // Only the watch may start a rotation (the rotation itself runs as Secrets Manager's call).
    const rotators = doc.Statement.filter((s) => s.Action.includes('secretsmanager:RotateSecret'));
    expect(rotators.map((s) => s.Principal)).toEqual([{ AWS: WATCH_ROLE }]);
  });
});

describe('account secret resource policy', () => {
  it('reads and stores the ACME account, on this secret only', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme-rotation-dev/acme-account-XyZ123';
    const doc = accountSecretPolicy({ secretArn: arn, rotationRoleArn: ROLE });
    expect(doc.Statement).toEqual([
      {
        Sid: 'RotationUsesAcmeAccount',
        Effect: 'Allow',
        Principal: { AWS: ROLE },
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        Resource: arn,
      },
    ]);
    expectLeastPrivilege(doc);
  });
});

describe('other policies', () => {
  it('lets only Lambda assume the roles (a trust policy has no Resource)', () => {
    expect(lambdaAssumeRolePolicy().Statement).toEqual([
      {
        Sid: 'LambdaAssumesThisRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: ['sts:AssumeRole'],
      },
    ]);
  });

  it('lets the failure rule and our alarms publish to the topic, each by its own ARN', () => {
    const rule = 'arn:aws:events:eu-west-1:123456789012:rule/acme-rotation-dev-rotation-failures';
    const alarms = [
      'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a',
      'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:b',
    ];
    const doc = topicPolicy({
      partition: 'aws',
      accountId: '123456789012',
      topicArn: TOPIC,
      ruleArn: rule,
      alarmArns: alarms,
    });
    expect(statement(doc, 'RotationFailureRulePublishes')).toEqual({
      Sid: 'RotationFailureRulePublishes',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['sns:Publish'],
      Resource: TOPIC,
      Condition: { ArnEquals: { 'aws:SourceArn': rule } },
    });
    expect(statement(doc, 'AlarmsPublish').Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': alarms },
      StringEquals: { 'aws:SourceAccount': '123456789012' },
    });
    expect(statement(doc, 'AccountOwnsTopic').Principal).toEqual({ AWS: 'arn:aws:iam::123456789012:root' });
    expectLeastPrivilege(doc);
  });
});

describe('renewal watch policy', () => {
  const watchBase = {
    partition: 'aws',
    region: 'eu-west-1',
    logGroupArn: WATCH_LOG_GROUP,
    rotationFunctionArn: ROTATION_FN,
  };

  it('lists secrets, invokes the rotation function and itself, and writes its own logs; nothing else', () => {
    const doc = watchRolePolicy({ ...watchBase, watchFunctionArn: WATCH_FN });
    expect(doc.Statement).toEqual([
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: `${WATCH_LOG_GROUP}:*`,
      },
      {
        Sid: 'FindCertificateSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:ListSecrets'],
        Resource: '*',
      },
      {
        Sid: 'StartRotationsAndContinue',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [ROTATION_FN, WATCH_FN],
      },
    ]);
    expectLeastPrivilege(doc);
  });

  it('invokes only the rotation function when it may not continue', () => {
    const doc = watchRolePolicy(watchBase);
    expect(statement(doc, 'StartRotationsAndContinue').Resource).toBe(ROTATION_FN);
  });

  it('holds no Route 53, no version writes, no tag writes and no account secret (those are on each secret)', () => {
    const json = JSON.stringify(watchRolePolicy({ ...watchBase, watchFunctionArn: WATCH_FN, kmsKeyArn: KEY }));
    expect(json).not.toContain('route53');
    expect(json).not.toMatch(/PutSecretValue|UpdateSecretVersionStage|TagResource|GetSecretValue|RotateSecret/);
    expect(json).not.toContain('acme-account');
    expect(json).not.toContain('sns:');
  });

  it('may decrypt with the customer key only through Secrets Manager, when configured', () => {
    const doc = watchRolePolicy({ ...watchBase, kmsKeyArn: KEY });
    expect(statement(doc, 'ReadSecretsKeyThroughSecretsManager')).toEqual({
      Sid: 'ReadSecretsKeyThroughSecretsManager',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: KEY,
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
    expectLeastPrivilege(doc);
    expect(JSON.stringify(watchRolePolicy(watchBase))).not.toContain('kms:');
  });

  it("compares and re-imports exactly the stack's ACM certificates (the waiter, the reconciliation)", () => {
    const east = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    const west = 'arn:aws:acm:eu-west-1:123456789012:certificate/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';
    const doc = watchRolePolicy({ ...watchBase, acmCertificateArns: [west, east, west] });
    expect(statement(doc, 'DeliverToAcmCertificates')).toEqual({
      Sid: 'DeliverToAcmCertificates',
      Effect: 'Allow',
      Action: ['acm:DescribeCertificate', 'acm:ImportCertificate'],
      Resource: [west, east].sort(),
    });
    expectLeastPrivilege(doc);
    // No ACM certificates, no ACM grant at all.
    expect(JSON.stringify(watchRolePolicy({ ...watchBase, acmCertificateArns: [] }))).not.toContain('acm:');
  });

  it('announces a refusing ACM target on the topic and bus, and only when it re-imports', () => {
    const east = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    const bus = 'arn:aws:events:eu-west-1:123456789012:event-bus/certs';
    const doc = watchRolePolicy({ ...watchBase, acmCertificateArns: [east], topicArn: TOPIC, eventBusArn: bus });
    expect(statement(doc, 'PublishNotices')).toEqual({
      Sid: 'PublishNotices',
      Effect: 'Allow',
      Action: ['sns:Publish'],
      Resource: TOPIC,
    });
    expect(statement(doc, 'PutRotationEvents')).toEqual({
      Sid: 'PutRotationEvents',
      Effect: 'Allow',
      Action: ['events:PutEvents'],
      Resource: bus,
    });
    expectLeastPrivilege(doc);
    const json = JSON.stringify(watchRolePolicy({ ...watchBase, topicArn: TOPIC, eventBusArn: bus }));
    expect(json).not.toContain('sns:');
    expect(json).not.toContain('events:');
  });

  it('is the same document as JSON, whatever the fleet size', () => {
    expect(JSON.parse(watchRolePolicyJson(watchBase))).toEqual(watchRolePolicy(watchBase));
    expect(watchRolePolicyJson(watchBase).length).toBeLessThan(1000);
  });

  it('lets ListSecrets alone have a * resource', () => {
    const widened = watchRolePolicy(watchBase);
    widened.Statement.push({
      Sid: 'Sneaky',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: '*',
    });
    expect(() => expectLeastPrivilege(widened)).toThrow(/Sneaky resource/);
  });
});

describe('hosted zones in other accounts', () => {
  const DNS_ROLE = 'arn:aws:iam::111122223333:role/acme-dns';
  const OTHER_ROLE = 'arn:aws:iam::444455556666:role/dns/acme';

  it('lets the function assume exactly the zone roles, with no Route 53 grant for their zones here', () => {
    const doc = rotationRolePolicy({ ...base, zoneIds: ['ZA1'], route53RoleArns: [OTHER_ROLE, DNS_ROLE, DNS_ROLE] });
    expect(statement(doc, 'AssumeHostedZoneRoles')).toEqual({
      Sid: 'AssumeHostedZoneRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: [DNS_ROLE, OTHER_ROLE],
    });
    expectLeastPrivilege(doc);
    // Nothing else is new: the same statements as without roles, plus this one.
    const without = rotationRolePolicy({ ...base, zoneIds: ['ZA1'] });
    expect(doc.Statement.filter((st) => st.Sid !== 'AssumeHostedZoneRoles')).toEqual(without.Statement);
    expect(JSON.stringify(without)).not.toContain('sts:');
  });

  it('holds no Route 53 statement at all when every zone is reached through a role', () => {
    const doc = rotationRolePolicy({ ...base, zoneIds: [], route53RoleArns: [DNS_ROLE] });
    expect(doc.Statement.map((st) => st.Sid)).toEqual(['WriteOwnLogs', 'AssumeHostedZoneRoles', 'PublishNotices']);
    expect(JSON.stringify(doc)).not.toContain('route53:');
  });

  it("writes the role's policy with the function's own Route 53 builder, on the role's zones only", () => {
    const doc = route53RolePolicy({ roleArn: DNS_ROLE, zoneIds: ['ZDNS2', 'ZDNS1'] });
    expect(doc).toEqual({
      Version: '2012-10-17',
      Statement: route53Statements({ partition: 'aws', zoneIds: ['ZDNS1', 'ZDNS2'] }),
    });
    expect(doc.Statement.map((st) => st.Sid)).toEqual([
      'WriteChallengeTxtRecords',
      'ReadChallengeZones',
      'WaitForChallengeChanges',
    ]);
    // The function's own policy, for the same zones, holds the very same statements.
    const own = rotationRolePolicy({ ...base, zoneIds: ['ZDNS1', 'ZDNS2'] });
    for (const st of doc.Statement) expect(statement(own, st.Sid)).toEqual(st);
    expect(statement(doc, 'WriteChallengeTxtRecords').Condition).toMatchObject({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
      },
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.*'] },
    });
    expect(statement(doc, 'ReadChallengeZones').Resource).toEqual([
      'arn:aws:route53:::hostedzone/ZDNS1',
      'arn:aws:route53:::hostedzone/ZDNS2',
    ]);
    expectLeastPrivilege(doc);
    expect(() => route53RolePolicy({ roleArn: DNS_ROLE, zoneIds: [] })).toThrow(/no hosted zones/);
  });

  it("uses the role's partition and adds delegated names when its zones hold CNAME targets", () => {
    const doc = route53RolePolicy({
      roleArn: 'arn:aws-us-gov:iam::111122223333:role/acme-dns',
      zoneIds: ['ZDNS1'],
      cnameTargets: { names: ['*.acme.example.net'], zoneIds: ['ZDNS1'] },
    });
    expect(statement(doc, 'WriteDelegatedChallengeTxtRecords').Resource).toEqual([
      'arn:aws-us-gov:route53:::hostedzone/ZDNS1',
    ]);
    expect(statement(doc, 'WaitForChallengeChanges').Resource).toBe('arn:aws-us-gov:route53:::change/*');
  });

  it('trusts only the rotation role, requiring the external id when one is set', () => {
    expect(route53RoleTrustPolicy({ rotationRoleArn: ROLE })).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AcmeRotationFunctionAssumesThisRole',
          Effect: 'Allow',
          Principal: { AWS: ROLE },
          Action: ['sts:AssumeRole'],
        },
      ],
    });
    const withId = route53RoleTrustPolicy({ rotationRoleArn: ROLE, externalId: 'acme-7f3a' });
    expect(withId.Statement[0]?.Condition).toEqual({ StringEquals: { 'sts:ExternalId': 'acme-7f3a' } });
    expect(withId.Statement[0]?.Resource).toBeUndefined();
    expectLeastPrivilege(withId);
  });
});
