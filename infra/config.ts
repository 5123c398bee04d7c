/**
 * Stack configuration: read, validated and normalised BEFORE any resource is declared (pure;
 * no Pulumi). Every problem is reported at once, each message starting with the key it is
 * about (`acme-rotation:certificates[1].domains[0]: …`), so one `pulumi preview` shows them all.
 *
 * Certificate names are checked with the rotation's own parser (rotation/spec.ts), so a stack
 * that deploys is a stack whose tags the function accepts.
 */
import { X509Certificate } from 'node:crypto';

import type * as pulumi from '@pulumi/pulumi';

import { parseAcmArn } from '../rotation/acm/arns.js';
import { splitPemCertificates } from '../rotation/bundle.js';
import { parseResolvers, parseRoute53Roles } from '../rotation/config.js';
import {
  CLEANUP_RESERVE_SECONDS,
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
  FUNCTION_TIMEOUT_SECONDS,
  MAX_NAMES,
  MAX_TAG_VALUE_LENGTH,
  MAX_WAIT_SECONDS,
  MIN_WAIT_SECONDS,
  SPEC_TAG_PREFIX,
  directoryUrlProblem,
  isEmailAddress,
  isProfileName,
  wholeNumberIn,
} from '../rotation/rules.js';
import {
  DEFAULT_KEY_TYPE,
  KEY_TYPES,
  TAGS,
  acmArnTags,
  domainTags,
  normaliseDomain,
  parseSpec,
  type KeyType,
} from '../rotation/spec.js';
import { INFLIGHT_TAG_PREFIX, RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX, STATUS_TAG_KEYS } from './policies.js';
import {
  LETS_ENCRYPT_DIRECTORIES,
  ScheduleError,
  deriveSchedule,
  formatHours,
  letsEncryptLifetime,
  parseDuration,
  parseScheduleOverride,
  parseWatchSchedule,
  type Lifetime,
  type Schedule,
  type WatchSchedule,
} from './schedule.js';
import type { AcmeRotationArgs } from './args.js';
import { parseZoneId, type ZoneRef } from './zones.js';

// The function's timeout and its clean-up reserve (README: a slow rotation needs 300 + 180 + 20 s).
export { CLEANUP_RESERVE_SECONDS, FUNCTION_TIMEOUT_SECONDS };
/** Secrets Manager's limit of tags per secret. */
export const MAX_TAGS_PER_SECRET = 50;
/** In-flight tags hold five 43-character TXT values (one per name) each, plus one tag for the token. */
const INFLIGHT_VALUES_PER_TAG = 5;

export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every key this program reads in its namespace (anything else is reported as a typo). */
export const KNOWN_KEYS = [
  'certificates',
  'hostedZones',
  'ca',
  'certificateLifetime',
  'email',
  'account',
  'eabKid',
  'eabHmacKey',
  'notificationEmail',
  'notificationTopicArn',
  'eventBus',
  'logRetentionDays',
  'logLevel',
  'kmsKeyArn',
  'secretNamePrefix',
  'secretRecoveryWindowDays',
  'namePrefix',
  'memoryMb',
  'dnsResolvers',
  'dnsPropagationTimeoutSeconds',
  'acmeTimeoutSeconds',
  'preferredChain',
  'maxCertificateLifetimeDays',
  'caRootsPem',
  'watchSchedule',
  'watchMaxConcurrentRotations',
  'tags',
] as const;

/** The renewal watch runs hourly unless the stack says otherwise. */
export const DEFAULT_WATCH_SCHEDULE = 'rate(1 hour)';
/** WATCH_MAX_CONCURRENT_ROTATIONS: a whole number in this range (the watch's own bounds). */
export const WATCH_MAX_CONCURRENT_ROTATIONS_RANGE = [1, 500] as const;

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
] as const;

/** The fields of a certificate's `acm` setting. */
export const ACM_FIELDS = ['regions', 'arns'] as const;

/** An ACM certificate the rotation re-imports every new certificate into. */
export interface AcmTarget {
  region: string;
  /** An existing (imported) certificate's ARN; undefined = one the program creates in `region`. */
  arn?: string;
}

export interface CertificateSettings {
  /** Logical name: resource names and the secret name's last part. Never rename (new secret). */
  name: string;
  secretName: string;
  /** Normalised (lower case, punycode), de-duplicated. */
  domains: string[];
  keyType: KeyType;
  profile?: string;
  /**
   * Explicit zone ids; undefined = matched against the stack's hostedZones. Outputs (a zone's
   * id from the consumer's program) stay as given, resolved at deploy time.
   */
  hostedZoneIds?: pulumi.Input<string>[];
  /** Record-name patterns `_acme-challenge` CNAMEs of this certificate point to. */
  cnameTargets: string[];
  lifetime?: Lifetime;
  schedule: Schedule;
  description: string;
  /**
   * ACM certificates to deploy to, at most one per region (the stack exports them by region):
   * new ones the program creates with a placeholder, and existing ones given by ARN.
   */
  acm: AcmTarget[];
  /**
   * `acme:*` tags except `acme:hosted-zone-ids` and `acme:acm-certificate-arns` (resolved at
   * deploy time: the zones are looked up, new ACM certificates get their ARNs when created).
   */
  specTags: Record<string, string>;
}

