/**
 * The parts of a modern ACME CA that Debian's Pebble 2.4 lacks, played in front of it through the
 * CA proxy (ca-proxy.ts, `extension`), as RFC 9773 and Let's Encrypt implement them:
 *
 * - ACME Renewal Information: the directory gains `renewalInfo`; `GET <renewalInfo>/<certID>`
 *   answers `{"suggestedWindow": {"start", "end"}, "explanationURL"?}` with a `Retry-After`
 *   (Let's Encrypt: 6 h). The window defaults to a short stretch starting at 2/3 of the
 *   certificate's lifetime; tests move it (a revocation drill puts it in the past). An unknown
 *   certID is 404, a malformed one 400 `malformed`.
 * - `replaces` in newOrder (RFC 9773 §5): the certificate must be one this CA issued (else 400
 *   `malformed`), to the same account (else 403 `unauthorized`), sharing a name with the order
 *   (else 400 `malformed`), and not already replaced by a finalized order (else 409
 *   `alreadyReplaced`). A certificate counts as replaced once an order naming it is finalized.
 * - Profiles (`meta.profiles`): when configured, the directory lists them and newOrder refuses an
 *   unknown `profile` with 400 `invalidProfile`, as Let's Encrypt does. Pebble 2.4 ignores both
 *   fields, so payloads are forwarded unchanged (they are signed and could not be rewritten).
 *
 * Which certificates exist is learnt from the downloads passing through (the leaf of every
 * `/certZ/` answer), so Pebble needs no changes and the state is this object's alone.
 */
import { X509Certificate } from 'node:crypto';

// Certificate ids computed on their own (not with the product's function), so an identifier bug shows.
import { certIdOf } from './ari-certid.js';
import { splitPemCertificates } from '../../rotation/certificate/bundle.js';
import { parseSubjectAltName } from '../../rotation/x509/names.js';
import type { CaAnswer, CaExtension, CaProblem, CaRequestInfo } from './ca-proxy.js';

const ACME_ERROR = 'urn:ietf:params:acme:error:';

export interface AriCaOptions {
  /** Retry-After of renewalInfo answers, seconds; default 21600 (Let's Encrypt's 6 h). */
  retryAfterSeconds?: number;
  /** `meta.profiles` to list (name → description); none listed when unset. */
  profiles?: Record<string, string>;
  /** explanationURL sent with every window, when set. */
  explanationUrl?: string;
}

export interface IssuedCertificate {
  /** RFC 9773 certID: base64url(AKI keyIdentifier) "." base64url(serial). */
  certId: string;
  /** Account URL (the JWS `kid`) that downloaded it. */
  account: string;
  names: string[];
  notBefore: Date;
  notAfter: Date;
  window: { start: Date; end: Date };
  /** URL of the finalized order that replaced it. */
  replacedBy?: string;
}

export interface OrderRecord {
  url: string;
  account: string;
  names: string[];
  replaces?: string;
  profile?: string;
}

function problem(status: number, type: string, detail: string): { problem: CaProblem } {
  return { problem: { status, type: `${ACME_ERROR}${type}`, detail } };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): CaAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The default window: from 2/3 of the lifetime, for 1/45 of it (two days of a 90-day certificate). */
function defaultWindow(notBefore: Date, notAfter: Date): { start: Date; end: Date } {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const start = notBefore.getTime() + (lifetime * 2) / 3;
  return { start: new Date(start), end: new Date(start + lifetime / 45) };
}

export class AriCa implements CaExtension {
  /** Certificates seen, by certID. */
  readonly issued = new Map<string, IssuedCertificate>();
  /** Orders created through this CA, in order. */
  readonly orders: OrderRecord[] = [];
  /** certIDs asked for with GET renewalInfo, in order. */
  readonly renewalInfoAsked: string[] = [];
  /** Answer renewalInfo with a body that is not a RenewalInfo object (a CA gone wrong). */
  garbage = false;

  constructor(private readonly opts: AriCaOptions = {}) {}

  /** Moves a certificate's suggested window (an early renewal, or a revocation drill). */
  setWindow(certId: string, start: Date, end: Date): void {
    const cert = this.issued.get(certId);
    if (!cert) throw new Error(`the ARI CA issued no certificate ${certId}`);
    cert.window = { start, end };
  }

  /** A revocation drill: the window lies entirely in the past, which means "renew now". */
  windowInThePast(certId: string, now = Date.now()): void {
    this.setWindow(certId, new Date(now - 2 * 3_600_000), new Date(now - 3_600_000));
  }

  /** The certificate a leaf PEM is, as this CA recorded it. */
  certificateOf(leafPem: string): IssuedCertificate | undefined {
    const id = certIdOf(leafPem);
    return id === undefined ? undefined : this.issued.get(id);
  }

  intercept(req: CaRequestInfo): { problem: CaProblem } | CaAnswer | undefined {
    if (req.operation === 'renewalInfo' && req.method === 'GET') return this.renewalInfo(req.path);
    if (req.operation === 'newOrder' && req.payload && typeof req.payload === 'object') {
      return this.checkNewOrder(req.payload as Record<string, unknown>, String(req.protectedHeader?.kid ?? ''));
    }
    return undefined;
  }

