/**
 * When a rotation moves on to the next CA, and what it remembers of the CAs that failed.
 *
 * Only the CA's own failures to serve fall through: it cannot be reached, it answers 5xx after
 * the retries, it rate-limits past what the invocation can wait, it reports `serverInternal`, it
 * keeps rejecting nonces, or an order never becomes valid (refused at creation or after
 * finalize, or still processing when ACME_TIMEOUT_SECONDS ran out). Everything else is ours and
 * fails the rotation as it is: DNS (zones, propagation, a validation the CA could not make against
 * our TXT record), the spec (names, profile, a CA's refusal of a name), CAA, and the account
 * (unauthorized, missing EAB, a deactivated account). Another CA would fail the same way, or would
 * hide a setting the operator must fix; its failure notice says what to fix instead.
 *
 * The CAs that failed in a rotation are kept in a tag on the certificate secret
 * (`acme-rotation:inflight-ca-failed` = `<token> <index>:<code> …`: under the in-flight tags'
 * prefix, which the stack's aws:ignoreTags covers, but none of them), not in a secret version (a version
 * written mid-rotation makes Secrets Manager abandon the rotation). Secrets Manager's retry of the
 * same rotation (same token) then starts with a CA that has not failed yet; a new rotation (a new
 * token) starts again at the first CA (see orderCas).
 */
import type { CaFallbackRecord } from '../certificate/bundle.js';
import { CA_FAILED_TAG, MAX_TAG_VALUE } from '../certificate/tags.js';
import { AcmeError, DeadlineError, type RotationError } from '../lib/errors.js';

/** A CA the rotation fell away from: recorded in the bundle, the success notice and the logs. */
export type CaFallback = CaFallbackRecord;

/**
 * A wait on the CA (validation, the order becoming ready, issuance) that ran out of time: the
 * CA's failure to finish an order, unlike a DNS wait that ran out.
 */
export class CaWaitDeadlineError extends DeadlineError {
  override name = 'DeadlineError';
}

/**
 * Why a failure is the CA's own failure to serve (the rotation may move on to the next CA), or
 * undefined when it is ours (the rotation fails as it is).
 */
export function caFailure(err: unknown): string | undefined {
  if (err instanceof CaWaitDeadlineError) return 'the CA did not finish the order within ACME_TIMEOUT_SECONDS';
  if (!(err instanceof AcmeError)) return undefined;
  switch ((err as RotationError).code) {
    case 'AcmeUnreachable':
      return 'the CA could not be reached';
    case 'AcmeRateLimited':
      return 'the CA rate-limited the request for longer than this rotation can wait';
    case 'AcmeBadNonce':
      return 'the CA kept rejecting nonces';
    case 'OrderInvalid':
      return 'the CA marked the order invalid without a failed validation';
    default:
      break;
  }
  if (err.problemType === 'serverInternal') return 'the CA reported an internal error (serverInternal)';
  if (err.status !== undefined && err.status >= 500) return `the CA answered HTTP ${err.status} after the retries`;
  return undefined;
}

/** One recorded failure: the CA's position in the function's list and its error code. */
export interface FailedCa {
  index: number;
  code: string;
}

/**
 * The tag value recording the CAs that failed in rotation `token`. Should the codes not fit, they
 * give way to `?` (the CAs' positions are what the retry needs).
 */
export function failedCasTag(token: string, failed: readonly FailedCa[]): Record<string, string> {
  const full = [token, ...failed.map((f) => `${f.index}:${f.code}`)].join(' ');
  const value = full.length <= MAX_TAG_VALUE ? full : [token, ...failed.map((f) => `${f.index}:?`)].join(' ');
  return { [CA_FAILED_TAG]: value };
}

/** The CAs recorded as failed in rotation `token` (none when the tag is another rotation's). */
export function readFailedCas(tags: ReadonlyArray<{ Key?: string; Value?: string }>, token: string): FailedCa[] {
  const value = tags.find((t) => t.Key === CA_FAILED_TAG)?.Value?.trim();
  if (!value) return [];
  const [recordedToken, ...entries] = value.split(/\s+/);
  if (recordedToken !== token) return [];
  const out: FailedCa[] = [];
  for (const entry of entries) {
    const m = /^(\d+):([A-Za-z]+|\?)$/.exec(entry);
    if (m && !out.some((f) => f.index === Number(m[1]))) out.push({ index: Number(m[1]), code: m[2] as string });
  }
  return out;
}
