/**
 * Certificates: one secret each, carrying the spec tags the rotation reads, renewed by native
 * rotation with the rotation function.
 *
 * - The setting: `certificates`, each one's name (its secret's), names, key, zones, lifetime and
 *   schedule, ACM targets and description. Names are checked with the rotation's own parser
 *   (rotation/certificate/spec.ts), so a stack that deploys is a stack whose tags the function
 *   accepts.
 * - The secret's tags: the spec tags, which must fit Secrets Manager's 50 beside the tags the
 *   rotation and the watch write; and aws:ignoreTags, which must leave those written tags alone.
 * - The secret's resource policy: what the rotation role and the watch's may do with it.
 * - CertificateSecret: the secret, its policy, and its rotation, started at once (the first
 *   `pulumi up` issues the first certificate).
 */
import { KEY_TYPES, type KeyType } from '../rotation/certificate/key-types.js';
import { normaliseDomain } from '../rotation/certificate/domains.js';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { MAX_NAMES, isProfileName } from '../rotation/certificate/rules.js';
import { DEFAULT_KEY_TYPE, acmArnTags, domainTags, parseSpec } from '../rotation/certificate/spec.js';
import {
  CA_FAILED_TAG,
  INFLIGHT_TAG,
  MAX_TAGS_PER_SECRET,
  RENEWAL_TAG_KEYS,
  RENEWAL_TAG_PREFIX,
  ROTATION_FAILURE_TAG,
  SPEC_TAGS,
  STATE_TAG_PREFIX,
  STATUS_TAG_KEYS,
  WRITTEN_TAG_PREFIXES,
  MAX_TAG_VALUE,
} from '../rotation/certificate/tags.js';
import { acmTargets, probeAcmArns } from './acm.js';
import { parseZoneId } from './hosted-zones.js';
import {
  SECRET_POLICY_LIMIT,
  allow,
  checkedJson,
  policyDocument,
  type ConditionBlock,
  type PolicyDocument,
} from './iam.js';
import { certificateSchedule, type LifetimeDefaults } from './schedules.js';
import {
  Problems,
  isPending,
  isRecord,
  parseJson,
  quote,
  stringList,
  type AcmTarget,
  type CertificateSettings,
} from './settings.js';

// The setting.

export const CERTIFICATE_FIELDS = [
  'name',
  'domains',
  'keyType',
  'profile',
  'hostedZoneIds',
  'cnameTargets',
  'schedule',
  'lifetime',
  'description',
  'acm',
  'cas',
] as const;