  answered(req: CaRequestInfo, answer: CaAnswer, origin: string): CaAnswer {
    if (answer.status >= 300) return answer;
    const account = String(req.protectedHeader?.kid ?? '');
    switch (req.operation) {
      case 'directory':
        return this.directory(answer, origin);
      case 'newOrder': {
        const url = header(answer.headers.location);
        const payload = (req.payload ?? {}) as {
          identifiers?: { value?: string }[];
          replaces?: unknown;
          profile?: unknown;
        };
        if (url) {
          this.orders.push({
            url,
            account,
            names: (payload.identifiers ?? []).map((i) => String(i.value)),
            ...(typeof payload.replaces === 'string' ? { replaces: payload.replaces } : {}),
            ...(typeof payload.profile === 'string' ? { profile: payload.profile } : {}),
          });
        }
        return answer;
      }
      case 'finalize': {
        // Finalized: the certificate the order replaces is now replaced (RFC 9773 §5).
        const id = req.path.split('?')[0]?.split('/').pop();
        const order = this.orders.find((o) => o.url.endsWith(`/my-order/${id}`));
        const replaced = order?.replaces ? this.issued.get(order.replaces) : undefined;
        if (order && replaced && !replaced.replacedBy) replaced.replacedBy = order.url;
        return answer;
      }
      case 'certificate':
        this.learn(answer.body.toString('utf8'), account);
        return answer;
      default:
        return answer;
    }
  }

  private directory(answer: CaAnswer, origin: string): CaAnswer {
    let dir: Record<string, unknown>;
    try {
      dir = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return answer;
    }
    dir.renewalInfo = `${origin}/renewal-info`;
    if (this.opts.profiles) {
      dir.meta = { ...((dir.meta as Record<string, unknown> | undefined) ?? {}), profiles: this.opts.profiles };
    }
    const body = Buffer.from(JSON.stringify(dir));
    return { ...answer, body, headers: { ...answer.headers, 'content-length': String(body.length) } };
  }

  private learn(pem: string, account: string): void {
    const leafPem = splitPemCertificates(pem)[0];
    if (!leafPem) return;
    const certId = certIdOf(leafPem);
    if (!certId || this.issued.has(certId)) return; // alternate chains carry the same leaf
    const leaf = new X509Certificate(leafPem);
    const notBefore = new Date(leaf.validFrom);
    const notAfter = new Date(leaf.validTo);
    const names = parseSubjectAltName(leaf.subjectAltName).dns;
    this.issued.set(certId, {
      certId,
      account,
      names,
      notBefore,
      notAfter,
      window: defaultWindow(notBefore, notAfter),
    });
  }

  private renewalInfo(path: string): { problem: CaProblem } | CaAnswer {
    const certId = decodeURIComponent(path.split('?')[0]?.replace(/^\/renewal-info\/?/, '') ?? '');
    this.renewalInfoAsked.push(certId);
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(certId)) {
      return problem(
        400,
        'malformed',
        `"${certId}" is not a certificate identifier (base64url(AKI).base64url(serial))`,
      );
    }
    const cert = this.issued.get(certId);
    if (!cert) return problem(404, 'malformed', `no certificate with identifier ${certId}`);
    const retryAfter = String(this.opts.retryAfterSeconds ?? 21_600);
    if (this.garbage)
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{"suggestedWindow":"soon"'),
      };
    return json(
      200,
      {
        suggestedWindow: { start: cert.window.start.toISOString(), end: cert.window.end.toISOString() },
        ...(this.opts.explanationUrl ? { explanationURL: this.opts.explanationUrl } : {}),
      },
      { 'retry-after': retryAfter },
    );
  }

  private checkNewOrder(payload: Record<string, unknown>, account: string): { problem: CaProblem } | undefined {
    const profiles = this.opts.profiles;
    if (profiles && payload.profile !== undefined) {
      if (typeof payload.profile !== 'string' || !Object.hasOwn(profiles, payload.profile)) {
        return problem(
          400,
          'invalidProfile',
          `profile ${JSON.stringify(payload.profile)} is not one of ${Object.keys(profiles).join(', ')}`,
        );
      }
    }
    if (payload.replaces === undefined) return undefined;
    const certId = payload.replaces;
    const cert = typeof certId === 'string' ? this.issued.get(certId) : undefined;
    if (!cert)
      return problem(400, 'malformed', `the certificate to replace (${String(certId)}) is not one this CA issued`);
    if (cert.account !== account) {
      return problem(403, 'unauthorized', `the certificate to replace (${cert.certId}) belongs to another account`);
    }
    const names = Array.isArray(payload.identifiers)
      ? (payload.identifiers as { value?: unknown }[]).map((i) => String(i.value))
      : [];
    if (!names.some((n) => cert.names.includes(n))) {
      return problem(
        400,
        'malformed',
        `the order shares no identifier with the certificate it replaces (${cert.certId})`,
      );
    }
    if (cert.replacedBy) {
      return problem(
        409,
        'alreadyReplaced',
        `the certificate ${cert.certId} has already been replaced by a finalized order (${cert.replacedBy})`,
      );
    }
    return undefined;
  }
}