export interface Settings {
  /** The Pulumi project (the stack's config namespace): descriptions and the metrics' Stack dimension. */
  namespace: string;
  stack: string;
  /** What every problem's key starts with: `<namespace>:` for stack config, '' for component args. */
  keyPrefix: string;
  /** Prefix of named resources (function, log groups, alarms, rules). */
  namePrefix: string;
  directoryUrl: string;
  email?: string;
  persistentAccount: boolean;
  /** Name of the ACME account secret (persistent accounts): `<namePrefix>/acme-account`. */
  accountSecretName: string;
  eabKid?: string;
  notificationEmail?: string;
  /** An existing topic for the notices; undefined = the component creates one. */
  notificationTopicArn?: pulumi.Input<string>;
  /** As configured: a bus name or ARN (or an Output, taken as given). */
  eventBus?: pulumi.Input<string>;
  logRetentionDays: number;
  logLevel: LogLevel;
  kmsKeyArn?: pulumi.Input<string>;
  secretNamePrefix: string;
  recoveryWindowDays: number;
  memoryMb: number;
  dnsResolvers?: string;
  dnsPropagationTimeoutSeconds?: number;
  acmeTimeoutSeconds?: number;
  /** ACME_PREFERRED_CHAIN: the root name of the chain to keep when the CA offers several. */
  preferredChain?: string;
  /** MAX_CERTIFICATE_LIFETIME_DAYS: the operator's cap; none when unset. */
  maxCertificateLifetimeDays?: number;
  /** PEM of a private CA's root(s), shipped with the function and trusted through NODE_EXTRA_CA_CERTS. */
  caRootsPem?: string;
  /** When the renewal watch runs (an EventBridge schedule expression) and its longest gap. */
  watchSchedule: WatchSchedule;
  /** WATCH_MAX_CONCURRENT_ROTATIONS; unset = the watch's own default. */
  watchMaxConcurrentRotations?: number;
  hostedZones: ZoneRef[];
  /** ROUTE53_EXTERNAL_ID: the one external id sent with every AssumeRole of a zone's role. */
  route53ExternalId?: string;
  tags: Record<string, string>;
  certificates: CertificateSettings[];
}

/** Where the loader reads from: raw string values, as Pulumi stores them (objects as JSON). */
export interface ConfigSource {
  /** The project's config namespace, e.g. `acme-rotation`. */
  namespace: string;
  stack: string;
  /** A key of the namespace (without the `namespace:` prefix). */
  get(key: string): string | undefined;
  /** Every key set in the namespace (without the prefix), for the typo check. */
  keys: readonly string[];
  /** `aws:ignoreTags` of the default AWS provider, raw. */
  awsIgnoreTags: string | undefined;
}

