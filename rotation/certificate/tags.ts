/**
 * Every tag key acme-rotation reads or writes on a certificate secret. The stack grants the roles
 * these keys, tells Pulumi to leave the written ones alone (aws:ignoreTags) and checks the spec tags
 * it writes, all from here, so a key renamed here is renamed everywhere.
 *
 * - `acme:*`, the spec: written by the operator (or the stack), read by the rotation and the watch.
 *   Every other `acme:` key is an error (certificate/spec.ts), so a typo never drops part of a spec.
 * - The status tags, written after each promotion: readable without decrypting the secret.
 * - `acme-rotation:*`, the tools' own state: what a rotation has in flight (so a retry can clean
 *   up), its last failure, and the renewal watch's state between runs. Never `acme:`.
 */
import { redact } from '../lib/log.js';

/** Prefix of the certificate spec's tags; every `acme:` key must be one of SPEC_TAGS. */
export const SPEC_TAG_PREFIX = 'acme:';

/** The certificate spec (certificate/spec.ts). `domains` and `acmCertificateArns` continue in `<key>:2`, `<key>:3`, … */
export const SPEC_TAGS = {
  domains: 'acme:domains',
  keyType: 'acme:key-type',
  hostedZoneIds: 'acme:hosted-zone-ids',
  profile: 'acme:profile',
  acmCertificateArns: 'acme:acm-certificate-arns',
  ca: 'acme:ca',
} as const;

/**
 * The status tags the rotation writes on the secret after each promotion, from the bundle's
 * `expiry`, `issued_at` and `domains` (README: "Tags the Lambda writes").
 */
export const STATUS_TAGS = { expirationDate: 'ExpirationDate', issuedAt: 'IssuedAt', domains: 'Domains' } as const;
/** The status tag keys, in the order the rotation writes them. */
export const STATUS_TAG_KEYS = [STATUS_TAGS.expirationDate, STATUS_TAGS.issuedAt, STATUS_TAGS.domains] as const;

/** The prefix every tag of the tools' own state shares: aws:ignoreTags may name this one prefix. */
export const STATE_TAG_PREFIX = 'acme-rotation:';

/**
 * The rotation's in-flight tags while its TXT records are in DNS (dns01/inflight.ts):
 * `acme-rotation:inflight` = the rotation token, `acme-rotation:inflight:<n>` = TXT values.
 */
export const INFLIGHT_TAG = 'acme-rotation:inflight';
/**
 * The CAs that failed during a rotation, so its retry starts at the next one (acme/fallback.ts).
 * Under the in-flight tags' prefix (aws:ignoreTags covers it) but none of them.
 */
export const CA_FAILED_TAG = 'acme-rotation:inflight-ca-failed';
/**
 * The rotation's last failure (`<ISO time> <step>: <message>`), written by the failing step and
 * removed by the next promotion; the deployment's waiter quotes it. Under the in-flight prefix too.
 */
export const ROTATION_FAILURE_TAG = 'acme-rotation:inflight-failure';

/**
 * The last-failure tag's value: `<ISO time> <step>: <message>`, private key material redacted (as
 * in the logs), as a tag value with each run of refused characters and white space one space.
 */
export function rotationFailureTagValue(step: string, message: string, at: Date): string {
  return tagValue(`${at.toISOString()} ${step}: ${redact(message)}`, { collapse: true });
}

/** Every tag the renewal watch writes starts with this (watch/tags.ts). */
export const RENEWAL_TAG_PREFIX = 'acme-rotation:renewal';
/** The renewal watch's state between runs. */
export const RENEWAL_TAG = {
  /** The ARI certificate id the state below is for; another certificate starts afresh. */
  cert: 'acme-rotation:renewal-cert',
  /** The CA's suggested window, `<start>/<end>`. */
  window: 'acme-rotation:renewal-window',
  /** The moment chosen inside the window (once per window), or the lifetime-based one without ARI. */
  at: 'acme-rotation:renewal-at',
  /** When the CA may be asked again (its Retry-After, or a backoff after an error). */
  checkAfter: 'acme-rotation:renewal-check-after',
  /** The CA's explanationURL, when it gave one. */
  explanation: 'acme-rotation:renewal-explanation',
  /** The last renewalInfo failure, cleared by the next answer. */
  error: 'acme-rotation:renewal-error',
  /** When the watch last called RotateSecret for this certificate. */
  started: 'acme-rotation:renewal-started',
  /** renewalInfo failures in a row for this certificate (the backoff's exponent), cleared by an answer. */
  failures: 'acme-rotation:renewal-failures',
} as const;
export const RENEWAL_TAG_KEYS = Object.values(RENEWAL_TAG);

/** The prefixes of the tags the tools write (aws:ignoreTags must cover both). */
export const WRITTEN_TAG_PREFIXES = [INFLIGHT_TAG, RENEWAL_TAG_PREFIX] as const;

/**
 * TagResource: "Maximum value length: 255 Unicode characters" (the Tag type's 256 is not what the
 * service enforces). Every value written on a secret, the spec tags the stack writes included, is
 * cut or chunked to this.
 */
export const MAX_TAG_VALUE = 255;
/** TagResource: "Maximum number of tags per secret: 50" (keys starting with `aws:` do not count). */
export const MAX_TAGS_PER_SECRET = 50;

/** What TagResource lets a value hold: letters, digits, spaces and `_ . : / = + - @`. */
export const TAG_VALUE_CHARS = /^[\p{L}\p{N} _.:/=+\-@]*$/u;

/**
 * Text as a tag value: each character a value may not hold becomes a space (with `collapse`, each
 * run of them and of white space becomes one, and the ends are trimmed), cut to MAX_TAG_VALUE code
 * points ending in `...` (Secrets Manager counts Unicode characters; a letter outside the BMP is
 * never split).
 */
export function tagValue(text: string, { collapse = false }: { collapse?: boolean } = {}): string {
  const cleaned = collapse
    ? text.replace(/[^\p{L}\p{N}_.:/=+\-@]+/gu, ' ').trim()
    : text.replace(/[^\p{L}\p{N} _.:/=+\-@]/gu, ' ');
  const chars = [...cleaned];
  return chars.length <= MAX_TAG_VALUE ? cleaned : `${chars.slice(0, MAX_TAG_VALUE - 3).join('')}...`;
}