const CERT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CNAME_TARGET_RE = /^(\*\.)?([a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]+$/;

export interface CertificateContext extends LifetimeDefaults {
  secretNamePrefix: string;
  /** Whether acme-rotation:hostedZones is set at all (even if invalid: reported there). */
  stackZonesSet: boolean;
  userTagCount: number;
  /** The names of the stack's CAs (`cas`, or the one CA of `ca`), for a certificate's own `cas`. */
  caNames?: string[];
}

function certificate(
  p: Problems,
  index: number,
  value: unknown,
  ctx: CertificateContext,
): CertificateSettings | undefined {
  const at = `certificates[${index}]`;
  if (!isRecord(value)) {
    p.add(at, `expected an object like {name: web, domains: [example.com]}, got ${quote(value)}`);
    return undefined;
  }
  const before = p.list.length;
  for (const field of Object.keys(value)) {
    if (!(CERTIFICATE_FIELDS as readonly string[]).includes(field)) {
      p.add(`${at}.${field}`, `is not a certificate field (known: ${CERTIFICATE_FIELDS.join(', ')})`);
    }
  }

  // name → secret name
  const name = typeof value.name === 'string' ? value.name.trim() : '';
  if (!CERT_NAME_RE.test(name)) {
    p.add(
      `${at}.name`,
      `${quote(value.name)} must be 1-100 letters, digits, ".", "_" or "-" (it names the secret and its resources)`,
    );
  }
  const secretName = `${ctx.secretNamePrefix}${name}`;
  if (/-[A-Za-z0-9]{6}$/.test(secretName)) {
    p.add(
      `${at}.name`,
      `the secret name ${quote(secretName)} ends with a hyphen and six characters, which Secrets Manager confuses with its ARN suffix`,
    );
  }
  if (secretName.length > 512)
    p.add(`${at}.name`, `the secret name ${quote(secretName)} is longer than 512 characters`);

  // domains
  const domains: string[] = [];
  if (value.domains === undefined) {
    p.add(`${at}.domains`, 'is required: the DNS names of the certificate, e.g. [example.com, "*.example.com"]');
  } else {
    const list = stringList(p, `${at}.domains`, value.domains, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      try {
        const n = normaliseDomain(item);
        if (!domains.includes(n)) domains.push(n);
      } catch (err) {
        p.add(`${at}.domains[${i}]`, (err as Error).message);
      }
    });
    if (domains.length > MAX_NAMES) {
      p.add(`${at}.domains`, `lists ${domains.length} names; a certificate holds at most ${MAX_NAMES}`);
    }
  }

  // key type, profile
  let keyType: KeyType = DEFAULT_KEY_TYPE;
  if (value.keyType !== undefined) {
    const match = KEY_TYPES.find((k) => k === String(value.keyType).trim().toLowerCase());
    if (match) keyType = match;
    else p.add(`${at}.keyType`, `${quote(value.keyType)} is not one of ${KEY_TYPES.join(', ')}`);
  }
  let profile: string | undefined;
  if (value.profile !== undefined) {
    if (typeof value.profile === 'string' && isProfileName(value.profile.trim())) profile = value.profile.trim();
    else p.add(`${at}.profile`, `${quote(value.profile)} is not a profile name (1-64 letters, digits, ".", "_", "-")`);
  }

  // zones
  let hostedZoneIds: pulumi.Input<string>[] | undefined;
  if (value.hostedZoneIds !== undefined) {
    // Outputs (another resource's zone id) are kept as given; the plain ids are checked.
    const given: unknown = value.hostedZoneIds;
    const pending = (Array.isArray(given) ? given.filter(isPending) : []) as pulumi.Input<string>[];
    const list: Array<[number, string]> = [];
    if (pending.length > 0 && Array.isArray(given)) {
      given.forEach((item: unknown, i) => {
        if (typeof item === 'string') list.push([i, item.trim()]);
        else if (!isPending(item)) p.add(`${at}.hostedZoneIds[${i}]`, `expected a zone id, got ${quote(item)}`);
      });
    } else {
      (stringList(p, `${at}.hostedZoneIds`, given, { nonEmpty: true }) ?? []).forEach((item, i) =>
        list.push([i, item]),
      );
    }
    const ids: string[] = [];
    list.forEach(([i, item]) => {
      const id = parseZoneId(item);
      if (!id)
        p.add(`${at}.hostedZoneIds[${i}]`, `${quote(item)} is not a hosted zone id (like Z0123456789ABCDEFGHIJ)`);
      else if (!ids.includes(id)) ids.push(id);
    });
    hostedZoneIds = [...ids, ...pending];
    // An id not known yet counts as long as the longest a zone id gets.
    if ([...ids, ...pending.map(() => PROBE_ZONE_ID)].join(',').length > MAX_TAG_VALUE) {
      p.add(`${at}.hostedZoneIds`, `is longer than a tag value's ${MAX_TAG_VALUE} characters`);
    }
  } else if (!ctx.stackZonesSet) {
    p.add(
      `${at}.hostedZoneIds`,
      `is required when ${p.key('hostedZones')} is empty: the function may only write to zones named in the stack`,
    );
  }
  const cnameTargets: string[] = [];
  if (value.cnameTargets !== undefined) {
    const list = stringList(p, `${at}.cnameTargets`, value.cnameTargets, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const t = item.toLowerCase().replace(/\.$/, '');
      if (!CNAME_TARGET_RE.test(t)) {
        p.add(`${at}.cnameTargets[${i}]`, `${quote(item)} is not a record name or *.pattern like *.acme.example.net`);
      } else if (!cnameTargets.includes(t)) cnameTargets.push(t);
    });
    if (hostedZoneIds === undefined) {
      p.add(`${at}.cnameTargets`, 'needs hostedZoneIds listing the zones of the names AND of the CNAME targets');
    }
  }

  const { lifetime, schedule } = certificateSchedule(p, at, value, ctx, profile);

  const acm = value.acm === undefined ? [] : acmTargets(p, at, value.acm);

  // The CAs this certificate may come from (tag acme:ca), by the names of the stack's `cas`.
  let cas: string[] | undefined;
  if (value.cas !== undefined) {
    const list = stringList(p, `${at}.cas`, value.cas, { nonEmpty: true }) ?? [];
    const known = ctx.caNames ?? [];
    list.forEach((item, i) => {
      if (!known.some((k) => k.toLowerCase() === item.toLowerCase())) {
        p.add(`${at}.cas[${i}]`, `${quote(item)} is not one of the stack's CAs (${known.map(quote).join(', ')})`);
      }
    });
    cas = list;
  }

  let description = `TLS certificate for ${domains.slice(0, 3).join(', ')}${domains.length > 3 ? ', …' : ''} (acme-rotation)`;
  if (value.description !== undefined) {
    if (typeof value.description !== 'string' || value.description.length > 2048) {
      p.add(`${at}.description`, 'must be a string of at most 2048 characters');
    } else description = value.description;
  }

  // The tags, checked by the rotation's own parser, and the 50-tag budget.
  const specTags =
    domains.length > 0 && p.list.length === before
      ? secretSpecTags(p, at, {
          secretName,
          domains,
          keyType,
          profile,
          hostedZoneIds,
          acm,
          ...(cas ? { cas } : {}),
          userTagCount: ctx.userTagCount,
        })
      : {};

  if (p.list.length > before || !schedule) return undefined;
  return {
    name,
    secretName,
    domains,
    keyType,
    cnameTargets,
    schedule,
    description,
    acm,
    specTags,
    ...(profile ? { profile } : {}),
    ...(hostedZoneIds ? { hostedZoneIds } : {}),
    ...(lifetime ? { lifetime } : {}),
  };
}

