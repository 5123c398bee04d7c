/**
 * Rules both sides enforce: the Pulumi program when it validates the stack configuration
 * (infra/validate.ts and the feature modules), and the rotation function when it reads its environment and a secret's
 * tags. Kept here once so the two cannot drift. Pure, no imports: the Lambda bundle includes it.
 */

/** An address with one @ and a dot in the domain; no whitespace. */
const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** ACME profile names (draft-aaron-acme-profiles), as Let's Encrypt spells them. */
const PROFILE_RE = /^[a-zA-Z0-9._-]{1,64}$/;
/** A bare Route 53 hosted zone id. */
const ZONE_ID_RE = /^[A-Z0-9]{1,32}$/;
const HOSTED_ZONE_PREFIX = '/hostedzone/';

/** A CA name as ACME_CAS and the `acme:ca` tag spell it. */
export const CA_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;
/** Let's Encrypt's limit of names per certificate. */
export const MAX_NAMES = 100;

/** Bounds of the DNS propagation and CA timeouts, in whole seconds. */
export const MIN_WAIT_SECONDS = 1;
export const MAX_WAIT_SECONDS = 870;
export const DEFAULT_DNS_PROPAGATION_TIMEOUT_SECONDS = 300;
export const DEFAULT_ACME_TIMEOUT_SECONDS = 180;

/** An SNS topic ARN; a FIFO topic's name ends in `.fifo`. */
const SNS_TOPIC_ARN_RE = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

export function isSnsTopicArn(text: string): boolean {
  return SNS_TOPIC_ARN_RE.test(text);
}

export function isEmailAddress(text: string): boolean {
  return EMAIL_RE.test(text);
}

export function isProfileName(text: string): boolean {
  return PROFILE_RE.test(text);
}

/** `Z123` or `/hostedzone/Z123` → `Z123` (trimmed); anything else is returned trimmed, to be checked. */
export function bareZoneId(text: string): string {
  const t = text.trim();
  return t.startsWith(HOSTED_ZONE_PREFIX) ? t.slice(HOSTED_ZONE_PREFIX.length) : t;
}

/** 1 to 32 upper-case letters and digits, like Z0123456789ABCDEFGHIJ (without /hostedzone/). */
export function isZoneId(id: string): boolean {
  return ZONE_ID_RE.test(id);
}

/** The number, when `text` is whole digits (surrounding blanks ignored) within min..max; else undefined. */
export function wholeNumberIn(text: string, min: number, max: number): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}

/** What is wrong with an ACME directory URL, if anything: RFC 8555 requires https. */
export function directoryUrlProblem(text: string): 'not-a-url' | 'not-https' | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not-a-url';
  }
  return url.protocol === 'https:' ? undefined : 'not-https';
}

// The renewal watch's environment, which the stack also sets and checks.

/** WATCH_INTERVAL_SECONDS's default: the stack's default schedule (DEFAULT_WATCH_SCHEDULE, infra/schedules.ts). */
export const DEFAULT_INTERVAL_SECONDS = 3_600;
/** WATCH_INTERVAL_SECONDS's bounds: a minute to the 4 days an at-risk alarm may wait at most. */
export const INTERVAL_RANGE = [60, 4 * 86_400] as const;

/**
 * Renewals kept in flight at once. With Route 53's 5 requests/s, about 8 requests per rotation
 * (docs/PERFORMANCE.md) and 50 rotations sharing the budget, each gets a request every 10 s or so
 * at worst: a rotation then needs about 80 s, far inside its 300 s DNS budget and 900 s timeout.
 */
export const DEFAULT_MAX_IN_FLIGHT = 50;
/** WATCH_MAX_CONCURRENT_ROTATIONS's bounds (the stack's watchMaxConcurrentRotations too). */
export const MAX_IN_FLIGHT_RANGE = [1, 500] as const;
