/**
 * ACME Renewal Information over HTTPS (RFC 9773 §4): the directory's `renewalInfo` URL, then an
 * unauthenticated `GET <renewalInfo>/<certID>`. Failures come back as values, never thrown: a CA
 * that fails or answers garbage must not stop the watch for other certificates.
 * Trust is Node's store plus NODE_EXTRA_CA_CERTS, as for the rotation function.
 */
import { request } from 'node:https';
import { parseRetryAfter } from '../acme/problems.js';
import type { AriAnswer } from './plan.js';

export type AriResult = { ok: true; answer: AriAnswer } | { ok: false; error: string };

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const MAX_BODY = 64 * 1024;

function get(url: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const describe = (err: unknown): string =>
  err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);

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
  async renewalInfoBase(
    directoryUrl: string,
  ): Promise<{ ok: true; base: string | undefined } | { ok: false; error: string }> {
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
      return { ok: false, error: `could not read the directory ${directoryUrl}: ${describe(err)}` };
    }
  }

  /** GET <base>/<certId>. */
  async renewalInfo(base: string, certId: string): Promise<AriResult> {
    const url = `${base.replace(/\/+$/, '')}/${certId}`;
    let res: HttpAnswer;
    try {
      res = await get(url, this.timeoutMs);
    } catch (err) {
      return { ok: false, error: `renewalInfo ${url}: ${describe(err)}` };
    }
    if (res.status !== 200) {
      const detail = /"detail"\s*:\s*"([^"]{0,120})/.exec(res.body)?.[1];
      return { ok: false, error: `renewalInfo ${url} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}` };
    }
    const parsed = parseRenewalInfo(res.body);
    if (typeof parsed === 'string') return { ok: false, error: `renewalInfo ${url}: ${parsed}` };
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return { ok: true, answer: { ...parsed, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
  }
}
