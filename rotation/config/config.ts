import type { CaSettings } from '../acme/choice.js';
import { parseResolvers } from '../dns01/resolvers.js';
import { ConfigError } from '../lib/errors.js';
import {
  CA_NAME_RE,
  bareZoneId,
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
  directoryUrlProblem,
  isZoneId,
  isEmailAddress,
  isProfileName,
  isSnsTopicArn,
  MAX_WAIT_SECONDS,
  MIN_WAIT_SECONDS,
  wholeNumberIn,
} from '../certificate/rules.js';

/** The most CAs ACME_CAS may list: each is tried in turn, and every one costs time when it fails. */
export const MAX_CAS = 8;

/** The function's configuration, read once from the environment with loud failures. */
export interface Config {
  /**
   * The CAs to order from, in the operator's order (ACME_CAS; else the one CA of
   * ACME_DIRECTORY_URL). `directoryUrl`, `accountSecretId` and `preferredChain` are the first one's.
   */
  cas: CaSettings[];
  directoryUrl: string;
  email?: string;
  accountSecretId?: string;
  notificationTopicArn?: string;
  eventBusName?: string;
  /** 'ip' or 'ip:port' entries; empty = the zone's authoritative nameservers. */
  dnsResolvers: string[];
  /** Upper bound for Route 53 INSYNC plus the propagation check. */
  dnsPropagationTimeoutMs: number;
  /** Upper bound for the CA to validate challenges and issue the certificate. */
  acmeTimeoutMs: number;
  /** Bound on one HTTP request to AWS or the CA (a hung connection fails this fast, then is retried). */
  apiTimeoutMs: number;
  /** Source of EventBridge events. */
  eventSource: string;
  /**
   * The operator's cap on a certificate's lifetime (MAX_CERTIFICATE_LIFETIME_DAYS), checked in
   * testSecret; undefined = none (the CA's choice stands).
   */
  maxCertificateLifetimeMs?: number;
  /**
   * ACME_PREFERRED_CHAIN: of the chains the CA offers, the one whose topmost certificate is issued
   * by (or is) a certificate with this common name; the default chain when none is.
   */
  preferredChain?: string;
  /**
   * ROUTE53_ROLES: hosted zones in other accounts, zone id → the role every Route 53 call for that
   * zone is made with (assumed through STS); empty = the function's own credentials for all zones.
   */
  route53Roles: Record<string, string>;
  /** ROUTE53_EXTERNAL_ID: the external id sent with every AssumeRole. */
  route53ExternalId?: string;
}

export const DEFAULT_API_TIMEOUT_SECONDS = 10;

type Env = Record<string, string | undefined>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function seconds(env: Env, name: string, fallback: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback * 1000;
  const value = wholeNumberIn(raw, MIN_WAIT_SECONDS, max);
  if (value === undefined) {
    throw new ConfigError(`${name}="${raw}" is invalid: expected whole seconds between ${MIN_WAIT_SECONDS} and ${max}`);
  }
  return value * 1000;
}

const ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** ROUTE53_ROLES: `ZONE_ID=ROLE_ARN,…` (a zone once; ids with or without /hostedzone/). */
export function parseRoute53Roles(raw: string | undefined): Record<string, string> {
  const roles: Record<string, string> = {};
  if (!raw) return roles;
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf('=');
    const zone = bareZoneId(eq < 0 ? entry : entry.slice(0, eq));
    const role = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (!isZoneId(zone) || !ROLE_ARN_RE.test(role)) {
      throw new ConfigError(
        `ROUTE53_ROLES entry "${entry}" is invalid: expected ZONE_ID=ROLE_ARN, e.g. Z0123456789ABCDEFGHIJ=arn:aws:iam::111122223333:role/acme-dns`,
      );
    }
    if (roles[zone] !== undefined) throw new ConfigError(`ROUTE53_ROLES names zone ${zone} twice`);
    roles[zone] = role;
  }
  return roles;
}

/** MAX_CERTIFICATE_LIFETIME_DAYS: whole days, 1 to 36500; unset means no cap. */
function maxLifetime(env: Env): { maxCertificateLifetimeMs?: number } {
  const raw = optional(env, 'MAX_CERTIFICATE_LIFETIME_DAYS');
  if (raw === undefined) return {};
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 36_500) {
    throw new ConfigError(
      `MAX_CERTIFICATE_LIFETIME_DAYS="${raw}" is invalid: expected whole days between 1 and 36500 (e.g. 398 for the public CA limit), or unset for no cap`,
    );
  }
  return { maxCertificateLifetimeMs: Number(raw) * 86_400_000 };
}