/** The `certificates` list: each certificate checked, names unique (case-insensitively). */
export function certificateList(p: Problems, given: unknown, ctx: CertificateContext): CertificateSettings[] {
  const certificates: CertificateSettings[] = [];
  if (given === undefined) {
    p.add('certificates', 'is required: a list like [{name: web, domains: [example.com, "*.example.com"]}]');
    return certificates;
  }
  const value = typeof given === 'string' ? parseJson(given) : given;
  if (!Array.isArray(value) || value.length === 0) {
    p.add('certificates', `expected a non-empty list of certificates, got ${quote(value)}`);
    return certificates;
  }
  const seen = new Map<string, number>();
  value.forEach((item, i) => {
    const cert = certificate(p, i, item, ctx);
    if (!cert) return;
    const key = cert.name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      p.add(`certificates[${i}].name`, `${quote(cert.name)} is already used by certificates[${first}]`);
      return;
    }
    seen.set(key, i);
    certificates.push(cert);
  });
  return certificates;
}

// The secret's tags.

/** In-flight tags hold five 43-character TXT values (one per name) each, plus one tag for the token. */
const INFLIGHT_VALUES_PER_TAG = 5;

/** A zone id for the tag checks when the real one is known only at deploy time. */
export const PROBE_ZONE_ID = 'Z000000000000000000000';

/** What a certificate secret's tags are made of. */
export interface SecretTagParts {
  secretName: string;
  domains: string[];
  keyType: KeyType;
  profile?: string | undefined;
  /** Undefined = matched against the stack's hostedZones; Outputs count as the longest id. */
  hostedZoneIds?: pulumi.Input<string>[] | undefined;
  acm: AcmTarget[];
  /** The CAs the certificate may come from (`acme:ca`), by name; undefined = every CA of the stack. */
  cas?: string[];
  /** How many stack tags the secret carries too. */
  userTagCount: number;
}

/**
 * A certificate's spec tags (`acme:*` but the zone ids and ACM ARNs, known at deploy time),
 * checked by the rotation's own parser with those as long as they will be, and the secret's
 * tag budget.
 */
