/**
 * When a certificate should be renewed, decided without side effects (RFC 9773 §4.2–4.3 and the
 * lifetime backstop), so every rule can be tested with a clock and a random source in hand:
 * - with Renewal Information: a uniformly random moment inside the CA's suggested window, chosen
 *   once per window (kept in tags, so it is stable across runs, as CertMagic keeps its selected
 *   time while the window is unchanged); a window whose end has passed means "now" (how a CA
 *   announces a revocation); ask again after the CA's Retry-After, clamped (see recheckBoundsMs);
 * - the lifetime backstop, always in force: 2/3 of the certificate's actual lifetime, 1/2 for
 *   lifetimes under 10 days. Renewal Information can bring a renewal forward, never push it past
 *   the backstop: a window beyond notAfter, a CA gone silent or state left from an old answer
 *   cannot hold a certificate back until it expires;
 * - §4.2: a moment that falls before the watch's next run means "renew now" (waiting for the next
 *   run would miss it);
 * - §4.3: an expired certificate's Renewal Information is never asked for;
 * - a failed renewalInfo request never makes a certificate due: it schedules the next ask with an
 *   exponential backoff per secret (persisted), never sooner than the CA's Retry-After.
 * Thresholds come from the certificate's own lifetime, never a fixed number of days.
 */
import type { AriAnswer } from '../acme/renewal-info.js';
import type { RenewalState } from './tags.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface CertificateFacts {
  /** RFC 9773 certificate id (undefined when the certificate has no authority key identifier). */
  certId?: string;
  notBefore: Date;
  notAfter: Date;
}

/** A CA asking to be asked again in less than a minute is not taken literally. */
export const MIN_RECHECK_MS = 60_000;
/**
 * Let's Encrypt asks clients to check at least twice a day: a Retry-After longer than 12 h is
 * shortened to it, so a revocation announced through the window is seen within half a day.
 */
export const MAX_RECHECK_MS = 12 * HOUR_MS;
/** Nor may the CA's silence last longer than 1/20 of the certificate's lifetime (8 h of a 160-hour one). */
export const MAX_RECHECK_LIFETIME_FRACTION = 1 / 20;
/** Without a Retry-After: Let's Encrypt's own, 6 h (clamped like any other). */
export const DEFAULT_RECHECK_MS = 6 * HOUR_MS;
/** After the first failed renewalInfo request: 1 h, doubling with each failure in a row, ± 10 %. */
export const ERROR_RECHECK_MS = HOUR_MS;
/** Secrets Manager rotates at most every 4 h: a renewal started this recently is not started again. */
export const RESTART_AFTER_MS = 4 * HOUR_MS;

function lifetimeMs(cert: CertificateFacts): number {
  return Math.max(1, cert.notAfter.getTime() - cert.notBefore.getTime());
}

/** The bounds a Retry-After (or a backoff) is kept within, for this certificate. */
export function recheckBoundsMs(cert: CertificateFacts): { min: number; max: number } {
  const max = Math.max(MIN_RECHECK_MS, Math.min(MAX_RECHECK_MS, lifetimeMs(cert) * MAX_RECHECK_LIFETIME_FRACTION));
  return { min: MIN_RECHECK_MS, max };
}

/** A wait clamped to the certificate's recheck bounds. */
export function clampRecheck(ms: number, cert: CertificateFacts): number {
  const { min, max } = recheckBoundsMs(cert);
  return Math.min(max, Math.max(min, ms));
}

/** The backstop: 2/3 of the lifetime, 1/2 under 10 days. */
export function lifetimeRenewalAt(cert: CertificateFacts): Date {
  const life = lifetimeMs(cert);
  return new Date(cert.notBefore.getTime() + (life < 10 * DAY_MS ? life / 2 : (life * 2) / 3));
}

/**
 * Whether the CA should be asked now: never for an expired certificate (RFC 9773 §4.3: the
 * client MUST NOT), always for another certificate than the state's, else once checkAfter passed.
 */
export function shouldAskCa(state: RenewalState, cert: CertificateFacts, now: Date): boolean {
  if (!cert.certId) return false;
  if (cert.notAfter.getTime() <= now.getTime()) return false;
  if (state.certId !== cert.certId) return true;
  return !state.checkAfter || state.checkAfter.getTime() <= now.getTime();
}

const sameWindow = (a: { start: Date; end: Date } | undefined, b: { start: Date; end: Date }): boolean =>
  !!a && a.start.getTime() === b.start.getTime() && a.end.getTime() === b.end.getTime();