/**
 * The CAs of a configuration. loadConfig always fills `cas`; a Config assembled by hand (a test's)
 * may carry only the one-CA fields, which then make the list.
 */
export function configuredCas(
  config: Pick<Config, 'directoryUrl' | 'accountSecretId' | 'preferredChain'> & {
    cas?: CaSettings[];
  },
): CaSettings[] {
  if (config.cas && config.cas.length > 0) return config.cas;
  return [
    {
      name: defaultCaName(config.directoryUrl),
      directoryUrl: config.directoryUrl,
      ...(config.accountSecretId ? { accountSecretId: config.accountSecretId } : {}),
      ...(config.preferredChain ? { preferredChain: config.preferredChain } : {}),
    },
  ];
}

/** A CA's default name: its directory URL's host (with the port, so two CAs on one host differ). */
export function defaultCaName(directoryUrl: string): string {
  return new URL(directoryUrl).host;
}

function checkDirectoryUrl(where: string, directoryUrl: string): void {
  const urlProblem = directoryUrlProblem(directoryUrl);
  if (urlProblem === 'not-a-url') throw new ConfigError(`${where}="${directoryUrl}" is not a URL`);
  if (urlProblem === 'not-https') {
    throw new ConfigError(`${where}="${directoryUrl}" must use https (RFC 8555 requires TLS)`);
  }
}

const CA_KEYS = ['name', 'directoryUrl', 'accountSecretId', 'profile', 'preferredChain'] as const;
/** Keys that would put EAB credentials in the environment. */
const EAB_KEY_RE = /^(eab|externalAccountBinding|kid|hmacKey|hmac_key|eabKid|eabHmacKey)$/i;
const EAB_PLACE =
  'EAB credentials belong in the CA\'s account secret ({"eab": {"kid": "…", "hmac_key": "…"}}, named by accountSecretId), never in the environment';

