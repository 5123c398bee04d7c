import { pollDelay, type Deadline } from '../lib/deadline.js';
import type { ChallengeRecord, DnsProvider } from '../dns01/provider.js';
import { AcmeError, DeadlineError, SpecError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { pollUntil } from '../lib/retry.js';
import type { CertificateSpec } from '../certificate/spec.js';
import type { AcmeAuthorization, AcmeChallenge, AcmeOrder, CaClient } from './ca.js';
import { CaWaitDeadlineError } from './fallback.js';
import { generatePrivateKey } from './keys.js';

export interface IssuedCertificate {
  /** The CA's PEM: leaf first, then intermediates. */
  certificatePem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
}

export interface IssueDeps {
  ca: CaClient;
  /** The DNS-01 solver (dns01/solver.ts): present, check, clean up. */
  dns: DnsProvider;
  logger: Logger;
  /** Bounds for DNS (INSYNC + propagation) and for CA validation/issuance. */
  dnsDeadline: Deadline;
  /** Called when CA work (validation, issuance) starts: its budget does not include DNS time. */
  acmeDeadline: () => Deadline;
  /** ARI certificate id of the certificate this one replaces (RFC 9773), if any. */
  replaces?: string;
  /** ACME_PREFERRED_CHAIN: the root or top issuer name of the chain to keep, when the CA offers several. */
  preferredChain?: string;
  /** The secret's name, for errors about its tags. */
  secretName?: string;
  pollMinMs?: number;
  pollMaxMs?: number;
}

function problemDetail(authz: AcmeAuthorization): string {
  for (const ch of authz.challenges) {
    const err = (ch as { error?: { type?: string; detail?: string } }).error;
    if (err) return `${err.type ?? 'error'}: ${err.detail ?? 'no detail'}`;
  }
  return `authorization is ${authz.status}`;
}

/**
 * Quick looks after the first one: a CA often validates or issues within milliseconds of being
 * asked (Pebble, a warm Boulder), so looks 5, 10, 20 and 40 ms apart cost four small requests at
 * most and save tens of ms; after them, polls follow the time waited (pollDelay).
 */
const EARLY_LOOKS_MS = [5, 10, 20, 40];

async function poll<T>(
  what: string,
  deadline: Deadline,
  fetch: () => Promise<T>,
  done: (value: T) => boolean,
  minMs: number,
  maxMs: number,
): Promise<T> {
  const outcome = await pollUntil(fetch, done, {
    delayMs: (looks, waitedMs) => {
      const early = EARLY_LOOKS_MS[looks - 1];
      return early !== undefined ? Math.min(early, minMs) : pollDelay(waitedMs, minMs, maxMs);
    },
    // The deadline ends the poll from here: a wait that would cross it throws DeadlineError, as
    // the CA's failure to finish (a CA may fall back to the next one on it, rotation/acme/fallback.ts).
    sleep: async (ms) => {
      try {
        await deadline.sleep(ms, what);
      } catch (err) {
        if (err instanceof DeadlineError) throw new CaWaitDeadlineError(err.detail, { cause: err });
        throw err;
      }
    },
  });
  if (outcome.done) return outcome.value;
  // Not reached: this poll has no time bound of its own and cannot be cancelled.
  throw new DeadlineError(`stopped waiting for ${what}`);
}

/**
 * Refusals of `replaces` after which a plain order is right: the certificate was already replaced
 * (RFC 9773 §5: 409 alreadyReplaced — the retry of a half-finished rotation, or a second rotation
 * racing this one), or the CA does not accept it as ours to replace (unknown to it, another
 * account's, no name in common). Rate limits, server errors and unreachable CAs are not refusals
 * of the `replaces`: ordering again at once would only double the load.
 */
function replacesRefused(err: unknown): string | undefined {
  if (!(err instanceof AcmeError) || err.status === undefined) return undefined;
  if (err.problemType === 'alreadyReplaced' || err.status === 409) {
    return 'the CA says the certificate was already replaced (a retry of a half-finished rotation, or another rotation of this secret raced this one)';
  }
  if (err.problemType === 'rateLimited' || err.status === 429 || err.status >= 500) return undefined;
  if (['malformed', 'unauthorized'].includes(err.problemType ?? '') || err.status === 400 || err.status === 403) {
    return `the CA does not accept the certificate as one this order may replace (${err.problemType ?? `HTTP ${err.status}`})`;
  }
  return undefined;
}

/**
 * newOrder, as an ARI renewal (RFC 9773 `replaces`, exempt from rate limits) when the current
 * certificate is known and the CA supports it. A CA that refuses the `replaces` itself (see
 * replacesRefused) gets a plain order instead; any other failure is the order's failure.
 */
async function newOrder(spec: CertificateSpec, deps: IssueDeps): Promise<AcmeOrder> {
  const { ca, logger } = deps;
  const replaces = deps.replaces && (await ca.supportsRenewalInfo()) ? deps.replaces : undefined;
  if (!replaces) return ca.createOrder(spec.domains, spec.profile);
  try {
    return await ca.createOrder(spec.domains, spec.profile, replaces);
  } catch (err) {
    const why = replacesRefused(err);
    if (!why) throw err;
    logger.warn('the CA refused the order as a renewal (replaces); ordering without it', {
      replaces,
      why,
      error: errorMessage(err),
    });
    return ca.createOrder(spec.domains, spec.profile);
  }
}

/**
 * A profile the CA does not offer is refused at newOrder; when the directory lists its profiles
 * (`meta.profiles`), say so before anything is ordered or written to DNS. A CA that lists none
 * gets the profile in newOrder and judges it there.
 */
async function checkProfile(spec: CertificateSpec, deps: IssueDeps): Promise<void> {
  if (!spec.profile) return;
  const offered = await deps.ca.profiles();
  if (!offered || Object.hasOwn(offered, spec.profile)) return;
  const names = Object.keys(offered);
  throw new SpecError(
    `secret "${deps.secretName ?? '?'}": tag acme:profile names profile "${spec.profile}", which the CA does not offer; ` +
      (names.length
        ? `it offers ${names.map((n) => `"${n}"`).join(', ')}: set acme:profile to one of them, or remove the tag for the CA's default`
        : 'it offers no profiles: remove the tag'),
  );
}

/**
 * ACME order + DNS-01: order, publish every TXT value at once (one change per zone), wait for
 * INSYNC and propagation, answer all challenges in parallel, finalize, download. TXT values we
 * wrote are removed in every outcome (once validated, while the order is finalized); a clean-up
 * failure is logged and never hides the original error.
 */
export async function issueCertificate(spec: CertificateSpec, deps: IssueDeps): Promise<IssuedCertificate> {
  const { ca, dns, logger } = deps;
  const minMs = deps.pollMinMs ?? 100;
  const maxMs = deps.pollMaxMs ?? 2_000;

  // The key and CSR do not depend on the CA: build them while the order, DNS and validation wait
  // on the network (RSA keys take a while; the CSR's signature is a few ms even for ECDSA).
  const keyPromise = generatePrivateKey(spec.keyType);
  const csrPromise = keyPromise.then((keyPem) => ca.createCsr(spec.domains, keyPem));
  csrPromise.catch(() => undefined);

  await checkProfile(spec, deps);
  let order: AcmeOrder = await logger.time('acme-order', () => newOrder(spec, deps), {
    names: spec.domains.length,
  });
  if (order.status === 'invalid')
    throw new AcmeError(
      'OrderInvalid',
      `the CA created the order already invalid: ${JSON.stringify(order.error ?? {})}`,
    );

  const authorizations = await ca.getAuthorizations(order);
  const todo: { authz: AcmeAuthorization; challenge: AcmeChallenge; record: ChallengeRecord }[] = [];
  for (const authz of authorizations) {
    if (authz.status === 'valid') continue; // reused authorization: answering it would be an error
    if (authz.status !== 'pending') {
      throw new AcmeError(
        'AuthorizationInvalid',
        `authorization for ${authz.identifier.value} is ${authz.status}: ${problemDetail(authz)}`,
      );
    }
    const challenge = authz.challenges.find((c) => c.type === 'dns-01');
    if (!challenge) {
      throw new AcmeError(
        'NoDnsChallenge',
        `the CA offered no dns-01 challenge for ${authz.identifier.value} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`,
      );
    }
    todo.push({
      authz,
      challenge,
      record: { domain: authz.identifier.value.toLowerCase(), value: await ca.keyAuthorization(challenge) },
    });
  }
  logger.info('authorizations', {
    total: authorizations.length,
    reused: authorizations.length - todo.length,
    toValidate: todo.length,
  });

  let acmeDeadline: Deadline | undefined;
  /** The TXT clean-up; never rejects (a failure is logged, the next rotation retries it). */
  let cleanedUp: Promise<void> = Promise.resolve();
  if (todo.length > 0) {
    const records = todo.map((t) => t.record);
    const cleanUp = async (failure?: unknown): Promise<void> => {
      try {
        await dns.cleanUp(records, deps.dnsDeadline); // logs its own 'dns-cleanup' timing
      } catch (cleanupError) {
        logger.error('could not remove our TXT records; the next rotation will retry the clean-up', {
          error: errorMessage(cleanupError),
          ...(failure ? { originalError: errorMessage(failure) } : {}),
        });
      }
    };
    try {
      const placed = await dns.present(records, deps.dnsDeadline);
      await dns.check(placed, deps.dnsDeadline); // logs its own 'dns-propagation' timing
      await logger.time('acme-validation', async () => {
        acmeDeadline = deps.acmeDeadline();
        await Promise.all(todo.map((t) => ca.completeChallenge(t.challenge)));
        // One request per poll whatever the number of names: the order leaves `pending` when every
        // authorization is valid (`ready`) or one failed (`invalid`); only then fetch the details.
        order = await poll(
          'the CA to validate the challenges',
          acmeDeadline,
          () => ca.getOrder(order),
          (o) => o.status !== 'pending',
          minMs,
          maxMs,
        );
        if (order.status === 'invalid') {
          const list = await ca.getAuthorizations(order);
          const bad =
            list.find((a) => a.status !== 'valid' && a.status !== 'pending') ?? list.find((a) => a.status !== 'valid');
          throw new AcmeError(
            'ChallengeFailed',
            bad
              ? `the CA could not validate ${bad.identifier.value}: ${problemDetail(bad)}`
              : `the CA marked the order invalid: ${JSON.stringify(order.error ?? {})}`,
          );
        }
      });
    } catch (err) {
      await cleanUp(err);
      throw err;
    }
    // Validated: the TXT values have served their purpose; remove them while the order is finalized.
    cleanedUp = cleanUp();
  }

  try {
    const csr = await csrPromise;
    const certificatePem = await finalizeAndDownload(
      deps,
      order,
      acmeDeadline ?? deps.acmeDeadline(),
      csr,
      minMs,
      maxMs,
    );
    return { certificatePem, privateKeyPem: await keyPromise };
  } finally {
    await cleanedUp;
  }
}

/** Finalize a validated order with the CSR, wait for the certificate, download it. */
async function finalizeAndDownload(
  deps: IssueDeps,
  validated: AcmeOrder,
  deadline: Deadline,
  csr: Buffer,
  minMs: number,
  maxMs: number,
): Promise<string> {
  const { ca, logger } = deps;
  const done = await logger.time('acme-finalize', async () => {
    let o = validated;
    if (o.status === 'pending') {
      o = await poll(
        'the order to become ready',
        deadline,
        () => ca.getOrder(o),
        (x) => x.status !== 'pending',
        minMs,
        maxMs,
      );
    }
    if (o.status === 'ready') o = await ca.finalize(o, csr);
    return poll(
      'the CA to issue the certificate',
      deadline,
      async () => (o.status === 'valid' ? o : (o = await ca.getOrder(o))),
      (x) => {
        if (x.status === 'invalid')
          throw new AcmeError('OrderInvalid', `the CA marked the order invalid: ${JSON.stringify(x.error ?? {})}`);
        return x.status === 'valid';
      },
      minMs,
      maxMs,
    );
  });
  return logger.time('acme-download', () => ca.download(done, deps.preferredChain));
}
