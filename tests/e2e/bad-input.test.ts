/**
 * End-to-end: bad input, one table. Each case sets up a secret (tags, current value, rotation
 * state) in the local stack, sends the built Lambda one crafted event the way Secrets Manager
 * would, and asserts that
 *
 * 1. the invocation fails with a message that starts with `secret "<name>" <step>:` and names the
 *    cause and what to fix;
 * 2. one failure notice goes out on SNS and EventBridge with that message and the error code;
 * 3. nothing changed: every secret's versions, labels, values, tags and rotation flag, every
 *    hosted zone's records, no Route 53 ChangeResourceRecordSets, no new ACME order at Pebble;
 * 4. no private key text (and no foreign secret's value) in the error, the notices or the logs.
 *
 * Outside the table: what the spec accepts and normalises (upper case, IDN, duplicates), the
 * damaged bundle of ours that a rotation replaces, and the ways out that two messages name.
 *
 * Decision on a damaged bundle of ours in AWSCURRENT (a JSON object with `certificate` and
 * `private_key` whose certificate does not parse): the rotation REPLACES it. The secret is ours by
 * its tags and its shape, nobody can use the broken value as it is (refusing would keep the
 * service broken until someone edits the secret by hand), and nothing is lost: the damaged value
 * stays readable as AWSPREVIOUS. Anything that is not `{}`/empty and not shaped like our bundle
 * (text, truncated JSON, another application's JSON) is refused: it may be someone's password.
 */
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { domainTags } from '../../rotation/certificate/spec.js';
import { generateKey, keyPem } from '../helpers/certs.js';
import { retryRotation, rotate } from '../local/driver.js';
import type { InvokeResult, LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';
import {
  BUS_NAME,
  FUNCTION_NAME,
  callsSince,
  expectConsistentBundle,
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  uniqueSecretName,
  uniqueZoneName,
  versionsWith,
  type E2eStack,
} from './helpers.js';

let e2e: E2eStack | undefined;
let stack: LocalStack;
let lambda: LocalLambda;
/** The zone every valid name of this file lives in, and an unrelated one. */
let ZONE: string;
let OTHER_ZONE: string;
let OTHER_ZONE_ID: string;
/** Names no hosted zone contains. */
let NOWHERE: string;
/** Successful issuances in this file: the only ACME orders Pebble may see. */
let ordersExpected = 0;
const NEW_ORDER = /POST \/order-plz/;
/** A password-like value that must never appear in any output. */
const PASSWORD = `s3cret-${randomUUID()}`;

beforeAll(async () => {
  e2e = await startE2eStack();
  stack = e2e.stack;
  lambda = e2e.notifyingLambda();
  ZONE = uniqueZoneName('bad');
  stack.aws.route53.createZone(ZONE);
  OTHER_ZONE = uniqueZoneName('other');
  OTHER_ZONE_ID = stack.aws.route53.createZone(OTHER_ZONE).id;
  NOWHERE = uniqueZoneName('nowhere');
});

afterAll(async () => {
  await e2e?.stack.stop();
});

// ---------------------------------------------------------------- helpers of this file

const orders = (): number => stack.pebble.logs.filter((l) => NEW_ORDER.test(l)).length;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The tag a failed step records its failure in (the one write a failure makes). */
const FAILURE_TAG = 'acme-rotation:inflight-failure';

/**
 * Everything the local AWS endpoint holds that a rotation could change (not access times), but
 * the failure record, which a failed step writes on purpose (checked on its own).
 */
function worldState(): unknown {
  return {
    secrets: stack.aws.secrets
      .list()
      .map((s) => ({
        arn: s.arn,
        rotationEnabled: s.rotationEnabled,
        tags: [...s.tags.entries()].filter(([key]) => key !== FAILURE_TAG).sort(),
        versions: [...s.versions.values()].map((v) => ({
          id: v.id,
          value: v.value,
          binary: v.binary,
          stages: [...v.stages].sort(),
        })),
      }))
      .sort((a, b) => a.arn.localeCompare(b.arn)),
    zones: stack.aws.route53.zones().map((z) => ({ id: z.id, records: JSON.parse(JSON.stringify(z.records)) })),
  };
}

/** A secret with exactly these tags and (optionally) a first value. */
async function createSecret(tags: Tag[], value?: string | Uint8Array): Promise<{ arn: string; name: string }> {
  const out = await stack.sm.send(
    new CreateSecretCommand({
      Name: uniqueSecretName('bad'),
      Tags: tags,
      ...(typeof value === 'string' ? { SecretString: value } : value ? { SecretBinary: value } : {}),
    }),
  );
  return { arn: out.ARN as string, name: out.Name as string };
}

/** RotateSecret as Secrets Manager's schedule would: the empty AWSPENDING stub; returns its token. */
async function startRotation(arn: string): Promise<string> {
  const out = await stack.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: lambda.functionArn }));
  return out.VersionId as string;
}

const domainsTag = (value: string): Tag => ({ Key: 'acme:domains', Value: value });