/** The state after the CA answered: the window, a moment in it (kept when the window is the same), the next ask. */
export function withAnswer(
  state: RenewalState,
  cert: CertificateFacts,
  answer: AriAnswer,
  now: Date,
  random: () => number,
): RenewalState {
  const window = { start: answer.start, end: answer.end };
  const keep = state.certId === cert.certId && sameWindow(state.window, window) && state.renewAt;
  const renewAt = keep
    ? (state.renewAt as Date)
    : new Date(window.start.getTime() + random() * (window.end.getTime() - window.start.getTime()));
  const next: RenewalState = {
    ...(cert.certId ? { certId: cert.certId } : {}),
    window,
    renewAt,
    checkAfter: new Date(now.getTime() + clampRecheck(answer.retryAfterMs ?? DEFAULT_RECHECK_MS, cert)),
    ...(answer.explanationUrl ? { explanation: answer.explanationUrl } : {}),
  };
  if (state.certId === cert.certId && state.started) next.started = state.started;
  return next;
}

/**
 * The state after a failed renewalInfo request: what was known stays; the CA is asked again after
 * an exponential backoff (1 h, 2 h, 4 h … per failure in a row, ± 10 %, within the recheck bounds),
 * and never before the CA's own Retry-After when it sent one (a 429 or 503 usually does).
 */
export function withAriError(
  state: RenewalState,
  cert: CertificateFacts,
  error: string,
  now: Date,
  random: () => number,
  retryAfterMs?: number,
): RenewalState {
  const base: RenewalState = state.certId === cert.certId ? { ...state } : cert.certId ? { certId: cert.certId } : {};
  const failures = (state.certId === cert.certId ? (state.failures ?? 0) : 0) + 1;
  const backoff = ERROR_RECHECK_MS * 2 ** Math.min(failures - 1, 16) * (0.9 + 0.2 * random());
  const wait = clampRecheck(Math.max(backoff, retryAfterMs ?? 0), cert);
  return { ...base, error, failures, checkAfter: new Date(now.getTime() + wait) };
}

export type Verdict =
  /** The renewal moment has come, or comes before the next run (or the window is in the past). */
  'due' | 'ok';

export interface Assessment {
  verdict: Verdict;
  /** When the renewal is (or was) due. */
  renewAt: Date;
  /**
   * Where renewAt came from: the CA's window, its window having passed (a revocation), the
   * lifetime without Renewal Information, or the lifetime backstop overriding a later ARI moment.
   */
  basis: 'ari' | 'ari-window-passed' | 'lifetime' | 'lifetime-backstop';
  /** Why the certificate is at risk (it expires soon, or its renewal is overdue), if it is. */
  atRisk?: string;
  hoursLeft: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Is the certificate due, and is it at risk? `nextRunMs` is how long until the watch runs again
 * (its schedule's longest gap): a renewal moment before then is due now (RFC 9773 §4.2). At risk:
 * less than a quarter of its lifetime (at most 24 h) left, or its renewal overdue by a sixth of its
 * lifetime (at most 3 days) — whatever the cause (rotation disabled, renewals failing, the function
 * broken).
 */
export function assess(state: RenewalState, cert: CertificateFacts, now: Date, nextRunMs = 0): Assessment {
  const life = lifetimeMs(cert);
  const hoursLeft = round1((cert.notAfter.getTime() - now.getTime()) / HOUR_MS);
  const backstop = lifetimeRenewalAt(cert);
  let renewAt = backstop;
  let basis: Assessment['basis'] = 'lifetime';
  if (state.certId && state.certId === cert.certId && state.window && state.renewAt) {
    const passed = state.window.end.getTime() <= now.getTime();
    const ariAt = passed ? state.window.end : state.renewAt;
    if (ariAt.getTime() <= backstop.getTime()) {
      renewAt = ariAt;
      basis = passed ? 'ari-window-passed' : 'ari';
    } else basis = 'lifetime-backstop';
  }
  const verdict: Verdict = renewAt.getTime() <= now.getTime() + Math.max(0, nextRunMs) ? 'due' : 'ok';
  const minLeftMs = Math.min(DAY_MS, life / 4);
  const graceMs = Math.min(3 * DAY_MS, life / 6);
  let atRisk: string | undefined;
  if (cert.notAfter.getTime() <= now.getTime()) atRisk = `expired ${round1(-hoursLeft)} h ago`;
  else if (cert.notAfter.getTime() - now.getTime() < minLeftMs) atRisk = `expires in ${hoursLeft} h`;
  else if (now.getTime() - renewAt.getTime() > graceMs) {
    atRisk = `renewal overdue since ${renewAt.toISOString()} (${round1((now.getTime() - renewAt.getTime()) / HOUR_MS)} h)`;
  }
  return { verdict, renewAt, basis, hoursLeft, ...(atRisk ? { atRisk } : {}) };
}

/** Order of renewal: the certificate closest to expiry first (a revoked one's window lies in the past). */
export function byUrgency<T extends { cert: CertificateFacts; assessment: Assessment }>(a: T, b: T): number {
  const aPassed = a.assessment.basis === 'ari-window-passed' ? 0 : 1;
  const bPassed = b.assessment.basis === 'ari-window-passed' ? 0 : 1;
  return aPassed - bPassed || a.cert.notAfter.getTime() - b.cert.notAfter.getTime();
}
