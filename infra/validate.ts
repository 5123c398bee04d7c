/**
 * THE validator, of stack configuration and component args alike: every setting read, checked and
 * normalised into Settings (settings.ts) BEFORE any resource is declared, every problem reported
 * at once, each message starting with the key it is about (`acme-rotation:certificates[1].domains[0]: …`).
 * The settings of a feature (the CA, hosted zones, certificates, schedules) are checked in its
 * module; here are the rest, and the two routes in:
 *
 * - the component's: AcmeRotation's typed args (validateArgs), each problem under its field, or
 *   under its config key when the args were read from Pulumi config;
 * - the stack's: the whole stack configuration as Pulumi stores it (raw strings), unknown keys and
 *   aws:ignoreTags too, turned into AcmeRotation's args (loadStackArgs).
 */
import type * as pulumi from '@pulumi/pulumi';

import {
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
  MAX_WAIT_SECONDS,
  MIN_WAIT_SECONDS,
  isEmailAddress,
  isSnsTopicArn,
} from '../rotation/certificate/rules.js';
import {
  RENEWAL_TAG_PREFIX,
  SPEC_TAG_PREFIX,
  STATUS_TAG_KEYS,
  INFLIGHT_TAG,
  MAX_TAG_VALUE,
} from '../rotation/certificate/tags.js';
import { parseResolvers } from '../rotation/dns01/resolvers.js';
import { CLEANUP_RESERVE_SECONDS, FUNCTION_TIMEOUT_SECONDS } from '../rotation/lib/deadline.js';
import type { AcmeRotationArgs } from './args.js';
import { caAccountSecretName, caList, caRoots, directoryUrl, type CaSetting } from './ca.js';
import { certificateList } from './certificates.js';
import { checkIgnoreTags } from './certificates.js';
import { hostedZones } from './hosted-zones.js';
import {
  WATCH_MAX_CONCURRENT_ROTATIONS_RANGE,
  parseDefaultLifetime,
  watchSchedule as parseWatch,
  type WatchSchedule,
} from './schedules.js';
import {
  LOG_LEVELS,
  LOG_RETENTION_DAYS,
  Problems,
  integer,
  isPending,
  isRecord,
  optionalString,
  parseJson,
  quote,
  type Origin,
  type Settings,
} from './settings.js';

/** Every key this program reads in its namespace (anything else is reported as a typo). */
export const KNOWN_KEYS = [
  'certificates',
  'hostedZones',
  'ca',
  'cas',
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

/** Every argument of AcmeRotation: the stack's settings and the component's own. */
export const ARG_KEYS = [...KNOWN_KEYS, 'configNamespace', 'rotationBundleDir', 'watchBundleDir'] as const;

/** Invalid settings: every problem, each starting with the key it is about, thrown together. */
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

const SECRET_NAME_CHARS_RE = /^[A-Za-z0-9/_+=.@-]*$/;
const NAME_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
const BUS_NAME_RE = /^[A-Za-z0-9._\-/]{1,256}$/;
const BUS_ARN_RE = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256}$/;
const KMS_KEY_ARN_RE = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;

/**
 * THE validator, of stack configuration and component args alike. `get(key)` is a setting as
 * given: a raw config string (objects as JSON) or a typed arg (a list, a number, an Output).
 * Returns undefined when anything was reported.
 */
export function checkSettings(
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

  const defaultLifetime = parseDefaultLifetime(p, optionalString(text('certificateLifetime')));

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
  if (topic.text !== undefined && !isSnsTopicArn(topic.text)) {
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

  const watchSchedule = parseWatch(p, optionalString(text('watchSchedule')));
  const watchMaxConcurrentRotations = integer(
    p,
    'watchMaxConcurrentRotations',
    optionalString(text('watchMaxConcurrentRotations')),
    ...WATCH_MAX_CONCURRENT_ROTATIONS_RANGE,
  );

  const zones = hostedZones(p, get('hostedZones'));
  const tags = stackTags(p, get('tags'));

  const accountSecretName = caAccountSecretName(namePrefix, 0, '');
  // `cas` (a list to fall back through) or the one CA of `ca` / eabKid / preferredChain.
  const listed = caList(p, get('cas'), {
    namePrefix,
    persistentAccount: account === 'persistent',
    accountKey: p.key('account'),
  });
  if (get('cas') !== undefined) {
    for (const key of ['ca', 'eabKid', 'eabHmacKey', 'preferredChain']) {
      if (get(key) !== undefined) p.add(key, `is set beside ${p.key('cas')}: set it in the cas entries instead`);
    }
  }
  const cas = listed ?? [
    {
      name: url ? new URL(url).host : '',
      directoryUrl: url as string,
      ...(preferredChain ? { preferredChain } : {}),
      ...(eabKid ? { eabKid } : {}),
      accountSecretName,
    },
  ];
  const first = cas[0] as CaSetting;

  const certificates = certificateList(p, get('certificates'), {
    directoryUrl: first.directoryUrl,
    caNames: cas.map((ca) => ca.name),
    defaultLifetime,
    secretNamePrefix,
    stackZonesSet: get('hostedZones') !== undefined,
    userTagCount: Object.keys(tags).length,
  });

  certificates.forEach((c, i) => {
    const taken = cas.find((ca) => ca.accountSecretName === c.secretName);
    if (account === 'persistent' && taken) {
      p.add(`certificates[${i}].name`, `the secret name ${quote(c.secretName)} is the ACME account secret's`);
    }
  });

  if (p.list.length > start) return undefined;
  return {
    namespace: origin.project,
    stack: origin.stack,
    keyPrefix,
    namePrefix,
    cas,
    directoryUrl: first.directoryUrl,
    ...(email ? { email } : {}),
    persistentAccount: account === 'persistent',
    accountSecretName,
    ...(first.eabKid ? { eabKid: first.eabKid } : {}),
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
    ...(first.preferredChain ? { preferredChain: first.preferredChain } : {}),
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

const TAG_KEY_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,127}$/u;

/** `tags`: the stack's own, on every resource; never a key of the tags acme-rotation reads or writes. */
export function stackTags(p: Problems, given: unknown): Record<string, string> {
  if (given === undefined) return {};
  const value = typeof given === 'string' ? parseJson(given) : given;
  if (!isRecord(value)) {
    p.add('tags', `expected a map of tag keys to values, got ${quote(value)}`);
    return {};
  }
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const lower = k.toLowerCase();
    if (typeof v !== 'string' || v.length > MAX_TAG_VALUE) {
      p.add(`tags.${k}`, `the value must be a string of at most ${MAX_TAG_VALUE} characters`);
    } else if (!TAG_KEY_RE.test(k) || lower.startsWith('aws:')) {
      p.add(`tags.${k}`, 'is not a valid tag key (1-127 letters, digits, spaces and _.:/=+-@; not aws:…)');
    } else if (
      lower.startsWith(SPEC_TAG_PREFIX) ||
      lower.startsWith(INFLIGHT_TAG) ||
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

// The component's route.

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

// The stack's route.

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

const NUMBER_KEYS = [
  'logRetentionDays',
  'secretRecoveryWindowDays',
  'memoryMb',
  'dnsPropagationTimeoutSeconds',
  'acmeTimeoutSeconds',
  'maxCertificateLifetimeDays',
  'watchMaxConcurrentRotations',
] as const;
const JSON_KEYS = ['certificates', 'hostedZones', 'cas', 'tags'] as const;

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