/** A name under `zone` exactly `length` characters long (labels of at most 63 characters). */
function nameOfLength(length: number, zone: string): string {
  const labels: string[] = [];
  let left = length - zone.length - 1; // characters before the dot in front of the zone
  while (left > 0) {
    const take = left <= 63 ? left : Math.min(63, left - 2); // leave room for a dot and one more character
    labels.push('a'.repeat(take));
    left -= take + (left > take ? 1 : 0);
  }
  const name = `${labels.join('.')}.${zone}`;
  expect(name).toHaveLength(length);
  return name;
}

interface Prepared {
  /** The secret name the error and the notice carry (the SecretId when nothing was described). */
  secretName: string;
  secretArn?: string;
  event: Record<string, unknown>;
  /** version_id of the notice. */
  token: string;
  /** domains of the notice (empty when the spec cannot be read). */
  domains: string[];
  /** Text that must appear in no output (a foreign secret's value). */
  forbidden?: string;
  /** The version that is AWSPENDING, when the event names another one. */
  pendingId?: string;
}

/** The usual case: a secret with these tags and value `{}`, a rotation started, createSecret sent. */
async function tagged(tags: Tag[], opts: { value?: string | Uint8Array; domains?: string[] } = {}): Promise<Prepared> {
  const secret = await createSecret(tags, opts.value ?? '{}');
  const token = await startRotation(secret.arn);
  return {
    secretName: secret.name,
    secretArn: secret.arn,
    token,
    domains: opts.domains ?? [],
    event: { Step: 'createSecret', SecretId: secret.arn, ClientRequestToken: token },
  };
}

/** A valid single-name spec with this current value. */
async function withCurrent(value: string | Uint8Array): Promise<Prepared> {
  return { ...(await tagged([domainsTag(ZONE)], { value, domains: [ZONE] })), forbidden: PASSWORD };
}

/** A valid secret in mid-rotation, with an event for another step or token. */
async function midRotation(
  event: (p: { arn: string; name: string; token: string }) => { event: Record<string, unknown>; token?: string },
  opts: { described?: boolean } = {},
): Promise<Prepared> {
  const p = await tagged([domainsTag(ZONE)], { domains: [ZONE] });
  const made = event({ arn: p.secretArn as string, name: p.secretName, token: p.token });
  return {
    ...p,
    event: made.event,
    token: made.token ?? p.token,
    // Not described (the event is refused first): no ARN and no domains in the notice.
    ...(opts.described === false ? { secretArn: undefined, domains: [] } : {}),
  };
}

interface Case {
  what: string;
  prepare: () => Promise<Prepared>;
  /** The step named in the message and the notice. */
  step?: string;
  code: string;
  /** The error's name as the Lambda runtime reports it. */
  name: string;
  /** After the `secret "<name>" <step>: ` prefix: the cause and what to fix. */
  message: (p: Prepared) => RegExp;
  /** The case reads Route 53 (zone lookup) before failing. */
  route53Reads?: boolean;
  /** Whether the message starts with the secret's name (not when the event has no SecretId). */
  unnamed?: boolean;
}

const spec = (what: string, tags: () => Tag[], message: (p: Prepared) => RegExp): Case => ({
  what,
  prepare: () => tagged(tags()),
  code: 'InvalidSpec',
  name: 'SpecError',
  message,
});

const invalidName = (what: string, name: () => string, reason: string): Case =>
  spec(
    what,
    () => [domainsTag(name())],
    () => new RegExp(`^tag acme:domains value "${escape(name())}" is invalid: ${reason}`),
  );

const SET_IT = 'set it to a comma-separated list of DNS names like example.com,\\*\\.example\\.com';
const FOREIGN_WAY_OUT =
  'A rotation would replace it, so nothing was ordered or changed\\. If this secret is meant to hold the certificate, ' +
  "store \\{\\} as its value \\(aws secretsmanager put-secret-value --secret-id \\S+ --secret-string '\\{\\}'\\); " +
  'the next attempt of this rotation then issues the certificate\\. If the value belongs to another application, ' +
  'take the acme:\\* tags and the rotation off this secret$';
const foreign = (description: string) => (p: Prepared) =>
  new RegExp(
    `^the current value \\(AWSCURRENT, version [0-9a-f-]{36}\\) is not a certificate bundle: it is ${description}\\. ` +
      FOREIGN_WAY_OUT.replace('\\S+', escape(p.secretName)),
  );
const immutableWayOut = (p: Prepared) =>
  `versions are immutable, so this rotation cannot succeed: run aws secretsmanager cancel-rotate-secret --secret-id ${escape(p.secretName)}, ` +
  `then aws secretsmanager update-secret-version-stage --secret-id ${escape(p.secretName)} --version-stage AWSPENDING ` +
  `--remove-from-version-id ${p.token}, then aws secretsmanager rotate-secret --secret-id ${escape(p.secretName)}$`;
const ONLY_SM = 'invoke this function only through Secrets Manager rotation \\(aws secretsmanager rotate-secret\\)$';