export class StackConfigError extends Error {
  override name = 'StackConfigError';
  /** `what`: what was invalid, e.g. `stack configuration` or `AcmeRotation arguments of "certs"`. */
  constructor(
    readonly problems: string[],
    what = 'stack configuration',
  ) {
    super(
      `invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

/**
 * A value known only at deploy time: a Pulumi Output or a promise. Told apart without importing
 * Pulumi (this module stays pure): an Output carries `__pulumiOutput`.
 */
export function isPending(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  return (
    (v as { __pulumiOutput?: unknown }).__pulumiOutput === true || typeof (v as { then?: unknown }).then === 'function'
  );
}

const CERT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SECRET_NAME_CHARS_RE = /^[A-Za-z0-9/_+=.@-]*$/;
const NAME_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
const BUS_NAME_RE = /^[A-Za-z0-9._\-/]{1,256}$/;
const BUS_ARN_RE = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256}$/;
const SNS_TOPIC_ARN_RE = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const KMS_KEY_ARN_RE = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;
const CNAME_TARGET_RE = /^(\*\.)?([a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]+$/;
const TAG_KEY_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,127}$/u;
/** An AWS region name: us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2. */
export const AWS_REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The partition of a region (for the length of ARNs not known before deploy time). */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

const quote = (v: unknown): string => JSON.stringify(v);

class Problems {
  readonly list: string[] = [];
  /** `prefix`: `<namespace>:` (stack config) or '' (component args). */
  constructor(private readonly prefix: string) {}
  key(key: string): string {
    return `${this.prefix}${key}`;
  }
  add(key: string, message: string): void {
    this.list.push(`${this.key(key)}: ${message}`);
  }
  addRaw(message: string): void {
    this.list.push(message);
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Pulumi stores YAML objects and lists as JSON; a plain string here means a scalar was set.
    return raw;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(p: Problems, key: string, value: unknown, opts: { nonEmpty?: boolean } = {}): string[] | undefined {
  if (typeof value === 'string') value = value.split(',').map((s) => s.trim());
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    p.add(key, `expected a list of strings, got ${quote(value)}`);
    return undefined;
  }
  const list = (value as string[]).map((s) => s.trim()).filter((s) => s !== '');
  if (opts.nonEmpty && list.length === 0) {
    p.add(key, 'must not be empty');
    return undefined;
  }
  return list;
}

function integer(p: Problems, key: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = wholeNumberIn(raw, min, max);
  if (n === undefined) p.add(key, `${quote(raw)} is not a whole number between ${min} and ${max}`);
  return n;
}

/**
 * A private CA's root certificates (PEM): every block must be a CA certificate, so a leaf or a key
 * pasted by mistake is caught at `pulumi preview`, not in the first rotation's testSecret.
 */
function caRoots(p: Problems, raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/PRIVATE KEY-----/.test(raw)) {
    p.add('caRootsPem', "holds a private key: give only the CA's root certificate(s)");
    return undefined;
  }
  const blocks = splitPemCertificates(raw);
  if (blocks.length === 0) {
    p.add('caRootsPem', 'holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)');
    return undefined;
  }
  for (const [i, pem] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      p.add('caRootsPem', `certificate ${i + 1} does not parse as X.509`);
      return undefined;
    }
    if (!cert.ca) {
      const name = cert.subject ? cert.subject.replace(/\n/g, ', ') : (cert.subjectAltName ?? 'no name');
      p.add('caRootsPem', `certificate ${i + 1} (${name}) is not a CA certificate`);
    }
  }
  return blocks.join('');
}

function optionalString(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  return v ? v : undefined;
}

/** `production` / `staging` / an https directory URL; undefined when invalid (reported). */
function directoryUrl(p: Problems, raw: string | undefined): string | undefined {
  const value = optionalString(raw) ?? 'production';
  if (value === 'production' || value === 'staging') return LETS_ENCRYPT_DIRECTORIES[value];
  switch (directoryUrlProblem(value)) {
    case 'not-a-url':
      p.add(
        'ca',
        `${quote(value)} is neither production, staging nor a URL (an ACME directory like https://acme.example/directory)`,
      );
      return undefined;
    case 'not-https':
      p.add('ca', `${quote(value)} must use https (RFC 8555 requires TLS)`);
      return undefined;
    default:
      return value;
  }
}

/** The tag-key prefixes aws:ignoreTags must cover: the rotation's in-flight tags and the watch's. */
export const IGNORED_TAG_PREFIXES = [INFLIGHT_TAG_PREFIX, RENEWAL_TAG_PREFIX] as const;
/** The one prefix both share, which also does. */
export const IGNORED_TAG_COMMON_PREFIX = 'acme-rotation:';

/**
 * Pulumi's default provider must not manage the tags the rotation and the watch write. Each of
 * their prefixes must be covered by a configured prefix that is no broader than
 * `acme-rotation:` (a broader one, like `acme`, would hide the `acme:*` spec tags from Pulumi).
 */
function checkIgnoreTags(p: Problems, raw: string | undefined): void {
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

function stackTags(p: Problems, given: unknown): Record<string, string> {
  if (given === undefined) return {};
  const value = typeof given === 'string' ? parseJson(given) : given;
  if (!isRecord(value)) {
    p.add('tags', `expected a map of tag keys to values, got ${quote(value)}`);
    return {};
  }
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const lower = k.toLowerCase();
    if (typeof v !== 'string' || v.length > MAX_TAG_VALUE_LENGTH) {
      p.add(`tags.${k}`, `the value must be a string of at most ${MAX_TAG_VALUE_LENGTH} characters`);
    } else if (!TAG_KEY_RE.test(k) || lower.startsWith('aws:')) {
      p.add(`tags.${k}`, 'is not a valid tag key (1-127 letters, digits, spaces and _.:/=+-@; not aws:…)');
    } else if (
      lower.startsWith(SPEC_TAG_PREFIX) ||
      lower.startsWith(INFLIGHT_TAG_PREFIX) ||
      lower.startsWith(RENEWAL_TAG_PREFIX) ||
      (STATUS_TAG_KEYS as readonly string[]).includes(k)
    ) {
      p.add(
        `tags.${k}`,
        'is reserved: acme:* tags are the certificate spec; the status and in-flight tags belong to the rotation, ' +
          'the acme-rotation:renewal-* tags to the renewal watch',
      );
    } else {
      tags[k] = v;
    }
  }
  return tags;
}

/** The fields of a `hostedZones` entry for a zone in another account. */
export const ROLE_ZONE_FIELDS = ['id', 'roleArn', 'externalId', 'name'] as const;
/** IAM's external id: 2-1224 characters of letters, digits and +=,.@:/- (and _). */
const EXTERNAL_ID_RE = /^[\w+=,.@:/-]{2,1224}$/;

/**
 * `hostedZones`: names and ids (zones of this account), and `{id, roleArn, externalId?, name?}`
 * for zones of other accounts. One external id serves every role (the function sends
 * ROUTE53_EXTERNAL_ID with each AssumeRole), so entries naming different ones are an error.
 */
function hostedZones(p: Problems, given: unknown): { refs: ZoneRef[]; externalId?: string } {
  if (given === undefined) return { refs: [] };
  let value = typeof given === 'string' ? parseJson(given) : given;
  if (typeof value === 'string') value = value.split(',').map((x) => x.trim());
  if (!Array.isArray(value)) {
    p.add('hostedZones', `expected a list of zone names, ids or {id, roleArn} entries, got ${quote(value)}`);
    return { refs: [] };
  }
  const refs: ZoneRef[] = [];
  const seen = new Map<string, number>();
  let externalId: { value: string; at: number } | undefined;
  value.forEach((item: unknown, i) => {
    const at = `hostedZones[${i}]`;
    if (isPending(item)) {
      // Another resource's output (a zone's id): resolved and looked up at deploy time.
      refs.push({ kind: 'output', id: item as pulumi.Input<string> });
      return;
    }
    if (isRecord(item)) {
      const before = p.list.length;
      for (const field of Object.keys(item)) {
        if (!(ROLE_ZONE_FIELDS as readonly string[]).includes(field)) {
          p.add(
            `${at}.${field}`,
            `is not a field of a zone in another account (known: ${ROLE_ZONE_FIELDS.join(', ')})`,
          );
        }
      }
      const id = typeof item.id === 'string' ? parseZoneId(item.id) : undefined;
      if (!id) p.add(`${at}.id`, `${quote(item.id)} is not a hosted zone id (like Z0123456789ABCDEFGHIJ)`);
      const roleArn = typeof item.roleArn === 'string' ? item.roleArn.trim() : '';
      if (id) {
        // The rotation's own parser of ROUTE53_ROLES: a role it would refuse never reaches it.
        try {
          parseRoute53Roles(`${id}=${roleArn}`);
        } catch {
          p.add(
            `${at}.roleArn`,
            `${quote(item.roleArn)} is not an IAM role ARN (arn:aws:iam::111122223333:role/acme-dns): ` +
              "the role in the zone's account that the function assumes to change it",
          );
        }
      }
      if (item.externalId !== undefined) {
        const ext = typeof item.externalId === 'string' ? item.externalId.trim() : '';
        if (!EXTERNAL_ID_RE.test(ext)) {
          p.add(`${at}.externalId`, "must be 2-1224 letters, digits and +=,.@:/-_ (IAM's sts:ExternalId)");
        } else if (externalId !== undefined && externalId.value !== ext) {
          p.add(
            `${at}.externalId`,
            `differs from hostedZones[${externalId.at}].externalId: the function sends one external id ` +
              '(ROUTE53_EXTERNAL_ID) with every AssumeRole; give every role the same one',
          );
        } else externalId ??= { value: ext, at: i };
      }
      let name: string | undefined;
      if (item.name !== undefined) {
        try {
          if (typeof item.name !== 'string') throw new Error('expected a string');
          name = normaliseDomain(item.name);
          if (name.startsWith('*.')) throw new Error('a zone name cannot be a wildcard');
        } catch (err) {
          p.add(`${at}.name`, `${quote(item.name)} is not a zone name: ${(err as Error).message}`);
        }
      }
      if (p.list.length > before || !id) return;
      const first = seen.get(id);
      if (first !== undefined) {
        p.add(
          at,
          `zone ${id} is already listed as hostedZones[${first}]: list a zone once, with its role if it has one`,
        );
        return;
      }
      seen.set(id, i);
      refs.push({ kind: 'id', id, role: { roleArn, ...(name ? { name } : {}) } });
      return;
    }
    if (typeof item !== 'string') {
      p.add(at, `expected a zone name, a zone id or {id, roleArn}, got ${quote(item)}`);
      return;
    }
    const text = item.trim();
    if (text === '') return;
    const id = parseZoneId(text);
    if (id) {
      const first = seen.get(id);
      if (first !== undefined) {
        p.add(
          at,
          `zone ${id} is already listed as hostedZones[${first}]: list a zone once, with its role if it has one`,
        );
        return;
      }
      seen.set(id, i);
      refs.push({ kind: 'id', id });
      return;
    }
    try {
      const name = normaliseDomain(text);
      if (name.startsWith('*.')) throw new Error('a zone name cannot be a wildcard');
      refs.push({ kind: 'name', name });
    } catch (err) {
      p.add(at, `${quote(text)} is neither a zone id (Z…) nor a zone name: ${(err as Error).message}`);
    }
  });
  return { refs, ...(externalId ? { externalId: externalId.value } : {}) };
}

/**
 * A certificate's `acm` setting: `{regions: [us-east-1, …]}` (new ACM certificates, one per
 * region) and/or `{arns: [arn:aws:acm:…]}` (existing imported ones). At most one target per
 * region: the stack exports them as a map region → ARN, and one ACM certificate serves every
 * load balancer or distribution of its region. Whether an ARN is of the stack's account is known
 * only at deploy time (checked there).
 */
function acmTargets(p: Problems, at: string, value: unknown): AcmTarget[] {
  const key = `${at}.acm`;
  if (!isRecord(value)) {
    p.add(key, `expected an object like {regions: [us-east-1]} or {arns: [arn:aws:acm:…]}, got ${quote(value)}`);
    return [];
  }
  for (const field of Object.keys(value)) {
    if (!(ACM_FIELDS as readonly string[]).includes(field)) {
      p.add(`${key}.${field}`, `is not an acm field (known: ${ACM_FIELDS.join(', ')})`);
    }
  }
  const targets: AcmTarget[] = [];
  const byRegion = new Map<string, string>();
  const claim = (region: string, where: string): boolean => {
    const first = byRegion.get(region);
    if (first !== undefined) {
      p.add(
        where,
        `is a second ACM certificate in ${region} (${first} is one): one certificate per region serves every listener and distribution there`,
      );
      return false;
    }
    byRegion.set(region, where.slice(at.length + 1));
    return true;
  };
  if (value.regions !== undefined) {
    const list = stringList(p, `${key}.regions`, value.regions, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const region = item.toLowerCase();
      if (!AWS_REGION_RE.test(region)) {
        p.add(`${key}.regions[${i}]`, `${quote(item)} is not an AWS region name (like us-east-1)`);
      } else if (claim(region, `${key}.regions[${i}]`)) targets.push({ region });
    });
  }
  if (value.arns !== undefined) {
    const list = stringList(p, `${key}.arns`, value.arns, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const parsed = parseAcmArn(item);
      if (typeof parsed === 'string') p.add(`${key}.arns[${i}]`, `${quote(item)} is not one: ${parsed}`);
      else if (claim(parsed.region, `${key}.arns[${i}]`)) targets.push({ region: parsed.region, arn: parsed.arn });
    });
  }
  if (value.regions === undefined && value.arns === undefined) {
    p.add(key, 'needs regions (new ACM certificates) or arns (existing imported ones), or both');
  }
  return targets;
}