export function secretSpecTags(p: Problems, at: string, parts: SecretTagParts): Record<string, string> {
  const { secretName, domains, keyType, profile, hostedZoneIds, acm } = parts;
  const specTags: Record<string, string> = {};
  for (const t of domainTags(domains)) specTags[t.Key] = t.Value;
  specTags[SPEC_TAGS.keyType] = keyType;
  if (profile) specTags[SPEC_TAGS.profile] = profile;
  if (parts.cas?.length) specTags[SPEC_TAGS.ca] = parts.cas.join(',');
  const arnTags = acmArnTags(probeAcmArns(acm));
  const probe: Record<string, string> = {
    ...specTags,
    [SPEC_TAGS.hostedZoneIds]: (hostedZoneIds ?? [PROBE_ZONE_ID])
      .map((id) => (typeof id === 'string' ? id : PROBE_ZONE_ID))
      .join(','),
  };
  for (const t of arnTags) probe[t.Key] = t.Value;
  try {
    parseSpec(
      secretName,
      Object.entries(probe).map(([Key, Value]) => ({ Key, Value })),
    );
  } catch (err) {
    p.add(at, `the rotation would reject these tags: ${(err as Error).message}`);
  }
  // The order's tags, plus the last failure (acme-rotation:inflight-failure) and the CA a
  // rotation fell away from (acme-rotation:inflight-ca-failed): both may sit beside them.
  const inflight = 1 + Math.ceil(domains.length / INFLIGHT_VALUES_PER_TAG) + 2;
  const total =
    Object.keys(probe).length + parts.userTagCount + STATUS_TAG_KEYS.length + RENEWAL_TAG_KEYS.length + inflight;
  if (total > MAX_TAGS_PER_SECRET) {
    p.add(
      at,
      `needs up to ${total} tags on its secret (spec, zone ids, ` +
        (arnTags.length > 0 ? `${arnTags.length} ACM ARN tag${arnTags.length === 1 ? '' : 's'}, ` : '') +
        `${parts.userTagCount} stack tags, ` +
        `${STATUS_TAG_KEYS.length} status tags, ${RENEWAL_TAG_KEYS.length} renewal tags, ` +
        `${inflight} in-flight tags), more than Secrets Manager's ${MAX_TAGS_PER_SECRET}; ` +
        `use fewer names${arnTags.length > 0 ? ', ACM certificates' : ''} or stack tags`,
    );
  }
  return specTags;
}

/** The tag-key prefixes aws:ignoreTags must cover: the rotation's in-flight tags and the watch's. */
export const IGNORED_TAG_PREFIXES = WRITTEN_TAG_PREFIXES;
/** The one prefix both share, which also does. */
export const IGNORED_TAG_COMMON_PREFIX = STATE_TAG_PREFIX;

/**
 * Pulumi's default provider must not manage the tags the rotation and the watch write. Each of
 * their prefixes must be covered by a configured prefix that is no broader than
 * `acme-rotation:` (a broader one, like `acme`, would hide the `acme:*` spec tags from Pulumi).
 */
export function checkIgnoreTags(p: Problems, raw: string | undefined): void {
  const wanted =
    'aws:ignoreTags must make the AWS provider ignore the tags the rotation and the renewal watch write, or every ' +
    `\`pulumi up\` after a refresh would delete them; set it in the stack config:\n      aws:ignoreTags:\n        keys: [${STATUS_TAG_KEYS.join(', ')}]\n` +
    `        keyPrefixes: [${IGNORED_TAG_PREFIXES.map((x) => `"${x}"`).join(', ')}]` +
    ` (or the single prefix "${IGNORED_TAG_COMMON_PREFIX}")`;
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!isRecord(value)) {
    p.addRaw(`aws:ignoreTags: ${raw === undefined ? 'is not set' : `${quote(raw)} is not an object`}; ${wanted}`);
    return;
  }
  const keys = Array.isArray(value.keys) ? value.keys : [];
  const prefixes = (Array.isArray(value.keyPrefixes) ? value.keyPrefixes : []).filter(
    (pre): pre is string => typeof pre === 'string' && pre.startsWith(IGNORED_TAG_COMMON_PREFIX),
  );
  const missing = STATUS_TAG_KEYS.filter((k) => !keys.includes(k));
  const uncovered = IGNORED_TAG_PREFIXES.filter(
    (wantedPrefix) => !prefixes.some((pre) => wantedPrefix.startsWith(pre)),
  );
  if (missing.length > 0 || uncovered.length > 0) {
    const what = [
      ...(missing.length > 0 ? [`keys lacks ${missing.join(', ')}`] : []),
      ...(uncovered.length > 0 ? [`keyPrefixes lacks ${uncovered.join(', ')}`] : []),
    ].join(' and ');
    p.addRaw(`aws:ignoreTags: ${what}; ${wanted}`);
  }
}