const CASES: Case[] = [
  // ---- the certificate spec (tags): createSecret, InvalidSpec, before any AWS call but DescribeSecret/GetSecretValue
  spec(
    'no tags at all',
    () => [],
    () => new RegExp(`^tag acme:domains is missing \\(the secret has no tags\\); ${SET_IT}$`),
  ),
  spec(
    'acme: tags without acme:domains',
    () => [{ Key: 'acme:key-type', Value: 'rsa-2048' }],
    () => new RegExp(`^tag acme:domains is missing \\(the secret has no acme:domains tag\\); ${SET_IT}$`),
  ),
  spec(
    'an empty acme:domains',
    () => [domainsTag('')],
    () => new RegExp(`^tag acme:domains value "" is invalid: it lists no names; ${SET_IT}$`),
  ),
  spec(
    'only commas and spaces',
    () => [domainsTag(' , ,')],
    () => new RegExp(`^tag acme:domains value " , ," is invalid: it lists no names; ${SET_IT}$`),
  ),
  invalidName(
    'names separated by semicolons',
    () => `${ZONE};www.${ZONE}`,
    'it contains the character ";"; separate names with commas \\(like example.com,www.example.com\\)$',
  ),
  invalidName(
    'names separated by spaces',
    () => `${ZONE} www.${ZONE}`,
    'it contains whitespace; separate names with commas \\(like example.com,www.example.com\\)$',
  ),
  invalidName(
    'a label starting with a hyphen',
    () => `-www.${ZONE}`,
    'the label "-www" must not start or end with a hyphen; a label is letters, digits and hyphens like www or my-host$',
  ),
  invalidName(
    'an underscore in a label',
    () => `_dmarc.${ZONE}`,
    'it contains the character "_"; a label may contain only letters, digits and hyphens \\(like www.example.com\\)$',
  ),
  invalidName(
    'an empty label',
    () => `www..${ZONE}`,
    'it has an empty label \\(two dots in a row, or a leading dot\\); use a name like www.example.com$',
  ),
  invalidName(
    '"--" in the third and fourth positions',
    () => `ab--cd.${ZONE}`,
    'the label "ab--cd" has "--" in the third and fourth positions, which is reserved for IDNA \\(xn--\\) labels; CAs reject it$',
  ),
  invalidName(
    'an invalid punycode label',
    () => `xn--zz.${ZONE}`,
    'it is not a valid internationalised domain name \\(IDNA conversion failed\\); use a name like bücher.example or its punycode form',
  ),
  invalidName(
    'a label of 64 characters',
    () => `${'a'.repeat(64)}.${ZONE}`,
    'the label "a{20}…" is 64 characters long; a label has 1 to 63$',
  ),
  invalidName(
    'a name of 254 characters',
    () => nameOfLength(254, ZONE),
    'the name is 254 characters long \\(in ASCII form\\); a DNS name has at most 253$',
  ),
  invalidName(
    'a wildcard that is not the leftmost label (a.*.zone)',
    () => `a.*.${ZONE}`,
    'a wildcard must be the whole leftmost label \\(like \\*.example.com\\)$',
  ),
  invalidName(
    'a wildcard alone (*)',
    () => '*',
    'a wildcard needs at least two labels after it \\(like \\*.example.com\\)$',
  ),
  invalidName(
    'a double wildcard label (**.zone)',
    () => `**.${ZONE}`,
    'a wildcard must be the whole leftmost label \\(like \\*.example.com\\)$',
  ),
  invalidName(
    'a wildcard over a TLD (*.test)',
    () => '*.test',
    'a wildcard needs at least two labels after it \\(like \\*.example.com\\)$',
  ),
  invalidName(
    'an IP address',
    () => '192.0.2.1',
    'IP addresses are not supported \\(DNS-01 validates DNS names only\\); use a DNS name like example.com$',
  ),
  invalidName(
    'a single-label name',
    () => 'localhost',
    'a certificate name needs at least two labels \\(like example.com\\); a bare TLD or single-label name like localhost cannot be issued$',
  ),
  spec(
    '101 names (over the CA limit of 100), in continuation tags',
    () => domainTags(Array.from({ length: 101 }, (_, i) => `n${i}.${ZONE}`)),
    () =>
      /^tag acme:domains lists 101 distinct names, more than the limit of 100 names per certificate; split them across several certificate secrets$/,
  ),
  spec(
    'an unknown key type',
    () => [domainsTag(ZONE), { Key: 'acme:key-type', Value: 'rsa-1024' }],
    () =>
      /^tag acme:key-type value "rsa-1024" is invalid: allowed values are ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096 \(default ecdsa-p256\)$/,
  ),
  spec(
    'a malformed acme:hosted-zone-ids',
    () => [domainsTag(ZONE), { Key: 'acme:hosted-zone-ids', Value: 'zone-of-example' }],
    () =>
      /^tag acme:hosted-zone-ids value "zone-of-example" is invalid: a hosted zone id is 1 to 32 upper-case letters and digits, like Z0123456789ABCDEFGHIJ or \/hostedzone\/Z0123456789ABCDEFGHIJ$/,
  ),
  spec(
    'a malformed acme:profile',
    () => [domainsTag(ZONE), { Key: 'acme:profile', Value: 'tls server!' }],
    () =>
      /^tag acme:profile value "tls server!" is invalid: a profile name is 1 to 64 letters, digits, "\.", "_" or "-", like tlsserver or shortlived$/,
  ),
  spec(
    'a typo in a tag key (acme:domain)',
    () => [{ Key: 'acme:domain', Value: ZONE }],
    () =>
      /^tag acme:domain is not a known acme: tag \(tag keys are case-sensitive\); the known ones are acme:domains \(continued in acme:domains:2, acme:domains:3, …\), acme:key-type, acme:hosted-zone-ids, acme:profile, acme:acm-certificate-arns \(continued likewise\), acme:ca; tags starting with acme: are reserved for the certificate spec$/,
  ),
  spec(
    'an upper-case tag key (ACME:domains)',
    () => [{ Key: 'ACME:domains', Value: ZONE }],
    () => /^tag ACME:domains is not a known acme: tag \(tag keys are case-sensitive\); the known ones are acme:domains/,
  ),
  spec(
    'a gap in the continuation tags',
    () => [domainsTag(ZONE), { Key: 'acme:domains:3', Value: `www.${ZONE}` }],
    () =>
      /^tag acme:domains:3 is present but acme:domains:2 is missing; continuation tags must be numbered consecutively from acme:domains:2$/,
  ),
  spec(
    'a continuation tag with a leading zero',
    () => [domainsTag(ZONE), { Key: 'acme:domains:02', Value: `www.${ZONE}` }],
    () => /^tag acme:domains:02 is not a known acme: tag/,
  ),

  // ---- DNS: the zone of every name is found before anything is ordered
  {
    what: 'a name outside every hosted zone',
    prepare: () => tagged([domainsTag(`www.${NOWHERE}`)], { domains: [`www.${NOWHERE}`] }),
    code: 'NoHostedZone',
    name: 'DnsError',
    route53Reads: true,
    message: () =>
      new RegExp(
        `^no Route 53 hosted zone for _acme-challenge\\.www\\.${escape(NOWHERE)} \\(tried: [^)]*${escape(NOWHERE)}[^)]*\\); ` +
          'create the zone or set acme:hosted-zone-ids$',
      ),
  },
  {
    what: 'two names outside every hosted zone, next to a good one',
    prepare: () => {
      const domains = [ZONE, `a.${NOWHERE}`, `b.${NOWHERE}`];
      return tagged([domainsTag(domains.join(','))], { domains });
    },
    code: 'NoHostedZone',
    name: 'DnsError',
    route53Reads: true,
    message: () =>
      new RegExp(
        `^no usable hosted zone for 2 names: no Route 53 hosted zone for _acme-challenge\\.a\\.${escape(NOWHERE)} .*\\| ` +
          `no Route 53 hosted zone for _acme-challenge\\.b\\.${escape(NOWHERE)} .*create the zone or set acme:hosted-zone-ids$`,
      ),
  },
  {
    what: 'acme:hosted-zone-ids naming a zone that does not exist',
    prepare: () =>
      tagged([domainsTag(ZONE), { Key: 'acme:hosted-zone-ids', Value: 'ZNOSUCHZONE0000' }], { domains: [ZONE] }),
    code: 'AwsRoute53Error',
    name: 'AwsServiceError',
    route53Reads: true,
    message: () =>
      /^Route53 GetHostedZone failed \(NoSuchHostedZone\): .*; a zone id in tag acme:hosted-zone-ids \(ZNOSUCHZONE0000\) does not exist in this account: correct the tag \(aws route53 list-hosted-zones lists the zones\), or, for a zone in another account, name the role that reaches it in ROUTE53_ROLES$/,
  },
  {
    what: 'acme:hosted-zone-ids naming a zone that does not contain the name',
    prepare: () =>
      tagged([domainsTag(ZONE), { Key: 'acme:hosted-zone-ids', Value: OTHER_ZONE_ID }], { domains: [ZONE] }),
    code: 'NoHostedZone',
    name: 'DnsError',
    route53Reads: true,
    message: () =>
      new RegExp(
        `^no Route 53 hosted zone for _acme-challenge\\.${escape(ZONE)} \\(tried: ${OTHER_ZONE_ID} \\(${escape(OTHER_ZONE)}\\)\\); ` +
          'create the zone or set acme:hosted-zone-ids$',
      ),
  },

  // ---- AWSCURRENT is not ours: never replaced, never echoed
  {
    what: 'an AWSCURRENT value that is plain text',
    prepare: () => withCurrent(PASSWORD),
    code: 'UnexpectedCurrentValue',
    name: 'CurrentValueError',
    message: foreign(`text that is not JSON \\(${PASSWORD.length} characters\\)`),
  },
  {
    what: 'an AWSCURRENT value that is truncated JSON',
    prepare: () => withCurrent(`{"certificate":"-----BEGIN CERTIFICATE-----\\nMIIB${PASSWORD}`),
    code: 'UnexpectedCurrentValue',
    name: 'CurrentValueError',
    message: foreign('JSON that does not parse \\(\\d+ characters; truncated\\?\\)'),
  },
  {
    what: "an AWSCURRENT value that is another application's secret",
    prepare: () => withCurrent(JSON.stringify({ username: 'app', password: PASSWORD })),
    code: 'UnexpectedCurrentValue',
    name: 'CurrentValueError',
    message: foreign('a JSON object with the field\\(s\\) username, password'),
  },
  {
    what: 'an AWSCURRENT value that is a JSON array',
    prepare: () => withCurrent(JSON.stringify([PASSWORD])),
    code: 'UnexpectedCurrentValue',
    name: 'CurrentValueError',
    message: foreign('a JSON array'),
  },
  {
    what: 'an AWSCURRENT value that is binary (SecretBinary)',
    prepare: () => withCurrent(new TextEncoder().encode(PASSWORD)),
    code: 'UnexpectedCurrentValue',
    name: 'CurrentValueError',
    message: foreign(`a binary value \\(SecretBinary, ${PASSWORD.length} bytes\\)`),
  },

  // ---- the event and the rotation state
  {
    what: 'an unknown step',
    prepare: () =>
      midRotation(
        ({ name, token }) => ({ event: { Step: 'deleteSecret', SecretId: name, ClientRequestToken: token } }),
        {
          described: false,
        },
      ),
    step: 'deleteSecret',
    code: 'InvalidEvent',
    name: 'RotationError',
    message: () =>
      new RegExp(
        `^unknown rotation step "deleteSecret": expected one of createSecret, setSecret, testSecret, finishSecret; ${ONLY_SM}`,
      ),
  },
  {
    what: 'an event without a ClientRequestToken',
    prepare: () =>
      midRotation(({ name }) => ({ event: { Step: 'createSecret', SecretId: name }, token: '' }), { described: false }),
    code: 'InvalidEvent',
    name: 'RotationError',
    message: () =>
      new RegExp(
        `^the event has no ClientRequestToken \\(the id of the AWSPENDING version Secrets Manager created\\); ${ONLY_SM}`,
      ),
  },
  {
    what: 'an event without a SecretId',
    prepare: async () => ({
      ...(await midRotation(({ token }) => ({ event: { Step: 'createSecret', ClientRequestToken: token } }))),
      secretName: '',
      secretArn: undefined,
      domains: [],
    }),
    code: 'InvalidEvent',
    name: 'RotationError',
    unnamed: true,
    message: () => new RegExp(`^the event has no SecretId; ${ONLY_SM}`),
  },
  {
    what: 'a token with no stage',
    prepare: () =>
      midRotation(({ arn }) => {
        const token = randomUUID();
        return { event: { Step: 'createSecret', SecretId: arn, ClientRequestToken: token }, token };
      }),
    code: 'InvalidRotationState',
    name: 'RotationStateError',
    message: (p) =>
      new RegExp(
        `^version ${p.token} \\(the event's ClientRequestToken\\) has no staging label on this secret ` +
          `\\(an unknown version, or an old one whose labels are gone\\); the rotation in progress is version [0-9a-f-]{36} \\(AWSPENDING\\)$`,
      ),
  },
  {
    what: 'a token that is AWSPREVIOUS, not AWSPENDING',
    prepare: async () => {
      const secret = await createSecret([domainsTag(ZONE)], '{}');
      const previous = versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT')[0] as string;
      await stack.sm.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: '{ }' }));
      const pending = await startRotation(secret.arn);
      return {
        secretName: secret.name,
        secretArn: secret.arn,
        token: previous,
        domains: [ZONE],
        event: { Step: 'testSecret', SecretId: secret.arn, ClientRequestToken: previous },
        pendingId: pending,
      };
    },
    step: 'testSecret',
    code: 'InvalidRotationState',
    name: 'RotationStateError',
    message: (p) =>
      new RegExp(
        `^version ${p.token} \\(the event's ClientRequestToken\\) is AWSPREVIOUS, not AWSPENDING, so it is not the rotation in progress; ` +
          `the rotation in progress is version ${p.pendingId as string} \\(AWSPENDING\\)$`,
      ),
  },
  {
    what: 'rotation disabled (cancel-rotate-secret) while a step arrives',
    prepare: () =>
      midRotation(({ arn, token }) => ({
        event: { Step: 'createSecret', SecretId: arn, ClientRequestToken: token },
      })).then(async (p) => {
        await stack.sm.send(new CancelRotateSecretCommand({ SecretId: p.secretArn }));
        return p;
      }),
    code: 'InvalidRotationState',
    name: 'RotationStateError',
    message: (p) =>
      new RegExp(
        '^rotation is not enabled on this secret \\(never configured, or turned off by cancel-rotate-secret\\), so this invocation is not part of a rotation; ' +
          `to rotate, aws secretsmanager update-secret-version-stage --secret-id ${escape(p.secretName)} --version-stage AWSPENDING ` +
          `--remove-from-version-id ${p.token} and then aws secretsmanager rotate-secret --secret-id ${escape(p.secretName)} ` +
          "--rotation-lambda-arn <this function's ARN>$",
      ),
  },
  {
    what: 'a secret that does not exist',
    prepare: () => {
      const name = uniqueSecretName('missing');
      const token = randomUUID();
      return Promise.resolve({
        secretName: name,
        token,
        domains: [],
        event: { Step: 'createSecret', SecretId: name, ClientRequestToken: token },
      });
    },
    code: 'AwsSecretsManagerError',
    name: 'AwsServiceError',
    message: (p) =>
      new RegExp(
        `^SecretsManager DescribeSecret failed \\(ResourceNotFoundException\\): .*; no secret ${escape(p.secretName)} exists in this account and region ` +
          '\\(deleted, or a wrong SecretId in the rotation event\\): check the secret and the rotation configured on it$',
      ),
  },
  {
    what: 'testSecret before createSecret stored anything',
    prepare: () =>
      midRotation(({ arn, token }) => ({ event: { Step: 'testSecret', SecretId: arn, ClientRequestToken: token } })),
    step: 'testSecret',
    code: 'VerificationFailed',
    name: 'VerificationError',
    message: (p) =>
      new RegExp(
        `^version ${p.token} \\(AWSPENDING\\) has no value; createSecret did not complete \\(Secrets Manager runs createSecret, setSecret, testSecret, finishSecret in this order; a failed createSecret is retried\\)$`,
      ),
  },
  {
    what: 'finishSecret before createSecret stored anything',
    prepare: () =>
      midRotation(({ arn, token }) => ({ event: { Step: 'finishSecret', SecretId: arn, ClientRequestToken: token } })),
    step: 'finishSecret',
    code: 'VerificationFailed',
    name: 'VerificationError',
    message: (p) =>
      new RegExp(
        `^version ${p.token} holds no certificate bundle; refusing to promote it \\(createSecret and testSecret must succeed first; Secrets Manager runs the steps in order\\)$`,
      ),
  },
  {
    what: 'an AWSPENDING version that already holds a foreign value',
    prepare: async () => {
      const p = await tagged([domainsTag(ZONE)], { domains: [ZONE] });
      await stack.sm.send(
        new PutSecretValueCommand({
          SecretId: p.secretArn,
          ClientRequestToken: p.token,
          SecretString: JSON.stringify({ password: PASSWORD }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      return { ...p, forbidden: PASSWORD };
    },
    code: 'InvalidRotationState',
    name: 'RotationStateError',
    message: (p) =>
      new RegExp(
        `^version ${p.token} \\(AWSPENDING\\) already holds a value that is not a certificate bundle; ${immutableWayOut(p)}`,
      ),
  },
];

describe('bad input fails with a message that says what to fix, and changes nothing', () => {
  it('has the cases the brief asks for', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(CASES.map((c) => c.what)).size).toBe(CASES.length);
  });

  it.each(CASES)('$what → $code', async (c) => {
    const p = await c.prepare();
    const step = c.step ?? 'createSecret';
    const before = worldState();
    const callsFrom = stack.aws.calls.length;
    const ordersBefore = orders();
    const logsFrom = lambda.logs.length;
    const noticesBefore = noticesFor(stack, p.secretName);
    expect(noticesBefore.sns).toEqual([]);

    const result: InvokeResult = await lambda.invoke(p.event);

    // (1) the error: named secret and step, then the cause and the fix.
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.crashed ?? false).toBe(false);
    const { message } = result.error;
    expect(result.error.name).toBe(c.name);
    const prefix = c.unnamed ? `${step}: ` : `secret ${JSON.stringify(p.secretName)} ${step}: `;
    expect(message.startsWith(prefix), `"${message}" starts with ${prefix}`).toBe(true);
    expect(message.slice(prefix.length)).toMatch(c.message(p));

    // (2) one failure notice on SNS and one event on EventBridge, same facts, seed fields first.
    const notices = noticesFor(stack, p.secretName);
    expect(notices.sns).toHaveLength(1);
    expect(notices.events).toHaveLength(1);
    const expected = {
      status: 'failed',
      domains: p.domains,
      error: message,
      step,
      secret_name: p.secretName,
      ...(p.secretArn !== undefined ? { secret_arn: p.secretArn } : {}),
      version_id: p.token,
      error_code: c.code,
    };
    for (const notice of [notices.sns[0]?.message, notices.events[0]?.detail]) {
      expect(notice).toEqual(expected);
      expect(Object.keys(notice ?? {}).slice(0, 5)).toEqual(['status', 'domains', 'error', 'step', 'secret_name']);
    }
    expect(notices.events[0]).toMatchObject({
      detailType: 'Certificate Renewal Failed',
      source: FUNCTION_NAME,
      busName: BUS_NAME,
      resources: p.secretArn !== undefined ? [p.secretArn] : [],
    });
    expect(notices.sns[0]?.subject).toMatch(/FAILED/);

    // (3) nothing changed: secrets (versions, labels, values, tags, rotation), zones, DNS calls, CA
    // orders; the one write is the failure record on the secret, when the secret exists.
    expect(worldState()).toEqual(before);
    const record = stack.aws.secrets
      .list()
      .find((x) => x.arn === p.secretArn)
      ?.tags.get(FAILURE_TAG);
    if (record !== undefined) {
      // When and where it failed, then the cause's first words (punctuation a tag may not hold aside).
      const words = message.slice(prefix.length).match(/[\p{L}\p{N}]+/gu) ?? [];
      expect(record).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${step}: `));
      expect(record.slice(record.indexOf(': ') + 2)).toMatch(new RegExp(`^\\W*${words.slice(0, 3).join('\\W+')}`, 'u'));
      expect(record.length).toBeLessThanOrEqual(255);
    }
    const calls = callsSince(stack.aws.calls, callsFrom);
    expect(calls['route53:ChangeResourceRecordSets']).toBeUndefined();
    if (!c.route53Reads) expect(Object.keys(calls).filter((k) => k.startsWith('route53:'))).toEqual([]);
    expect(calls['secretsmanager:TagResource'] ?? 0).toBe(record !== undefined ? 1 : 0);
    const writes = ['PutSecretValue', 'UpdateSecretVersionStage', 'UntagResource', 'CreateSecret'];
    expect(Object.keys(calls).filter((k) => writes.some((w) => k === `secretsmanager:${w}`))).toEqual([]);
    expect(orders()).toBe(ordersBefore);

    // (4) no key material, no foreign secret's value, anywhere.
    const outputs = [message, result.error.stack ?? '', notices.sns[0]?.raw ?? '', notices.events[0]?.raw ?? ''];
    outputs.push(...lambda.logs.slice(logsFrom));
    for (const text of outputs) {
      expect(text).not.toContain('PRIVATE KEY');
      if (p.forbidden !== undefined) expect(text).not.toContain(p.forbidden);
    }
  });
});

describe('what the spec accepts, and what a rotation may replace', () => {
  it('lower-cases names, converts IDN to punycode and drops duplicates (the spec normalises, it does not fail)', async () => {
    const tag = `WWW.${ZONE.toUpperCase()}, www.${ZONE}., Bücher.${ZONE},xn--bcher-kva.${ZONE}`;
    const secret = await createSecret([domainsTag(tag)], '{}');
    const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    ordersExpected++;
    const domains = [`www.${ZONE}`, `xn--bcher-kva.${ZONE}`];
    expectConsistentBundle(
      parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')),
      domains,
      'ecdsa-p256',
    );
    expect(noticesFor(stack, secret.name).sns.map((m) => m.message)).toEqual([
      expect.objectContaining({ status: 'success', domains }),
    ]);
    // The tags are the operator's: not rewritten to the normalised form.
    expect(stack.aws.secrets.tagsOf(secret.arn)['acme:domains']).toBe(tag);
  });

  it('replaces a damaged bundle of ours (certificate unparsable), keeping it as AWSPREVIOUS, and says so', async () => {
    const keyText = keyPem(generateKey('ecdsa-p256'));
    const garbageCert = `-----BEGIN CERTIFICATE-----\nZ2FyYmFnZSBpbiBwbGFjZSBvZiBhIGNlcnRpZmljYXRl\n-----END CERTIFICATE-----\n`;
    const damaged = JSON.stringify({
      certificate: garbageCert,
      private_key: keyText,
      chain: '',
      fullchain: garbageCert,
      expiry: '2030-01-01T00:00:00.000Z',
      issued_at: '2029-10-01T00:00:00.000Z',
      domains: [ZONE],
      key_type: 'ecdsa-p256',
    });
    const secret = await createSecret([domainsTag(ZONE)], damaged);
    const [damagedVersion] = versionsWith(stack.aws.secrets.stagesOf(secret.arn), 'AWSCURRENT');
    const logsFrom = lambda.logs.length;

    const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });

    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    ordersExpected++;
    expect(stack.aws.secrets.stagesOf(secret.arn)).toEqual({
      [damagedVersion as string]: ['AWSPREVIOUS'],
      [run.token]: ['AWSCURRENT'],
    });
    expect(stack.aws.secrets.valueAt(secret.arn, 'AWSPREVIOUS')).toBe(damaged);
    expectConsistentBundle(
      parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')),
      [ZONE],
      'ecdsa-p256',
    );
    const logs = lambda.logs.slice(logsFrom);
    const warning = logs.find((l) => l.includes('damaged certificate bundle'));
    expect(warning).toMatch(/"level":"warn"/);
    expect(warning).toContain('its certificate does not parse as X.509');
    expect(warning).toContain(damagedVersion);
    const keyBody = keyText.split('\n')[1] as string;
    for (const line of logs) {
      expect(line).not.toContain('PRIVATE KEY');
      expect(line).not.toContain(keyBody);
    }
  });
});

describe('the ways out that the messages name work', () => {
  it("another application's value: store {} and the next attempt of the same rotation issues the certificate", async () => {
    const p = await withCurrent(JSON.stringify({ username: 'app', password: PASSWORD }));
    const failed = await retryRotation({ client: stack.sm, lambda, secretId: p.secretArn as string, token: p.token });
    expect(failed.lastError).toMatchObject({ step: 'createSecret', name: 'CurrentValueError' });
    const command = /\(aws secretsmanager put-secret-value --secret-id (\S+) --secret-string '(\{\})'\)/.exec(
      failed.lastError?.message ?? '',
    );
    expect(command?.slice(1)).toEqual([p.secretName, '{}']);

    await stack.sm.send(new PutSecretValueCommand({ SecretId: command?.[1], SecretString: command?.[2] }));
    const run = await retryRotation({ client: stack.sm, lambda, secretId: p.secretArn as string, token: p.token });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    ordersExpected++;
    // The other application's value was never overwritten, only superseded by hand: still a version.
    const values = [...(stack.aws.secrets.get(p.secretArn as string)?.versions.values() ?? [])].map((v) => v.value);
    expect(values).toContain(JSON.stringify({ username: 'app', password: PASSWORD }));
    expectConsistentBundle(
      parseStoredBundle(stack.aws.secrets.valueAt(p.secretName, 'AWSCURRENT')),
      [ZONE],
      'ecdsa-p256',
    );
  });

  it('an impossible pending version: cancel, remove the AWSPENDING label, rotate again — exactly as the message says', async () => {
    const p = await tagged([domainsTag(ZONE)], { domains: [ZONE] });
    await stack.sm.send(
      new PutSecretValueCommand({
        SecretId: p.secretArn,
        ClientRequestToken: p.token,
        SecretString: '{"not":"a bundle"}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    const failed = await retryRotation({ client: stack.sm, lambda, secretId: p.secretArn as string, token: p.token });
    expect(failed.lastError?.message).toMatch(new RegExp(immutableWayOut(p)));

    // Without removing the label, RotateSecret refuses: the hint must include that step.
    await stack.sm.send(new CancelRotateSecretCommand({ SecretId: p.secretName }));
    await expect(startRotation(p.secretName)).rejects.toThrow(/previous rotation isn't complete/);
    await stack.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: p.secretName,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: p.token,
      }),
    );
    const run = await rotate({ client: stack.sm, lambda, secretId: p.secretName });
    expect(run.lastError).toBeUndefined();
    expect(run.succeeded).toBe(true);
    ordersExpected++;
    expectConsistentBundle(
      parseStoredBundle(stack.aws.secrets.valueAt(p.secretName, 'AWSCURRENT')),
      [ZONE],
      'ecdsa-p256',
    );
  });
});

describe('a current value that changes during the rotation', () => {
  it('another application writes AWSCURRENT before finishSecret: nothing is promoted over it; {} lets the retry promote', async () => {
    const p = await tagged([domainsTag(ZONE)], { domains: [ZONE] });
    const arn = p.secretArn as string;
    for (const Step of ['createSecret', 'setSecret', 'testSecret']) {
      expect(await lambda.invoke({ Step, SecretId: arn, ClientRequestToken: p.token })).toMatchObject({ ok: true });
    }
    ordersExpected++;
    // Another application stores its value as AWSCURRENT while the rotation is in flight.
    const foreign = JSON.stringify({ username: 'app', password: PASSWORD });
    await stack.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: foreign }));
    const finish = { Step: 'finishSecret', SecretId: arn, ClientRequestToken: p.token };

    const refused = await lambda.invoke(finish);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.message).toMatch(
      new RegExp(
        `^secret "${escape(p.secretName)}" finishSecret: the current value \\(AWSCURRENT, version [0-9a-f-]{36}\\) is not ` +
          'a certificate bundle: it is a JSON object with the field\\(s\\) username, password\\. Promoting the new ' +
          'certificate would replace it, so nothing was promoted\\.',
      ),
    );
    expect(stack.aws.secrets.valueAt(arn, 'AWSCURRENT')).toBe(foreign);
    expect(versionsWith(stack.aws.secrets.stagesOf(arn), 'AWSPENDING')).toEqual([p.token]);
    expect(noticesFor(stack, p.secretName).events.at(-1)?.detail).toMatchObject({
      status: 'failed',
      step: 'finishSecret',
      error_code: 'UnexpectedCurrentValue',
    });

    // The way out the message names.
    await stack.sm.send(new PutSecretValueCommand({ SecretId: p.secretName, SecretString: '{}' }));
    expect(await lambda.invoke(finish)).toMatchObject({ ok: true });
    expect(stack.aws.secrets.stagesOf(arn)[p.token]).toEqual(['AWSCURRENT']);
    expectConsistentBundle(parseStoredBundle(stack.aws.secrets.valueAt(arn, 'AWSCURRENT')), [ZONE], 'ecdsa-p256');
    // The other application's value is still a version of the secret, never overwritten.
    const values = [...(stack.aws.secrets.get(arn)?.versions.values() ?? [])].map((v) => v.value);
    expect(values).toContain(foreign);
  });
});

describe('across the whole file', () => {
  it('Pebble saw only the orders of the successful rotations, and no output carried key material', async () => {
    await new Promise((r) => setTimeout(r, 200)); // let Pebble's last log lines arrive
    expect(orders()).toBe(ordersExpected);
    expectNoKeyMaterial(stack, [lambda]);
    const everything = [
      ...stack.aws.sns.messages.map((m) => m.Message),
      ...stack.aws.events.entries.map((e) => e.Detail),
      ...lambda.logs,
    ];
    expect(everything.filter((t) => t.includes(PASSWORD))).toEqual([]);
  });
});
