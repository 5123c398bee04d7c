/**
 * The certificate spec: what to issue, read from the tags on the certificate secret
 * (DescribeSecret's `Tags`), so one rotation function serves any number of certificates.
 *
 * | tag                     | meaning                                                            |
 * |-------------------------|--------------------------------------------------------------------|
 * | `acme:domains`          | required; comma-separated DNS names, wildcards allowed             |
 * | `acme:domains:2`, `:3`… | continuation of `acme:domains` (see below)                         |
 * | `acme:key-type`         | `ecdsa-p256` (default), `ecdsa-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096` |
 * | `acme:hosted-zone-ids`  | optional comma-separated Route 53 zone ids (`Z…` or `/hostedzone/Z…`) |
 * | `acme:profile`          | optional ACME profile name (e.g. `tlsserver`, `shortlived`)        |
 * | `acme:acm-certificate-arns` | optional comma-separated ACM certificate ARNs to re-import into (continued like `acme:domains`) |
 * | `acme:ca`               | optional comma-separated CA names (ACME_CAS `name`, else the directory's host): the CAs this certificate may come from, in order |
 *
 * Continuation tags: a Secrets Manager tag value holds at most 255 characters, which is far less
 * than a certificate's 100 names need. The list may therefore go on in `acme:domains:2`,
 * `acme:domains:3`, … (consecutive numbers from 2, no leading zeros). Their values are appended
 * to `acme:domains` in numeric order, as if joined with commas; a single name never spans two
 * tags. `acme:domains` itself must be present (its first name becomes the certificate's CN).
 * `domainTags()` produces such tags from a list of names.
 *
 * Every other tag whose key starts with `acme:` (in any letter case) is an error, so a typo like
 * `acme:domain` or `ACME:domains` never silently drops part of the spec. Tags without the
 * `acme:` prefix (including the status tags `ExpirationDate`, `IssuedAt`, `Domains`) are ignored.
 */
import { bareZoneId, CA_NAME_RE, isProfileName, isZoneId, MAX_NAMES } from './rules.js';

import { SPEC_TAG_PREFIX, SPEC_TAGS, MAX_TAG_VALUE } from './tags.js';
import { SpecError } from '../lib/errors.js';
import { KEY_TYPES, type KeyType } from './key-types.js';
import { parseAcmArn } from './acm-arns.js';
import { checkDomain } from './domains.js';

export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

/** The list tags that may go on in `<tag>:2`, `<tag>:3`, … */
const LIST_TAGS = [SPEC_TAGS.domains, SPEC_TAGS.acmCertificateArns] as const;
type ListTag = (typeof LIST_TAGS)[number];

export interface CertificateSpec {
  /** Normalised (lower-case, ASCII/punycode, no trailing dot), de-duplicated, in tag order. */
  domains: string[];
  keyType: KeyType;
  /** Bare zone ids (`Z…`, without `/hostedzone/`), de-duplicated; empty = discover by suffix. */
  hostedZoneIds: string[];
  profile?: string;
  /** ACM certificates to re-import every new certificate into (rotation/acm/); empty = none. */
  acmCertificateArns: string[];
  /**
   * `acme:ca`: the CAs (by name, lower case) this certificate may be ordered from, in order, instead
   * of the function's whole list; undefined = every configured CA. Checked against the function's
   * CAs when the rotation chooses one (rotation/acme/choice.ts).
   */
  cas?: string[];
}

const CONTINUATION_RE = /^(acme:domains|acme:acm-certificate-arns):([1-9][0-9]*)$/;

const DOMAINS_EXAMPLE = 'a comma-separated list of DNS names like example.com,*.example.com';
const KNOWN_TAGS_TEXT =
  `${SPEC_TAGS.domains} (continued in ${SPEC_TAGS.domains}:2, ${SPEC_TAGS.domains}:3, …), ` +
  `${SPEC_TAGS.keyType}, ${SPEC_TAGS.hostedZoneIds}, ${SPEC_TAGS.profile}, ${SPEC_TAGS.acmCertificateArns} (continued likewise), ${SPEC_TAGS.ca}`;

const quote = (value: string): string => JSON.stringify(value);

