import { isIP } from 'node:net';
import { ConfigError } from './errors.js';
import {
  bareZoneId,
  DEFAULT_ACME_TIMEOUT_SECONDS,
  DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS,
  directoryUrlProblem,
  isZoneId,
  isEmailAddress,
  isSnsTopicArn,
  MAX_WAIT_SECONDS,
  MIN_WAIT_SECONDS,
  wholeNumberIn,
} from './rules.js';

/** The function's configuration, read once from the environment with loud failures. */
export interface Config {
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

export { DEFAULT_ACME_TIMEOUT_SECONDS, DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS };
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

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return Number.isInteger(n) && n > 0 && n < 65536;
}

/** Validate one DNS_RESOLVERS entry: `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`. */
export function parseResolver(entry: string): string {
  const s = entry.trim();
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(s);
  const ok =
    (bracket !== null && isIP(bracket[1] ?? '') === 6 && validPort(bracket[2])) ||
    isIP(s) !== 0 ||
    (hostPort !== null && isIP(hostPort[1] ?? '') === 4 && validPort(hostPort[2]));
  if (!ok) {
    throw new ConfigError(
      `DNS_RESOLVERS entry "${entry}" is invalid: expected ip[:port] (e.g. 1.1.1.1,8.8.8.8:53 or [2606:4700::1111]:53)`,
    );
  }
  return s;
}

export function parseResolvers(raw: string | undefined): string[] {
  if (!raw?.trim()) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseResolver);
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

export function loadConfig(env: Env = process.env): Config {
  const directoryUrl = optional(env, 'ACME_DIRECTORY_URL');
  if (!directoryUrl) {
    throw new ConfigError(
      'ACME_DIRECTORY_URL is not set: set it to the CA directory, e.g. https://acme-v02.api.letsencrypt.org/directory',
    );
  }
  const urlProblem = directoryUrlProblem(directoryUrl);
  if (urlProblem === 'not-a-url') throw new ConfigError(`ACME_DIRECTORY_URL="${directoryUrl}" is not a URL`);
  if (urlProblem === 'not-https') {
    throw new ConfigError(`ACME_DIRECTORY_URL="${directoryUrl}" must use https (RFC 8555 requires TLS)`);
  }
  const email = optional(env, 'ACME_EMAIL');
  if (email !== undefined && !isEmailAddress(email)) {
    throw new ConfigError(`ACME_EMAIL="${email}" is not an e-mail address`);
  }
  const topic = optional(env, 'NOTIFICATION_TOPIC_ARN');
  if (topic !== undefined && !isSnsTopicArn(topic)) {
    throw new ConfigError(`NOTIFICATION_TOPIC_ARN="${topic}" is not an SNS topic ARN`);
  }
  return {
    directoryUrl,
    email,
    accountSecretId: optional(env, 'ACME_ACCOUNT_SECRET_ID'),
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
    ...(optional(env, 'ACME_PREFERRED_CHAIN') ? { preferredChain: optional(env, 'ACME_PREFERRED_CHAIN') } : {}),
    route53Roles: parseRoute53Roles(optional(env, 'ROUTE53_ROLES')),
    ...(optional(env, 'ROUTE53_EXTERNAL_ID') ? { route53ExternalId: optional(env, 'ROUTE53_EXTERNAL_ID') } : {}),
  };
}