/** The aws:ignoreTags check alone (a component whose default AWS provider the program configures). */
export function ignoreTagsProblems(awsIgnoreTags: string | undefined): string[] {
  const p = new Problems('');
  checkIgnoreTags(p, awsIgnoreTags);
  return p.list;
}

// The secret's resource policy.

/** The Secrets Manager actions the rotation needs on a certificate secret. */
export const CERTIFICATE_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
export const CERTIFICATE_TAG_ACTIONS = ['secretsmanager:TagResource', 'secretsmanager:UntagResource'];
/**
 * What the renewal watch does with a certificate secret: read it, date its AWSPENDING version
 * (a rotation in flight or a failed one), and start its rotation.
 */
export const WATCH_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:ListSecretVersionIds',
  'secretsmanager:RotateSecret',
];
/** The watch clears a failed rotation's AWSPENDING label, and only that label (the policy's condition below). */
export const WATCH_CLEAR_PENDING_ACTIONS = ['secretsmanager:UpdateSecretVersionStage'];

/**
 * Resource policy of one certificate secret: the rotation role may read and write its versions
 * and write only the status, in-flight, last-failure and failed-CA tags (never the `acme:*` spec tags); the renewal watch
 * may read it, start its rotation and write only its own `acme-rotation:renewal-*` tags.
 */
export function certificateSecretPolicy(args: {
  secretArn: string;
  rotationRoleArn: string;
  watchRoleArn: string;
}): PolicyDocument {
  const rotation = { principal: { AWS: args.rotationRoleArn } };
  const watch = { principal: { AWS: args.watchRoleArn } };
  /** Only these tag keys, and at least one (ForAllValues alone would pass an empty list). */
  const onlyTags = (keys: string[]): ConditionBlock => ({
    'ForAllValues:StringLike': { 'aws:TagKeys': keys },
    Null: { 'aws:TagKeys': 'false' },
  });
  return policyDocument([
    allow('RotationReadsAndWritesVersions', CERTIFICATE_SECRET_ACTIONS, args.secretArn, rotation),
    allow('RotationWritesStatusTagsOnly', CERTIFICATE_TAG_ACTIONS, args.secretArn, {
      ...rotation,
      condition: onlyTags([...STATUS_TAG_KEYS, INFLIGHT_TAG, `${INFLIGHT_TAG}:*`, ROTATION_FAILURE_TAG, CA_FAILED_TAG]),
    }),
    allow('WatchReadsAndStartsRotation', WATCH_SECRET_ACTIONS, args.secretArn, watch),
    // A rotation whose AWSPENDING outlived the function's timeout failed; the watch removes
    // that label so the next renewal can start (rotation/watch/run.ts). The condition keeps
    // it from moving AWSCURRENT or AWSPREVIOUS: were the key not evaluated for this action,
    // the call is refused and the watch reports the secret at risk with the command to run.
    allow('WatchClearsFailedRotation', WATCH_CLEAR_PENDING_ACTIONS, args.secretArn, {
      ...watch,
      condition: { StringEquals: { 'secretsmanager:VersionStage': 'AWSPENDING' } },
    }),
    // The watch sets its state tags and removes the ones that no longer apply (a cleared
    // error, a window the CA withdrew); never the spec, status or in-flight tags.
    allow('WatchWritesRenewalTagsOnly', CERTIFICATE_TAG_ACTIONS, args.secretArn, {
      ...watch,
      condition: onlyTags([`${RENEWAL_TAG_PREFIX}-*`]),
    }),
  ]);
}

export function certificateSecretPolicyJson(args: Parameters<typeof certificateSecretPolicy>[0]): string {
  return checkedJson(certificateSecretPolicy(args), SECRET_POLICY_LIMIT, 'a certificate secret policy');
}

// The secret.

export const CERTIFICATE_SECRET_TYPE = 'acme-rotation:index:CertificateSecret';

export interface CertificateOutputs {
  secretArn: pulumi.Output<string>;
  secretName: pulumi.Output<string>;
  hostedZoneIds: pulumi.Output<string[]>;
  schedule: string;
  /** The ACM certificates it is deployed to, region → ARN (empty when none). */
  acmArns: pulumi.Output<Record<string, string>>;
}