/**
 * ARNs as long as the real ones will be, for the tag budget and the rotation's parser: a new
 * certificate's ARN is known only once ACM creates it.
 */
function probeAcmArns(targets: readonly AcmTarget[]): string[] {
  return targets.map(
    (t) =>
      t.arn ??
      `arn:${partitionOfRegion(t.region)}:acm:${t.region}:000000000000:certificate/00000000-0000-0000-0000-000000000000`,
  );
}

/** A zone id for the tag checks when the real one is known only at deploy time. */
const PROBE_ZONE_ID = 'Z000000000000000000000';

interface CertificateContext {
  /** Undefined when `ca` is invalid (already reported). */
  directoryUrl: string | undefined;
  defaultLifetime?: Lifetime;
  secretNamePrefix: string;
  /** Whether acme-rotation:hostedZones is set at all (even if invalid: reported there). */
  stackZonesSet: boolean;
  userTagCount: number;
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
    if ([...ids, ...pending.map(() => PROBE_ZONE_ID)].join(',').length > MAX_TAG_VALUE_LENGTH) {
      p.add(`${at}.hostedZoneIds`, `is longer than a tag value's ${MAX_TAG_VALUE_LENGTH} characters`);
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

  // lifetime and schedule
  let lifetime: Lifetime | undefined;
  if (value.lifetime !== undefined) {
    const hours = parseDuration(String(value.lifetime));
    if (hours === undefined) p.add(`${at}.lifetime`, `${quote(value.lifetime)} is not a duration like 90d or 160h`);
    else lifetime = { hours, source: `configured ${formatHours(hours)}` };
  } else {
    lifetime = ctx.defaultLifetime ?? (ctx.directoryUrl ? letsEncryptLifetime(ctx.directoryUrl, profile) : undefined);
  }
  let schedule: Schedule | undefined;
  try {
    if (value.schedule !== undefined) {
      if (typeof value.schedule !== 'string') throw new ScheduleError(`${quote(value.schedule)} is not a string`);
      schedule = parseScheduleOverride(value.schedule, lifetime);
    } else if (lifetime) {
      schedule = deriveSchedule(lifetime);
    } else if (value.lifetime === undefined && ctx.directoryUrl !== undefined) {
      const what = profile ? `profile ${profile} of ${ctx.directoryUrl}` : ctx.directoryUrl;
      p.add(
        `${at}.schedule`,
        `the certificate lifetime of ${what} is unknown: set ${p.key('certificateLifetime')} (all certificates), ` +
          `${at}.lifetime (e.g. 90d) or ${at}.schedule (e.g. 30d)`,
      );
    }
  } catch (err) {
    p.add(value.schedule !== undefined ? `${at}.schedule` : `${at}.lifetime`, (err as Error).message);
  }

  const acm = value.acm === undefined ? [] : acmTargets(p, at, value.acm);

  let description = `TLS certificate for ${domains.slice(0, 3).join(', ')}${domains.length > 3 ? ', …' : ''} (acme-rotation)`;
  if (value.description !== undefined) {
    if (typeof value.description !== 'string' || value.description.length > 2048) {
      p.add(`${at}.description`, 'must be a string of at most 2048 characters');
    } else description = value.description;
  }

  // The tags, checked by the rotation's own parser, and the 50-tag budget.
  const specTags: Record<string, string> = {};
  if (domains.length > 0 && p.list.length === before) {
    for (const t of domainTags(domains)) specTags[t.Key] = t.Value;
    specTags[TAGS.keyType] = keyType;
    if (profile) specTags[TAGS.profile] = profile;
    const arnTags = acmArnTags(probeAcmArns(acm));
    const probe: Record<string, string> = {
      ...specTags,
      [TAGS.hostedZoneIds]: (hostedZoneIds ?? [PROBE_ZONE_ID])
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
    const inflight = 1 + Math.ceil(domains.length / INFLIGHT_VALUES_PER_TAG);
    const total =
      Object.keys(probe).length + ctx.userTagCount + STATUS_TAG_KEYS.length + RENEWAL_TAG_KEYS.length + inflight;
    if (total > MAX_TAGS_PER_SECRET) {
      p.add(
        at,
        `needs up to ${total} tags on its secret (spec, zone ids, ` +
          (arnTags.length > 0 ? `${arnTags.length} ACM ARN tag${arnTags.length === 1 ? '' : 's'}, ` : '') +
          `${ctx.userTagCount} stack tags, ` +
          `${STATUS_TAG_KEYS.length} status tags, ${RENEWAL_TAG_KEYS.length} renewal tags, ` +
          `${inflight} in-flight tags), more than Secrets Manager's ${MAX_TAGS_PER_SECRET}; ` +
          `use fewer names${arnTags.length > 0 ? ', ACM certificates' : ''} or stack tags`,
      );
    }
  }

  if (p.list.length > before || !schedule) return undefined;
  return {
    name,
    secretName,
    domains,
    keyType,
    ...(profile ? { profile } : {}),
    ...(hostedZoneIds ? { hostedZoneIds } : {}),
    cnameTargets,
    ...(lifetime ? { lifetime } : {}),
    schedule,
    description,
    acm,
    specTags,
  };
}

/** Who the settings are for: the Pulumi project and stack. */
export interface Origin {
  /** The Pulumi project: descriptions, the metrics' Stack dimension. */
  project: string;
  stack: string;
}

/**
 * THE validator, of stack configuration and component args alike. `get(key)` is a setting as
 * given: a raw config string (objects as JSON) or a typed arg (a list, a number, an Output).
 * Returns undefined when anything was reported.
 */
function checkSettings(
  p: Problems,
  get: (key: string) => unknown,
  origin: Origin,
  keyPrefix: string,
): Settings | undefined {
  const start = p.list.length;
  /** A scalar setting as text (numbers and booleans as written); anything else is reported. */
  const text = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    p.add(
      key,
      isPending(v)
        ? 'must be a plain value, not an Output: it decides what is declared'
        : `expected a single value, got ${quote(v)}`,
    );
    return undefined;
  };
  /** A setting that may be another resource's output: plain text is checked, an Output kept as given. */
  const input = (key: string): { text?: string; pending?: pulumi.Input<string> } => {
    const v = get(key);
    if (isPending(v)) return { pending: v as pulumi.Input<string> };
    const t = optionalString(text(key));
    return t === undefined ? {} : { text: t };
  };

  const url = directoryUrl(p, text('ca'));

  let defaultLifetime: Lifetime | undefined;
  const rawLifetime = optionalString(text('certificateLifetime'));
  if (rawLifetime !== undefined) {
    const hours = parseDuration(rawLifetime);
    if (hours === undefined) p.add('certificateLifetime', `${quote(rawLifetime)} is not a duration like 90d or 160h`);
    else defaultLifetime = { hours, source: `configured ${formatHours(hours)}` };
  }

  const email = optionalString(text('email'));
  if (email !== undefined && !isEmailAddress(email)) p.add('email', `${quote(email)} is not an e-mail address`);

  const account = optionalString(text('account')) ?? 'persistent';
  if (account !== 'persistent' && account !== 'ephemeral') {
    p.add('account', `${quote(account)} must be persistent (one ACME account key kept in a secret) or ephemeral`);
  }
  const eabKid = optionalString(text('eabKid'));
  const hmac = input('eabHmacKey');
  const eabHmacKey = hmac.text;
  if ((eabKid === undefined) !== (eabHmacKey === undefined && hmac.pending === undefined)) {
    p.add(eabKid === undefined ? 'eabKid' : 'eabHmacKey', 'External Account Binding needs both eabKid and eabHmacKey');
  }
  if (eabHmacKey !== undefined && !/^[A-Za-z0-9_-]+={0,2}$/.test(eabHmacKey)) {
    p.add('eabHmacKey', 'is not a base64url HMAC key as issued by the CA (set it with pulumi config set --secret)');
  }
  if (eabKid !== undefined && account === 'ephemeral') {
    p.add(
      'eabKid',
      `External Account Binding needs ${p.key('account')}=persistent (the credentials live in the account secret)`,
    );
  }

  const notificationEmail = optionalString(text('notificationEmail'));
  if (notificationEmail !== undefined && !isEmailAddress(notificationEmail)) {
    p.add('notificationEmail', `${quote(notificationEmail)} is not an e-mail address`);
  }
  const topic = input('notificationTopicArn');
  if (topic.text !== undefined && !SNS_TOPIC_ARN_RE.test(topic.text)) {
    p.add('notificationTopicArn', `${quote(topic.text)} is not an SNS topic ARN (arn:aws:sns:region:account:name)`);
  }
  const notificationTopicArn = topic.text ?? topic.pending;
  const bus = input('eventBus');
  const eventBus = bus.text ?? bus.pending;
  if (bus.text !== undefined && !(bus.text.startsWith('arn:') ? BUS_ARN_RE : BUS_NAME_RE).test(bus.text)) {
    p.add('eventBus', `${quote(bus.text)} is not an EventBridge bus name or ARN`);
  }

  const rawRetention = optionalString(text('logRetentionDays'));
  const logRetentionDays = rawRetention === undefined ? 90 : Number(rawRetention);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays) || !/^\d+$/.test(rawRetention ?? '90')) {
    p.add(
      'logRetentionDays',
      `${quote(rawRetention)} is not one of CloudWatch's retentions: ${LOG_RETENTION_DAYS.join(', ')}`,
    );
  }
  const rawLevel = optionalString(text('logLevel')) ?? 'info';
  const logLevel = LOG_LEVELS.find((l) => l === rawLevel.toLowerCase());
  if (!logLevel) p.add('logLevel', `${quote(rawLevel)} is not one of ${LOG_LEVELS.join(', ')}`);

  const kms = input('kmsKeyArn');
  const kmsKeyArn = kms.text ?? kms.pending;
  if (kms.text !== undefined && !KMS_KEY_ARN_RE.test(kms.text)) {
    p.add('kmsKeyArn', `${quote(kms.text)} is not a KMS key ARN (arn:aws:kms:region:account:key/id; not an alias)`);
  }

  const secretNamePrefix = text('secretNamePrefix') ?? 'certs/';
  if (!SECRET_NAME_CHARS_RE.test(secretNamePrefix) || secretNamePrefix.length > 256) {
    p.add('secretNamePrefix', `${quote(secretNamePrefix)} may hold only letters, digits and /_+=.@- (at most 256)`);
  }
  const rawWindow = optionalString(text('secretRecoveryWindowDays'));
  const recoveryWindowDays = integer(p, 'secretRecoveryWindowDays', rawWindow, 0, 30) ?? 30;
  if (rawWindow !== undefined && recoveryWindowDays > 0 && recoveryWindowDays < 7) {
    p.add('secretRecoveryWindowDays', `${quote(rawWindow)} must be 0 (delete at once) or 7 to 30 days`);
  }

  const defaultPrefix = `acme-rotation-${origin.stack}`
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '');
  const namePrefix = optionalString(text('namePrefix')) ?? defaultPrefix;
  if (!NAME_PREFIX_RE.test(namePrefix)) {
    p.add(
      'namePrefix',
      `${quote(namePrefix)} must be 1-40 letters, digits and hyphens, starting with a letter or digit`,
    );
  }
  const memoryMb = integer(p, 'memoryMb', optionalString(text('memoryMb')), 128, 10_240) ?? 512;

  const givenResolvers = get('dnsResolvers');
  let dnsResolvers = Array.isArray(givenResolvers)
    ? givenResolvers.map(String).join(',') || undefined
    : optionalString(text('dnsResolvers'));
  if (dnsResolvers !== undefined) {
    const parsed = parseJson(dnsResolvers);
    const list = Array.isArray(parsed) ? parsed.map(String) : [dnsResolvers];
    dnsResolvers = list.join(',');
    try {
      parseResolvers(dnsResolvers);
    } catch (err) {
      p.add('dnsResolvers', (err as Error).message.replace(/^DNS_RESOLVERS /, ''));
    }
  }
  const waitSeconds = (key: string) => integer(p, key, optionalString(text(key)), MIN_WAIT_SECONDS, MAX_WAIT_SECONDS);
  const dnsPropagationTimeoutSeconds = waitSeconds('dnsPropagationTimeoutSeconds');
  const acmeTimeoutSeconds = waitSeconds('acmeTimeoutSeconds');
  const dnsSeconds = dnsPropagationTimeoutSeconds ?? DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS;
  const acmeSeconds = acmeTimeoutSeconds ?? DEFAULT_ACME_TIMEOUT_SECONDS;
  if (dnsSeconds + acmeSeconds + CLEANUP_RESERVE_SECONDS > FUNCTION_TIMEOUT_SECONDS) {
    p.add(
      dnsPropagationTimeoutSeconds !== undefined ? 'dnsPropagationTimeoutSeconds' : 'acmeTimeoutSeconds',
      `DNS (${dnsSeconds} s) + CA (${acmeSeconds} s) + ${CLEANUP_RESERVE_SECONDS} s ` +
        `of clean-up exceed the function's ${FUNCTION_TIMEOUT_SECONDS} s`,
    );
  }

  const preferredChain = optionalString(text('preferredChain'));
  if (preferredChain !== undefined && preferredChain.length > 256) {
    p.add('preferredChain', "is a root certificate's common name: at most 256 characters");
  }
  const maxCertificateLifetimeDays = integer(
    p,
    'maxCertificateLifetimeDays',
    optionalString(text('maxCertificateLifetimeDays')),
    1,
    36_500,
  );
  const caRootsPem = caRoots(p, text('caRootsPem'));

  let watchSchedule: WatchSchedule | undefined;
  const rawWatchSchedule = optionalString(text('watchSchedule')) ?? DEFAULT_WATCH_SCHEDULE;
  try {
    watchSchedule = parseWatchSchedule(rawWatchSchedule);
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    p.add('watchSchedule', err.message);
  }
  const watchMaxConcurrentRotations = integer(
    p,
    'watchMaxConcurrentRotations',
    optionalString(text('watchMaxConcurrentRotations')),
    ...WATCH_MAX_CONCURRENT_ROTATIONS_RANGE,
  );

  const zones = hostedZones(p, get('hostedZones'));
  const tags = stackTags(p, get('tags'));

  const certificates: CertificateSettings[] = [];
  const rawCerts = get('certificates');
  if (rawCerts === undefined) {
    p.add('certificates', 'is required: a list like [{name: web, domains: [example.com, "*.example.com"]}]');
  } else {
    const value = typeof rawCerts === 'string' ? parseJson(rawCerts) : rawCerts;
    if (!Array.isArray(value) || value.length === 0) {
      p.add('certificates', `expected a non-empty list of certificates, got ${quote(value)}`);
    } else {
      const seen = new Map<string, number>();
      value.forEach((item, i) => {
        const cert = certificate(p, i, item, {
          directoryUrl: url,
          ...(defaultLifetime ? { defaultLifetime } : {}),
          secretNamePrefix,
          stackZonesSet: get('hostedZones') !== undefined,
          userTagCount: Object.keys(tags).length,
        });
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
    }
  }

  const accountSecretName = `${namePrefix}/acme-account`;
  certificates.forEach((c, i) => {
    if (account === 'persistent' && c.secretName === accountSecretName) {
      p.add(`certificates[${i}].name`, `the secret name ${quote(c.secretName)} is the ACME account secret's`);
    }
  });

  if (p.list.length > start) return undefined;
  return {
    namespace: origin.project,
    stack: origin.stack,
    keyPrefix,
    namePrefix,
    directoryUrl: url as string,
    ...(email ? { email } : {}),
    persistentAccount: account === 'persistent',
    accountSecretName,
    ...(eabKid ? { eabKid } : {}),
    ...(notificationEmail ? { notificationEmail } : {}),
    ...(notificationTopicArn ? { notificationTopicArn } : {}),
    ...(eventBus ? { eventBus } : {}),
    logRetentionDays,
    logLevel: logLevel ?? 'info',
    ...(kmsKeyArn ? { kmsKeyArn } : {}),
    secretNamePrefix,
    recoveryWindowDays,
    memoryMb,
    ...(dnsResolvers ? { dnsResolvers } : {}),
    ...(dnsPropagationTimeoutSeconds !== undefined ? { dnsPropagationTimeoutSeconds } : {}),
    ...(acmeTimeoutSeconds !== undefined ? { acmeTimeoutSeconds } : {}),
    ...(preferredChain ? { preferredChain } : {}),
    ...(maxCertificateLifetimeDays !== undefined ? { maxCertificateLifetimeDays } : {}),
    ...(caRootsPem ? { caRootsPem } : {}),
    watchSchedule: watchSchedule as WatchSchedule,
    ...(watchMaxConcurrentRotations !== undefined ? { watchMaxConcurrentRotations } : {}),
    hostedZones: zones.refs,
    ...(zones.externalId ? { route53ExternalId: zones.externalId } : {}),
    tags,
    certificates,
  };
}

/** Every argument of AcmeRotation: the stack's settings and the component's own. */
export const ARG_KEYS = [...KNOWN_KEYS, 'configNamespace', 'rotationBundleDir', 'watchBundleDir'] as const;

/**
 * Validate AcmeRotation's args (the component's route); throws StackConfigError listing every
 * problem, each under its field (`certificates[0].domains[1]: …`), or under the config key when
 * `args.configNamespace` says they were read from Pulumi config.
 */
export function validateArgs(args: AcmeRotationArgs, origin: Origin, what = 'AcmeRotation arguments'): Settings {
  const ns = args.configNamespace;
  const p = new Problems(ns ? `${ns}:` : '');
  const values = args as unknown as Record<string, unknown>;
  if (typeof values !== 'object' || values === null)
    throw new StackConfigError([`expected an object, got ${quote(args)}`], what);
  for (const key of Object.keys(values)) {
    if (!(ARG_KEYS as readonly string[]).includes(key) && values[key] !== undefined) {
      p.add(key, `is not an argument of AcmeRotation (known: ${ARG_KEYS.join(', ')})`);
    }
  }
  const settings = checkSettings(p, (key) => values[key], origin, ns ? `${ns}:` : '');
  if (!settings || p.list.length > 0) throw new StackConfigError(p.list, ns ? 'stack configuration' : what);
  return settings;
}

/** The aws:ignoreTags check alone (a component whose default AWS provider the program configures). */
export function ignoreTagsProblems(awsIgnoreTags: string | undefined): string[] {
  const p = new Problems('');
  checkIgnoreTags(p, awsIgnoreTags);
  return p.list;
}

const NUMBER_KEYS = [
  'logRetentionDays',
  'secretRecoveryWindowDays',
  'memoryMb',
  'dnsPropagationTimeoutSeconds',
  'acmeTimeoutSeconds',
  'maxCertificateLifetimeDays',
  'watchMaxConcurrentRotations',
] as const;
const JSON_KEYS = ['certificates', 'hostedZones', 'tags'] as const;

/**
 * The stack's route: read and validate the whole stack configuration (unknown keys and
 * aws:ignoreTags too), then turn it into the args AcmeRotation takes — the same validator's
 * input, typed. Throws StackConfigError listing every problem under its config key.
 */
export function loadStackArgs(src: ConfigSource): { args: AcmeRotationArgs; settings: Settings } {
  const p = new Problems(`${src.namespace}:`);
  for (const key of src.keys) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      p.add(key, `is not a setting of this program (known: ${KNOWN_KEYS.join(', ')})`);
    }
  }
  checkIgnoreTags(p, src.awsIgnoreTags);
  const settings = checkSettings(
    p,
    (key) => src.get(key),
    { project: src.namespace, stack: src.stack },
    `${src.namespace}:`,
  );
  if (!settings || p.list.length > 0) throw new StackConfigError(p.list);

  // Valid: whole numbers are numbers, objects and lists parsed, the rest as written.
  const args: Record<string, unknown> = { configNamespace: src.namespace };
  for (const key of KNOWN_KEYS) {
    const raw = src.get(key);
    if (raw === undefined) continue;
    if ((NUMBER_KEYS as readonly string[]).includes(key)) {
      const t = raw.trim();
      if (t !== '') args[key] = Number(t);
    } else if ((JSON_KEYS as readonly string[]).includes(key)) args[key] = parseJson(raw);
    else args[key] = raw;
  }
  return { args: args as unknown as AcmeRotationArgs, settings };
}

/** Read and validate the whole stack configuration; throws StackConfigError listing every problem. */
export function loadSettings(src: ConfigSource): Settings {
  return loadStackArgs(src).settings;
}
