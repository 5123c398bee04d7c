/**
 * ACME Renewal Information over HTTPS (RFC 9773 §4): the directory's `renewalInfo` URL, then an
 * unauthenticated `GET <renewalInfo>/<certID>`. Failures come back as values, never thrown: a CA
 * that fails or answers garbage must not stop the watch for other certificates. Each request is
 * bounded as a whole (AbortSignal.timeout: connecting, waiting and reading the body together), so a
 * CA that accepts the connection and then trickles or hangs costs one timeout, not the run.
 * Trust is Node's store plus NODE_EXTRA_CA_CERTS, as for the rotation function.
 */
import { parseRetryAfter } from './problems.js';

/** A renewalInfo answer (RFC 9773 §4.2): the suggested window, and when to ask again. */
export interface AriAnswer {
  start: Date;
  end: Date;
  explanationUrl?: string;
  /** The CA's Retry-After, in ms; undefined when it sent none. */
  retryAfterMs?: number;
}

export type AriResult =
  | { ok: true; answer: AriAnswer }
  | {
      ok: false;
      error: string;
      /** The CA's Retry-After on a refusal (429, 503), in ms. */
      retryAfterMs?: number;
      /**
       * The CA itself failed (no answer, a timeout, 5xx, 429): counted towards "the CA is down for
       * this run". An answer about this certificate alone (404, a malformed body) is not.
       */
      caFailure: boolean;
    };

export type DirectoryResult = { ok: true; base: string | undefined } | { ok: false; error: string };

interface HttpAnswer {
  status: number;
  retryAfter: string | null;
  body: string;
}

const MAX_BODY = 64 * 1024;

async function get(url: string, timeoutMs: number): Promise<HttpAnswer> {
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text();
  if (body.length > MAX_BODY) throw new Error(`answer larger than ${MAX_BODY} bytes`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

const describe = (err: unknown, timeoutMs: number): string => {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}: ${cause.message ?? ''}`.trim();
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
};

/** The RenewalInfo object (RFC 9773 §4.2), or why the body is not one. */
export function parseRenewalInfo(body: string): AriAnswer | string {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return `the answer is not JSON (${JSON.stringify(body.slice(0, 60))})`;
  }
  const window = (doc as { suggestedWindow?: unknown } | null)?.suggestedWindow as
    { start?: unknown; end?: unknown } | undefined;
  if (!window || typeof window !== 'object') return 'the answer has no suggestedWindow object';
  const start = typeof window.start === 'string' ? Date.parse(window.start) : NaN;
  const end = typeof window.end === 'string' ? Date.parse(window.end) : NaN;
  if (Number.isNaN(start) || Number.isNaN(end)) return 'suggestedWindow.start/end are not RFC 3339 timestamps';
  if (end <= start)
    return `suggestedWindow ends (${window.end as string}) before it starts (${window.start as string})`;
  const explanation = (doc as { explanationURL?: unknown }).explanationURL;
  return {
    start: new Date(start),
    end: new Date(end),
    ...(typeof explanation === 'string' && /^https?:\/\//.test(explanation) ? { explanationUrl: explanation } : {}),
  };
}

export class AriClient {
  /** renewalInfo base URL per directory URL (undefined: the CA offers none), kept for an hour. */
  private readonly directories = new Map<string, { base: string | undefined; at: number }>();

  constructor(private readonly timeoutMs: number) {}

  /** The directory's renewalInfo URL, undefined when the CA has none; an unreachable directory is an error. */
  async renewalInfoBase(directoryUrl: string): Promise<DirectoryResult> {
    const kept = this.directories.get(directoryUrl);
    if (kept && Date.now() - kept.at < 3_600_000) return { ok: true, base: kept.base };
    try {
      const res = await get(directoryUrl, this.timeoutMs);
      if (res.status !== 200) return { ok: false, error: `the directory ${directoryUrl} answered HTTP ${res.status}` };
      const dir = JSON.parse(res.body) as Record<string, unknown>;
      if (typeof dir.newOrder !== 'string') return { ok: false, error: `${directoryUrl} is not an ACME directory` };
      const base = typeof dir.renewalInfo === 'string' ? dir.renewalInfo : undefined;
      this.directories.set(directoryUrl, { base, at: Date.now() });
      return { ok: true, base };
    } catch (err) {
      return { ok: false, error: `could not read the directory ${directoryUrl}: ${describe(err, this.timeoutMs)}` };
    }
  }

  /** GET <base>/<certId>. */
  async renewalInfo(base: string, certId: string): Promise<AriResult> {
    const url = `${base.replace(/\/+$/, '')}/${certId}`;
    let res: HttpAnswer;
    try {
      res = await get(url, this.timeoutMs);
    } catch (err) {
      return { ok: false, error: `renewalInfo ${url}: ${describe(err, this.timeoutMs)}`, caFailure: true };
    }
    const retryAfterMs = parseRetryAfter(res.retryAfter ?? undefined);
    if (res.status !== 200) {
      const detail = /"detail"\s*:\s*"([^"]{0,120})/.exec(res.body)?.[1];
      return {
        ok: false,
        error: `renewalInfo ${url} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`,
        caFailure: res.status === 429 || res.status >= 500,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    const parsed = parseRenewalInfo(res.body);
    if (typeof parsed === 'string') return { ok: false, error: `renewalInfo ${url}: ${parsed}`, caFailure: false };
    return { ok: true, answer: { ...parsed, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
  }
}