export interface CertificateSecretArgs {
  certificate: CertificateSettings;
  /** The certificate's hosted zones, resolved at deploy time (its `acme:hosted-zone-ids` tag). */
  hostedZoneIds: pulumi.Output<string[]>;
  /** The ACM certificates the rotation re-imports into (their ARNs go into the spec tags). */
  acm?: { arns: pulumi.Output<string[]>; arnsByRegion: pulumi.Output<Record<string, string>> };
  /** The stack's tags; the spec tags are added to them. */
  stackTags: Record<string, string>;
  kmsKeyArn?: pulumi.Input<string>;
  recoveryWindowDays: number;
  rotationRoleArn: pulumi.Input<string>;
  watchRoleArn: pulumi.Input<string>;
  rotationFunctionArn: pulumi.Input<string>;
  /** What the first rotation needs in place besides this secret's policy (function, grants). */
  rotateAfter: pulumi.Resource[];
}

function rotationRules(cert: CertificateSettings): aws.types.input.secretsmanager.SecretRotationRotationRules {
  return cert.schedule.automaticallyAfterDays !== undefined
    ? { automaticallyAfterDays: cert.schedule.automaticallyAfterDays }
    : { scheduleExpression: cert.schedule.scheduleExpression };
}

export class CertificateSecret extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly secretPolicy: aws.secretsmanager.SecretPolicy;
  readonly rotation: aws.secretsmanager.SecretRotation;
  readonly outputs: CertificateOutputs;

  /** Named like the secret's resource: the policy and rotation are <name>-policy and <name>-rotation. */
  constructor(name: string, args: CertificateSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super(CERTIFICATE_SECRET_TYPE, name, {}, opts);
    const cert = args.certificate;
    const child = { parent: this };

    const acmArns = args.acm?.arns ?? pulumi.output<string[]>([]);
    const secretTags = pulumi.all([args.hostedZoneIds, acmArns]).apply(([ids, arns]) => {
      const all: Record<string, string> = {
        ...args.stackTags,
        ...cert.specTags,
        [SPEC_TAGS.hostedZoneIds]: ids.join(','),
      };
      for (const t of acmArnTags(arns)) all[t.Key] = t.Value;
      // The rotation's own parser: a tag set it would reject never reaches AWS.
      parseSpec(
        cert.secretName,
        Object.entries(all).map(([Key, Value]) => ({ Key, Value })),
      );
      return all;
    });
    this.secret = new aws.secretsmanager.Secret(
      name,
      {
        name: cert.secretName,
        description: cert.description,
        ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
        recoveryWindowInDays: args.recoveryWindowDays,
        tags: secretTags,
      },
      child,
    );
    this.secretPolicy = new aws.secretsmanager.SecretPolicy(
      `${name}-policy`,
      {
        secretArn: this.secret.arn,
        policy: pulumi
          .all([this.secret.arn, args.rotationRoleArn, args.watchRoleArn])
          .apply(([secretArn, rotationRoleArn, watchRoleArn]) =>
            certificateSecretPolicyJson({ secretArn, rotationRoleArn, watchRoleArn }),
          ),
        blockPublicPolicy: true,
      },
      child,
    );
    this.rotation = new aws.secretsmanager.SecretRotation(
      `${name}-rotation`,
      {
        secretId: this.secret.id,
        rotationLambdaArn: args.rotationFunctionArn,
        rotationRules: rotationRules(cert),
        // The first certificate is issued now, by this `pulumi up` (Secrets Manager starts the
        // rotation asynchronously; the success or failure notice reports how it went).
        rotateImmediately: true,
      },
      { parent: this, dependsOn: [this.secretPolicy, ...args.rotateAfter] },
    );

    this.outputs = {
      secretArn: this.secret.arn,
      secretName: this.secret.name,
      hostedZoneIds: args.hostedZoneIds,
      schedule: cert.schedule.reason,
      acmArns: args.acm?.arnsByRegion ?? pulumi.output<Record<string, string>>({}),
    };
    this.registerOutputs({ secretArn: this.secret.arn, secretName: this.secret.name });
  }
}
