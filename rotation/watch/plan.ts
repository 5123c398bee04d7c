/**
 * When a certificate should be renewed, decided without side effects (RFC 9773 §4.2 and the
 * lifetime backstop), so every rule can be tested with a clock and a random source in hand:
 * - with Renewal Information: a uniformly random moment inside the CA's suggested window, chosen
 *   once per window (kept in tags, so it is stable across runs); a window whose end has passed
 *   means "now" (how a CA announces a revocation); ask again after the CA's Retry-After;
 * - without it (no renewalInfo, or no answer yet for this certificate): at 2/3 of the
 *   certificate's actual lifetime, 1/2 for lifetimes under 10 days;
 * - a failed renewalInfo request never makes a certificate due: it only schedules the next ask.
 * Thresholds come from the certificate's own lifetime, never a fixed number of days.
 */
import type { RenewalState } from './tags.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface CertificateFacts {
  /** RFC 9773 certificate id (undefined when the certificate has no authority key identifier). */
  certId?: string;
  notBefore: Date;
  notAfter: Date;
}

export interface AriAnswer {
  start: Date;
  end: Date;
  explanationUrl?: string;
  /** The CA's Retry-After, in ms; undefined when it sent none. */
  retryAfterMs?: number;
}

/** Retry-After bounds: a CA asking for less than a minute or more than a week is not taken literally. */
export const MIN_RECHECK_MS = 60_000;
export const MAX_RECHECK_MS = 7 * DAY_MS;
/** Without a Retry-After: Let's Encrypt's own, 6 h. */
export const DEFAULT_RECHECK_MS = 6 * HOUR_MS;
/** After a failed renewalInfo request: 1 h, ± 10 % so a fleet does not ask again in step. */
export const ERROR_RECHECK_MS = HOUR_MS;
/** Secrets Manager rotates at most every 4 h: a renewal started this recently is not started again. */
export const RESTART_AFTER_MS = 4 * HOUR_MS;

function lifetimeMs(cert: CertificateFacts): number {
  return Math.max(1, cert.notAfter.getTime() - cert.notBefore.getTime());
}

/** The backstop without Renewal Information: 2/3 of the lifetime, 1/2 under 10 days. */
export function lifetimeRenewalAt(cert: CertificateFacts): Date {
  const life = lifetimeMs(cert);
  return new Date(cert.notBefore.getTime() + (life < 10 * DAY_MS ? life / 2 : (life * 2) / 3));
}

/** Whether the CA should be asked now: another certificate than the state's, or its time has come. */
export function shouldAskCa(state: RenewalState, cert: CertificateFacts, now: Date): boolean {
  if (!cert.certId) return false;
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
  const wait = Math.min(MAX_RECHECK_MS, Math.max(MIN_RECHECK_MS, answer.retryAfterMs ?? DEFAULT_RECHECK_MS));
  const next: RenewalState = {
    ...(cert.certId ? { certId: cert.certId } : {}),
    window,
    renewAt,
    checkAfter: new Date(now.getTime() + wait),
    ...(answer.explanationUrl ? { explanation: answer.explanationUrl } : {}),
  };
  if (state.certId === cert.certId && state.started) next.started = state.started;
  return next;
}

/** The state after a failed renewalInfo request: what was known stays, the CA is asked again in about an hour. */
export function withAriError(
  state: RenewalState,
  cert: CertificateFacts,
  error: string,
  now: Date,
  random: () => number,
): RenewalState {
  const base: RenewalState = state.certId === cert.certId ? { ...state } : cert.certId ? { certId: cert.certId } : {};
  return {
    ...base,
    error,
    checkAfter: new Date(now.getTime() + ERROR_RECHECK_MS * (0.9 + 0.2 * random())),
  };
}

export type Verdict =
  /** The renewal moment has come (or the window is in the past). */
  'due' | 'ok';

export interface Assessment {
  verdict: Verdict;
  /** When the renewal is (or was) due. */
  renewAt: Date;
  /** Where renewAt came from. */
  basis: 'ari' | 'ari-window-passed' | 'lifetime';
  /** Why the certificate is at risk (it expires soon, or its renewal is overdue), if it is. */
  atRisk?: string;
  hoursLeft: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Is the certificate due, and is it at risk? At risk: less than a quarter of its lifetime (at most
 * 24 h) left, or its renewal overdue by a sixth of its lifetime (at most 3 days) — whatever the
 * cause (rotation disabled, renewals failing, the function broken).
 */
export function assess(state: RenewalState, cert: CertificateFacts, now: Date): Assessment {
  const life = lifetimeMs(cert);
  const hoursLeft = round1((cert.notAfter.getTime() - now.getTime()) / HOUR_MS);
  let renewAt = lifetimeRenewalAt(cert);
  let basis: Assessment['basis'] = 'lifetime';
  if (state.certId && state.certId === cert.certId && state.window && state.renewAt) {
    const passed = state.window.end.getTime() <= now.getTime();
    renewAt = passed ? state.window.end : state.renewAt;
    basis = passed ? 'ari-window-passed' : 'ari';
  }
  const verdict: Verdict = renewAt.getTime() <= now.getTime() ? 'due' : 'ok';
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
