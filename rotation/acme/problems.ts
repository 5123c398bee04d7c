/**
 * What a CA answers when it refuses or fails (RFC 8555 §6.7 problem documents, Retry-After,
 * alternate-chain links), and how that becomes an AcmeError an operator can act on.
 */
import { AcmeError, errorMessage, type ErrorCode } from '../lib/errors.js';

/** An RFC 8555 problem document the CA answered with, and what came with it. */
export interface AcmeProblem {
  status: number;
  /** e.g. urn:ietf:params:acme:error:rateLimited */
  type: string;
  detail: string;
  /** Retry-After, in ms from when it was received. */
  retryAfterMs?: number;
  subproblems: { type: string; detail: string; identifier?: string }[];
}

/** Retry-After as ms: delta-seconds or an HTTP date (RFC 9110). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The problem document of an error answer (status ≥ 400); a body that is none becomes its detail. */
export function parseProblem(status: number, headers: Record<string, unknown>, data: unknown): AcmeProblem {
  let body: unknown = data;
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string') {
    const text: string = body;
    try {
      body = JSON.parse(text);
    } catch {
      body = { detail: text.slice(0, 300) };
    }
  }
  const doc = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const subs = Array.isArray(doc.subproblems) ? (doc.subproblems as Record<string, unknown>[]) : [];
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  return {
    status,
    type: typeof doc.type === 'string' ? doc.type : '',
    detail: typeof doc.detail === 'string' ? doc.detail : '',
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    subproblems: subs.map((sp) => ({
      type: typeof sp.type === 'string' ? sp.type : '',
      detail: typeof sp.detail === 'string' ? sp.detail : '',
      ...(sp.identifier && typeof (sp.identifier as { value?: unknown }).value === 'string'
        ? { identifier: (sp.identifier as { value: string }).value }
        : {}),
    })),
  };
}

/** The targets of `Link: <url>;rel="alternate"` headers (RFC 8555 §7.4.2: alternate chains). */
export function alternateLinks(header: unknown): string[] {
  const values = Array.isArray(header) ? header : typeof header === 'string' ? [header] : [];
  const out: string[] = [];
  for (const value of values) {
    for (const m of String(value).matchAll(/<([^>]+)>\s*((?:;\s*[^;,]+)*)/g)) {
      if (/;\s*rel\s*=\s*"?alternate"?/i.test(m[2] ?? '') && m[1]) out.push(m[1]);
    }
  }
  return out;
}

const ACME_ERROR = 'urn:ietf:params:acme:error:';
export const shortType = (type: string): string => (type.startsWith(ACME_ERROR) ? type.slice(ACME_ERROR.length) : type);

export function describeProblem(p: AcmeProblem): string {
  const subs = p.subproblems
    .map((sp) => `${sp.identifier ? `${sp.identifier}: ` : ''}${shortType(sp.type)} ${sp.detail}`.trim())
    .join('; ');
  return `${shortType(p.type) || 'error'} (HTTP ${p.status}): ${p.detail || 'no detail given'}${subs ? ` [${subs}]` : ''}`;
}

/** Wait the CA asked for, as words. */
function retryAfterText(p: AcmeProblem, now = Date.now()): string {
  if (p.retryAfterMs === undefined) return 'it gave no Retry-After';
  return `it asks to retry after ${Math.ceil(p.retryAfterMs / 1000)} s (${new Date(now + p.retryAfterMs).toISOString()})`;
}

/** Turn whatever acme-client/axios threw into an AcmeError that says which CA call failed and why. */
export function mapAcmeError(
  operation: string,
  directoryUrl: string,
  err: unknown,
  problem?: AcmeProblem,
  /** Why the rotation did not wait and retry (rate limits). */
  gaveUp = 'longer than this invocation has left',
): AcmeError {
  if (err instanceof AcmeError) return err;
  const code = (err as { code?: unknown }).code;
  if (
    !problem &&
    typeof code === 'string' &&
    /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|ECONNABORTED|EAI_AGAIN|EPIPE|ERR_SOCKET|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(
      code,
    )
  ) {
    return new AcmeError(
      'AcmeUnreachable',
      `could not reach the CA at ${directoryUrl} during ${operation}: ${code} ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  if (problem) {
    const type = shortType(problem.type);
    const facts = { cause: err, problem: { type, status: problem.status } };
    if (type === 'rateLimited' || problem.status === 429) {
      return new AcmeError(
        'AcmeRateLimited',
        `the CA rate-limited ${operation}: ${describeProblem(problem)}; ${retryAfterText(problem)}: ${gaveUp}. ` +
          'Secrets Manager retries the rotation on its schedule; ' +
          'renewals sent as ARI replacements are exempt from most limits',
        facts,
      );
    }
    const codes: Record<string, ErrorCode> = {
      rejectedIdentifier: 'AcmeRejectedIdentifier',
      unauthorized: 'AcmeUnauthorized',
      caa: 'AcmeCaaForbids',
      badNonce: 'AcmeBadNonce',
      accountDoesNotExist: 'AcmeAccountMissing',
      externalAccountRequired: 'AcmeExternalAccountRequired',
    };
    // A 5xx is the CA failing, not refusing: Secrets Manager's retry is the remedy.
    const verb = problem.status >= 500 ? 'CA failed' : 'CA rejected';
    return new AcmeError(
      codes[type] ?? 'AcmeRequestFailed',
      `${verb} ${operation}: ${describeProblem(problem)}`,
      facts,
    );
  }
  return new AcmeError('AcmeRequestFailed', `CA rejected ${operation}: ${errorMessage(err) || 'no detail given'}`, {
    cause: err,
  });
}

/** Answers worth a second try after a wait: rate limits and server errors (RFC 8555 §6.6). */
export function retryable(p: AcmeProblem | undefined): p is AcmeProblem {
  if (!p) return false;
  return shortType(p.type) === 'rateLimited' || p.status === 429 || p.status >= 500;
}