function caEntry(raw: unknown, i: number): CaSettings {
  const where = `ACME_CAS[${i}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where} must be an object like {"directoryUrl": "https://…/directory"}`);
  }
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (EAB_KEY_RE.test(key)) throw new ConfigError(`${where}.${key}: ${EAB_PLACE}`);
    if (!(CA_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`${where} has an unknown key "${key}": expected ${CA_KEYS.join(', ')}`);
    }
  }
  const text = (key: (typeof CA_KEYS)[number]): string | undefined => {
    const value = entry[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new ConfigError(`${where}.${key} must be a string`);
    return value.trim() || undefined;
  };
  const directoryUrl = text('directoryUrl');
  if (!directoryUrl) throw new ConfigError(`${where} has no directoryUrl: every CA needs its ACME directory URL`);
  checkDirectoryUrl(`${where}.directoryUrl`, directoryUrl);
  const name = text('name') ?? defaultCaName(directoryUrl);
  if (!CA_NAME_RE.test(name)) {
    throw new ConfigError(
      `${where}.name="${name}" is invalid: 1 to 63 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
    );
  }
  const profile = text('profile');
  if (profile !== undefined && !isProfileName(profile)) {
    throw new ConfigError(
      `${where}.profile="${profile}" is invalid: a profile name is 1 to 64 letters, digits, ".", "_" or "-"`,
    );
  }
  const accountSecretId = text('accountSecretId');
  const preferredChain = text('preferredChain');
  return {
    name,
    directoryUrl,
    ...(accountSecretId ? { accountSecretId } : {}),
    ...(profile ? { profile } : {}),
    ...(preferredChain ? { preferredChain } : {}),
  };
}

/**
 * ACME_CAS: a JSON list of CAs, tried in order. Names, directories and account secrets are each
 * unique: one account secret holds one CA's account (a shared one would have two CAs' keys take
 * turns as its AWSCURRENT), and a name picks one CA in the `acme:ca` tag and the metrics.
 */
export function parseCas(raw: string): CaSettings[] {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigError(
      'ACME_CAS is not JSON: expected a list like [{"directoryUrl": "https://acme-v02.api.letsencrypt.org/directory", "accountSecretId": "acme/letsencrypt"}, …]',
      { cause },
    );
  }
  if (!Array.isArray(data) || data.length === 0) {
    throw new ConfigError('ACME_CAS must be a non-empty JSON list of CAs, in the order to try them');
  }
  if (data.length > MAX_CAS) {
    throw new ConfigError(`ACME_CAS lists ${data.length} CAs; at most ${MAX_CAS} (each one that fails costs time)`);
  }
  const cas = data.map(caEntry);
  for (const key of ['name', 'directoryUrl', 'accountSecretId'] as const) {
    const seen = new Map<string, number>();
    for (const [i, ca] of cas.entries()) {
      const value = ca[key];
      if (value === undefined) continue;
      const folded = key === 'name' ? value.toLowerCase() : value;
      const first = seen.get(folded);
      if (first !== undefined) {
        throw new ConfigError(
          `ACME_CAS[${first}] and ACME_CAS[${i}] have the same ${key} "${value}"` +
            (key === 'accountSecretId'
              ? ': give each CA its own account secret'
              : key === 'name'
                ? ': give one of them a "name" of its own'
                : ''),
        );
      }
      seen.set(folded, i);
    }
  }
  return cas;
}

/**
 * The CAs: ACME_CAS when set (it replaces ACME_DIRECTORY_URL, as the contract says), else the one
 * CA of ACME_DIRECTORY_URL / ACME_ACCOUNT_SECRET_ID / ACME_PREFERRED_CHAIN. The one-CA account and
 * chain settings beside ACME_CAS would be ignored, so they are refused unless they say what the
 * first entry says.
 */
function loadCas(env: Env): CaSettings[] {
  const list = optional(env, 'ACME_CAS');
  if (list !== undefined) {
    const cas = parseCas(list);
    const first = cas[0] as CaSettings;
    for (const [name, field] of [
      ['ACME_ACCOUNT_SECRET_ID', 'accountSecretId'],
      ['ACME_PREFERRED_CHAIN', 'preferredChain'],
    ] as const) {
      const value = optional(env, name);
      if (value !== undefined && value !== first[field]) {
        throw new ConfigError(
          `${name} is set beside ACME_CAS, which replaces it: set "${field}" in the ACME_CAS entries instead and unset ${name}`,
        );
      }
    }
    return cas;
  }
  const directoryUrl = optional(env, 'ACME_DIRECTORY_URL');
  if (!directoryUrl) {
    throw new ConfigError(
      'ACME_DIRECTORY_URL is not set: set it to the CA directory, e.g. https://acme-v02.api.letsencrypt.org/directory ' +
        '(or ACME_CAS to a list of CAs to fall back through)',
    );
  }
  checkDirectoryUrl('ACME_DIRECTORY_URL', directoryUrl);
  const accountSecretId = optional(env, 'ACME_ACCOUNT_SECRET_ID');
  const preferredChain = optional(env, 'ACME_PREFERRED_CHAIN');
  return [
    {
      name: defaultCaName(directoryUrl),
      directoryUrl,
      ...(accountSecretId ? { accountSecretId } : {}),
      ...(preferredChain ? { preferredChain } : {}),
    },
  ];
}

export function loadConfig(env: Env = process.env): Config {
  const cas = loadCas(env);
  const first = cas[0] as CaSettings;
  const email = optional(env, 'ACME_EMAIL');
  if (email !== undefined && !isEmailAddress(email)) {
    throw new ConfigError(`ACME_EMAIL="${email}" is not an e-mail address`);
  }
  const topic = optional(env, 'NOTIFICATION_TOPIC_ARN');
  if (topic !== undefined && !isSnsTopicArn(topic)) {
    throw new ConfigError(`NOTIFICATION_TOPIC_ARN="${topic}" is not an SNS topic ARN`);
  }
  return {
    cas,
    directoryUrl: first.directoryUrl,
    email,
    accountSecretId: first.accountSecretId,
    notificationTopicArn: topic,
    eventBusName: optional(env, 'EVENT_BUS_NAME'),
    dnsResolvers: parseResolvers(env.DNS_RESOLVERS),
    dnsPropagationTimeoutMs: seconds(
      env,
      'DNS_PROPAGATION_TIMEOUT_SECONDS',
      DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
      MAX_WAIT_SECONDS,
    ),
    acmeTimeoutMs: seconds(env, 'ACME_TIMEOUT_SECONDS', DEFAULT_ACME_TIMEOUT_SECONDS, MAX_WAIT_SECONDS),
    apiTimeoutMs: seconds(env, 'API_TIMEOUT_SECONDS', DEFAULT_API_TIMEOUT_SECONDS, 60),
    eventSource: optional(env, 'EVENT_SOURCE') ?? optional(env, 'AWS_LAMBDA_FUNCTION_NAME') ?? 'acme-rotation',
    ...maxLifetime(env),
    ...(first.preferredChain ? { preferredChain: first.preferredChain } : {}),
    route53Roles: parseRoute53Roles(optional(env, 'ROUTE53_ROLES')),
    ...(optional(env, 'ROUTE53_EXTERNAL_ID') ? { route53ExternalId: optional(env, 'ROUTE53_EXTERNAL_ID') } : {}),
  };
}
