/**
 * Which CAs a certificate is ordered from, in which order: the function's list (ACME_CAS) or the
 * certificate's own (`acme:ca`), less the CAs its names' CAA records forbid (RFC 8659), with the
 * CAs that already failed in this rotation moved to the end (rotation/acme/fallback.ts).
 *
 * Going back: every new rotation starts again at the first CA, as Caddy/CertMagic does, with no
 * cool-down. The order is the operator's preference; an outage is short next to a certificate's
 * renewal period; `replaces` (exempt from Let's Encrypt's rate limits) and ARI work only at the
 * issuing CA, so staying away from the first CA would cost every later renewal those; and a CA
 * that is still down costs one fall-through (bounded by the request timeout and retries), not the
 * certificate. A cool-down would need state that outlives the rotation and would go stale.
 */
import { SPEC_TAGS } from '../certificate/tags.js';
import type { CaaLookup, CaaSet } from './caa.js';
import { caaAllows, caaRestricts } from './caa.js';
import { DnsError, SpecError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { CertificateSpec } from '../certificate/spec.js';
import type { FailedCa } from './fallback.js';

/** A CA to try, with its position in the function's list (what the failure tag records). */
/**
 * One CA of the ordered list (ACME_CAS, or the one CA of ACME_DIRECTORY_URL). Its EAB credentials,
 * where it requires them, live in its account secret (`{"eab": {"kid", "hmac_key"}}`), never here:
 * the environment is readable by anyone who may read the function's configuration.
 */
export interface CaSettings {
  /**
   * What notices, metrics (dimension `Ca`), logs and the `acme:ca` tag call it: the entry's `name`,
   * else the directory URL's host (with its port when it has one).
   */
  name: string;
  directoryUrl: string;
  /** Its own account secret; unset = a fresh account key per rotation. */
  accountSecretId?: string;
  /** The profile ordered from this CA when the certificate's `acme:profile` tag names none. */
  profile?: string;
  /** Of the chains this CA offers, the one whose top issuer has this common name. */
  preferredChain?: string;
}

export interface CaCandidate {
  index: number;
  settings: CaSettings;
}

export interface CaChoice {
  /** The CAs to try, in order. */
  order: CaCandidate[];
  /** CAs the CAA records forbid, each with the record that does. */
  skipped: { ca: string; why: string }[];
}

/** The CAs the certificate may come from: `acme:ca`'s, in its order, else the function's list. */
export function candidatesOf(cas: readonly CaSettings[], spec: CertificateSpec, secretName: string): CaCandidate[] {
  const all = cas.map((settings, index) => ({ index, settings }));
  if (!spec.cas) return all;
  return spec.cas.map((name) => {
    const found = all.find((c) => c.settings.name.toLowerCase() === name);
    if (!found) {
      throw new SpecError(
        `secret ${JSON.stringify(secretName)}: tag ${SPEC_TAGS.ca} names CA "${name}", which this function does not have; ` +
          `its CAs are ${cas.map((c) => `"${c.name}"`).join(', ')} (ACME_CAS)`,
      );
    }
    return found;
  });
}

/** The CAs that failed earlier in this rotation go last, in the order they were tried. */
export function retryOrder(candidates: readonly CaCandidate[], failed: readonly FailedCa[]): CaCandidate[] {
  const failedIndexes = new Set(failed.map((f) => f.index));
  return [
    ...candidates.filter((c) => !failedIndexes.has(c.index)),
    ...candidates.filter((c) => failedIndexes.has(c.index)),
  ];
}

/**
 * The CAs to order from. CAA is read for every name; a CA whose identities a restricting record
 * set does not name is skipped. A CA whose directory lists no caaIdentities, or cannot be read,
 * is kept (the CA checks CAA itself, and its refusal is then ours, not a fall-through). A failed
 * lookup leaves the choice to the CAs' own checks. Every CA forbidden: a DnsError naming the records.
 */
export async function chooseCas(opts: {
  cas: readonly CaSettings[];
  spec: CertificateSpec;
  secretName: string;
  failedBefore: readonly FailedCa[];
  caa: CaaLookup;
  caaIdentities: (ca: CaSettings) => Promise<string[] | undefined>;
  logger: Logger;
}): Promise<CaChoice> {
  const { spec, logger } = opts;
  const candidates = candidatesOf(opts.cas, spec, opts.secretName);
  let sets: CaaSet[] = [];
  try {
    sets = await logger.time('caa-lookup', () => Promise.all(spec.domains.map((d) => opts.caa.relevantSet(d))), {
      names: spec.domains.length,
    });
  } catch (err) {
    logger.warn('could not read the CAA records; leaving the CAA check to the CA', { error: errorMessage(err) });
  }
  const restricting = sets.filter(caaRestricts);
  const allowed: CaCandidate[] = [];
  const skipped: CaChoice['skipped'] = [];
  for (const candidate of candidates) {
    if (restricting.length === 0) {
      allowed.push(candidate);
      continue;
    }
    let identities: string[] | undefined;
    try {
      identities = await opts.caaIdentities(candidate.settings);
    } catch (err) {
      logger.warn("could not read the CA's directory for its CAA identities; keeping it", {
        ca: candidate.settings.name,
        error: errorMessage(err),
      });
    }
    const verdicts = restricting.map((set) => caaAllows(set, identities));
    const forbidden = verdicts.find((v) => v.allowed === false);
    if (forbidden && forbidden.allowed === false) {
      skipped.push({ ca: candidate.settings.name, why: forbidden.why });
      logger.warn('CAA forbids this CA for the certificate; skipping it', {
        ca: candidate.settings.name,
        why: forbidden.why,
      });
      continue;
    }
    const unknown = verdicts.find((v) => v.allowed === 'unknown');
    if (unknown && unknown.allowed === 'unknown') {
      logger.info('cannot tell whether CAA allows this CA; the CA checks it', {
        ca: candidate.settings.name,
        why: unknown.why,
      });
    }
    allowed.push(candidate);
  }
  if (allowed.length === 0) {
    throw new DnsError(
      'AcmeCaaForbids',
      `secret ${JSON.stringify(opts.secretName)}: the CAA records forbid every CA this certificate may come from: ` +
        skipped.map((s) => `${s.ca}: ${s.why}`).join('; '),
      {
        hint: 'add an issue (and, for wildcards, issuewild) CAA record naming one of these CAs, or configure a CA the records allow',
      },
    );
  }
  return { order: retryOrder(allowed, opts.failedBefore), skipped };
}