function specError(secretName: string, tag: string, value: string, reason: string): SpecError {
  return new SpecError(`secret ${quote(secretName)}: tag ${tag} value ${quote(value)} is invalid: ${reason}`);
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Parse and normalise the spec from DescribeSecret's Tags. */
export function parseSpec(
  secretName: string,
  tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined,
): CertificateSpec {
  const known = new Map<string, string>();
  const continuations = new Map<ListTag, Map<number, string>>(LIST_TAGS.map((t) => [t, new Map<number, string>()]));

  for (const tag of tags ?? []) {
    const key = tag.Key;
    if (key === undefined) continue;
    const value = tag.Value ?? '';
    if (!key.trim().toLowerCase().startsWith(SPEC_TAG_PREFIX)) continue;

    const isKnown = (Object.values(SPEC_TAGS) as string[]).includes(key);
    const cont = CONTINUATION_RE.exec(key);
    const contIndex = cont?.[2] !== undefined ? Number(cont[2]) : undefined;
    const contOf = continuations.get(cont?.[1] as ListTag);
    if (isKnown) {
      if (known.has(key)) throw new SpecError(`secret ${quote(secretName)}: tag ${key} appears more than once`);
      known.set(key, value);
    } else if (contIndex !== undefined && contIndex >= 2 && contOf) {
      if (contOf.has(contIndex)) {
        throw new SpecError(`secret ${quote(secretName)}: tag ${key} appears more than once`);
      }
      contOf.set(contIndex, value);
    } else {
      throw new SpecError(
        `secret ${quote(secretName)}: tag ${key} is not a known acme: tag (tag keys are case-sensitive); ` +
          `the known ones are ${KNOWN_TAGS_TEXT}; tags starting with acme: are reserved for the certificate spec`,
      );
    }
  }

  // --- acme:domains (+ continuations) ---
  const base = known.get(SPEC_TAGS.domains);
  if (base === undefined) {
    const what = tags === undefined || tags.length === 0 ? 'has no tags' : `has no ${SPEC_TAGS.domains} tag`;
    throw new SpecError(
      `secret ${quote(secretName)}: tag ${SPEC_TAGS.domains} is missing (the secret ${what}); set it to ${DOMAINS_EXAMPLE}`,
    );
  }
  const sources = listSources(secretName, SPEC_TAGS.domains, base, continuations.get(SPEC_TAGS.domains));

  const domains: string[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    for (const item of splitList(source.value)) {
      const result = checkDomain(item);
      if (!result.ok) throw specError(secretName, source.tag, item, result.reason);
      if (!seen.has(result.name)) {
        seen.add(result.name);
        domains.push(result.name);
      }
    }
  }
  if (domains.length === 0) {
    throw specError(secretName, SPEC_TAGS.domains, base, `it lists no names; set it to ${DOMAINS_EXAMPLE}`);
  }
  if (domains.length > MAX_NAMES) {
    throw new SpecError(
      `secret ${quote(secretName)}: tag ${SPEC_TAGS.domains} lists ${domains.length} distinct names, more than the limit of ` +
        `${MAX_NAMES} names per certificate; split them across several certificate secrets`,
    );
  }

  // --- acme:key-type ---
  let keyType: KeyType = DEFAULT_KEY_TYPE;
  const rawKeyType = known.get(SPEC_TAGS.keyType);
  if (rawKeyType !== undefined && rawKeyType.trim() !== '') {
    const wanted = rawKeyType.trim().toLowerCase();
    const match = KEY_TYPES.find((k) => k === wanted);
    if (match === undefined) {
      throw specError(
        secretName,
        SPEC_TAGS.keyType,
        rawKeyType,
        `allowed values are ${KEY_TYPES.join(', ')} (default ${DEFAULT_KEY_TYPE})`,
      );
    }
    keyType = match;
  }

  // --- acme:hosted-zone-ids ---
  const hostedZoneIds: string[] = [];
  for (const item of splitList(known.get(SPEC_TAGS.hostedZoneIds) ?? '')) {
    const id = bareZoneId(item);
    if (!isZoneId(id)) {
      throw specError(
        secretName,
        SPEC_TAGS.hostedZoneIds,
        item,
        'a hosted zone id is 1 to 32 upper-case letters and digits, like Z0123456789ABCDEFGHIJ or /hostedzone/Z0123456789ABCDEFGHIJ',
      );
    }
    if (!hostedZoneIds.includes(id)) hostedZoneIds.push(id);
  }

  // --- acme:profile ---
  const spec: CertificateSpec = { domains, keyType, hostedZoneIds, acmCertificateArns: [] };
  const rawProfile = known.get(SPEC_TAGS.profile);
  if (rawProfile !== undefined && rawProfile.trim() !== '') {
    const profile = rawProfile.trim();
    if (!isProfileName(profile)) {
      throw specError(
        secretName,
        SPEC_TAGS.profile,
        rawProfile,
        'a profile name is 1 to 64 letters, digits, ".", "_" or "-", like tlsserver or shortlived',
      );
    }
    spec.profile = profile;
  }

  // --- acme:ca ---
  const rawCas = known.get(SPEC_TAGS.ca);
  if (rawCas !== undefined && rawCas.trim() !== '') {
    const names: string[] = [];
    for (const item of splitList(rawCas)) {
      if (!CA_NAME_RE.test(item)) {
        throw specError(
          secretName,
          SPEC_TAGS.ca,
          item,
          'a CA is named by its ACME_CAS "name", or by its directory URL\'s host (like acme-v02.api.letsencrypt.org)',
        );
      }
      if (!names.includes(item.toLowerCase())) names.push(item.toLowerCase());
    }
    if (names.length > 0) spec.cas = names;
  }

  // --- acme:acm-certificate-arns (+ continuations) ---
  const arnsBase = known.get(SPEC_TAGS.acmCertificateArns);
  const arnContinuations = continuations.get(SPEC_TAGS.acmCertificateArns);
  if (arnsBase === undefined && arnContinuations && arnContinuations.size > 0) {
    throw new SpecError(
      `secret ${quote(secretName)}: tag ${SPEC_TAGS.acmCertificateArns}:${[...arnContinuations.keys()][0]} is present but ` +
        `${SPEC_TAGS.acmCertificateArns} is missing; the list starts in ${SPEC_TAGS.acmCertificateArns}`,
    );
  }
  for (const source of arnsBase === undefined
    ? []
    : listSources(secretName, SPEC_TAGS.acmCertificateArns, arnsBase, arnContinuations)) {
    for (const item of splitList(source.value)) {
      const parsed = parseAcmArn(item);
      if (typeof parsed === 'string') throw specError(secretName, source.tag, item, parsed);
      if (!spec.acmCertificateArns.includes(parsed.arn)) spec.acmCertificateArns.push(parsed.arn);
    }
  }
  return spec;
}

/** A list tag and its continuations, in order; a gap in the numbering is an error. */
function listSources(
  secretName: string,
  tag: ListTag,
  base: string,
  continuations: Map<number, string> | undefined,
): Array<{ tag: string; value: string }> {
  const sources: Array<{ tag: string; value: string }> = [{ tag, value: base }];
  const indices = [...(continuations?.keys() ?? [])].sort((a, b) => a - b);
  indices.forEach((index, i) => {
    const expected = i + 2;
    if (index !== expected) {
      throw new SpecError(
        `secret ${quote(secretName)}: tag ${tag}:${index} is present but ${tag}:${expected} is missing; ` +
          `continuation tags must be numbered consecutively from ${tag}:2`,
      );
    }
    sources.push({ tag: `${tag}:${index}`, value: continuations?.get(index) ?? '' });
  });
  return sources;
}

/**
 * The `acme:domains` tag and as many continuation tags (`acme:domains:2`, …) as the names need,
 * each value at most 255 characters (MAX_TAG_VALUE), names never split. The inverse of parseSpec's domain part,
 * for whoever writes the tags (Pulumi).
 */
export function domainTags(domains: readonly string[]): Array<{ Key: string; Value: string }> {
  return listTags(SPEC_TAGS.domains, domains);
}

/** The `acme:acm-certificate-arns` tag and its continuations, like domainTags (none for no ARNs). */
export function acmArnTags(arns: readonly string[]): Array<{ Key: string; Value: string }> {
  return arns.length === 0 ? [] : listTags(SPEC_TAGS.acmCertificateArns, arns);
}

function listTags(tag: ListTag, items: readonly string[]): Array<{ Key: string; Value: string }> {
  const values: string[] = [];
  let current = '';
  for (const name of items) {
    const next = current === '' ? name : `${current},${name}`;
    if (next.length <= MAX_TAG_VALUE || current === '') {
      current = next;
    } else {
      values.push(current);
      current = name;
    }
  }
  if (current !== '' || values.length === 0) values.push(current);
  return values.map((Value, i) => ({ Key: i === 0 ? tag : `${tag}:${i + 1}`, Value }));
}
