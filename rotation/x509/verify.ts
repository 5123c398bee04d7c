/**
 * testSecret's verification of a pending certificate bundle: static checks (static-checks.ts), then a
 * real TLS handshake on loopback for every expected name (handshake.ts).
 */
import { type KeyType } from '../certificate/key-types.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import {
  certNotAfter,
  certNotBefore,
  normaliseSerial,
  splitPemCertificates,
  type CertificateBundle,
} from '../certificate/bundle.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, tlsHandshakeCheck } from './handshake.js';
import { runStaticChecks } from './static-checks.js';

export interface VerifyOptions {
  /** Spec names (may include wildcards such as *.example.com). */
  expectedDomains: string[];
  expectedKeyType: KeyType;
  /** Clock for the static validity checks; default now. (The handshake always uses the real clock.) */
  now?: Date;
  /**
   * Extra trusted roots (PEM), added to the default trust: Node's store plus the file named by
   * NODE_EXTRA_CA_CERTS (read on first use).
   */
  trustedRootsPem?: string[];
  /** Minimum remaining validity; default half the certificate's lifetime, at most 24 h. */
  minRemainingMs?: number;
  /** The operator's cap on the certificate lifetime (MAX_CERTIFICATE_LIFETIME_DAYS); none by default. */
  maxLifetimeMs?: number;
  /** Max allowed clock skew for notBefore in the future; default 5 min. */
  maxClockSkewMs?: number;
  /** Run the loopback TLS handshake; default true. */
  handshake?: boolean;
  /** Bound for the whole handshake step; default 5 s. */
  handshakeTimeoutMs?: number;
}

export interface VerifyResult {
  serial: string;
  expiry: string;
  /** Names of the checks passed, in order. */
  checks: string[];
}

export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

let defaultRootsCache: { extraPath: string | undefined; pems: string[] } | undefined;
const parsedRootCache = new Map<string, X509Certificate | null>();

/**
 * Node's trust store plus the certificates in NODE_EXTRA_CA_CERTS (read once per distinct path;
 * an unreadable file is ignored, as Node itself does with a warning).
 */
export function defaultTrustedRootsPem(): string[] {
  const extraPath = process.env.NODE_EXTRA_CA_CERTS || undefined;
  if (defaultRootsCache && defaultRootsCache.extraPath === extraPath) return defaultRootsCache.pems;
  // Node >= 22.15 / 23.5 can list its effective default store (bundled + extra [+ system]).
  const base =
    typeof (tls as { getCACertificates?: unknown }).getCACertificates === 'function'
      ? tls.getCACertificates('default')
      : [...tls.rootCertificates];
  let extra: string[] = [];
  if (extraPath) {
    try {
      extra = splitPemCertificates(readFileSync(extraPath, 'utf8'));
    } catch {
      extra = [];
    }
  }
  defaultRootsCache = { extraPath, pems: [...base, ...extra] };
  return defaultRootsCache.pems;
}

function parseRoot(pem: string): X509Certificate | undefined {
  let cached = parsedRootCache.get(pem);
  if (cached === undefined) {
    try {
      cached = new X509Certificate(pem);
    } catch {
      cached = null;
    }
    parsedRootCache.set(pem, cached);
  }
  return cached ?? undefined;
}

/** The complete trust store for a verification: defaults plus the extra roots, de-duplicated. */
export function trustedRoots(extraPem: string[] = []): { pems: string[]; certs: X509Certificate[] } {
  const pems: string[] = [];
  const certs: X509Certificate[] = [];
  const seen = new Set<string>();
  const extraBlocks = extraPem.flatMap((p) => splitPemCertificates(p));
  for (const pem of [...defaultTrustedRootsPem(), ...extraBlocks]) {
    const cert = parseRoot(pem);
    if (!cert || seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    pems.push(pem);
    certs.push(cert);
  }
  return { pems, certs };
}

/** A distinguished name as OpenSSL matches issuer to subject: case and spacing do not count. */
const nameKey = (dn: string): string => dn.toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * The trusted certificates that can take part in a path: those whose subject is the issuer of a
 * certificate of the path, and, in turn, of one already taken (a trusted intermediate or a
 * cross-signed root climbs on to its own issuer). OpenSSL looks issuers up by name, so a client
 * trusting only these builds exactly the paths it would build with the whole store, and loading
 * a few roots instead of ~150 into the client's context saves ~30 ms per testSecret.
 */
export function issuingRoots(roots: { pems: string[]; certs: X509Certificate[] }, path: X509Certificate[]): string[] {
  const issuers = new Set(path.map((c) => nameKey(c.issuer)));
  const taken = new Set<number>();
  for (let grew = true; grew;) {
    grew = false;
    roots.certs.forEach((root, i) => {
      if (taken.has(i) || !issuers.has(nameKey(root.subject))) return;
      taken.add(i);
      issuers.add(nameKey(root.issuer));
      grew = true;
    });
  }
  const pems = roots.pems.filter((_, i) => taken.has(i));
  return pems.length > 0 ? pems : roots.pems;
}

/**
 * Verify a pending bundle against the spec. Throws a VerificationError (VerificationCheckError,
 * with `check` naming the failed check) at the first failure; messages never carry key material.
 */
export async function verifyBundle(bundle: CertificateBundle, opts: VerifyOptions): Promise<VerifyResult> {
  const roots = trustedRoots(opts.trustedRootsPem ?? []);
  const result = runStaticChecks({
    bundle,
    expectedDomains: opts.expectedDomains,
    expectedKeyType: opts.expectedKeyType,
    now: opts.now ?? new Date(),
    trustedRoots: roots.certs,
    ...(opts.minRemainingMs !== undefined ? { minRemainingMs: opts.minRemainingMs } : {}),
    ...(opts.maxLifetimeMs !== undefined ? { maxLifetimeMs: opts.maxLifetimeMs } : {}),
    maxClockSkewMs: opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
  });
  const checks: string[] = [...result.checks];

  if (opts.handshake !== false) {
    await tlsHandshakeCheck({
      keyPem: bundle.private_key,
      certChainPem: bundle.fullchain,
      names: opts.expectedDomains,
      caPems: issuingRoots(roots, [result.leaf, ...result.chain]),
      timeoutMs: opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      expectedFingerprint: result.leaf.fingerprint256,
      allowNotYetValid: [result.leaf, ...result.chain].some((c) => certNotBefore(c).getTime() > Date.now()),
    });
    checks.push('handshake');
  }

  return {
    serial: normaliseSerial(result.leaf.serialNumber),
    expiry: certNotAfter(result.leaf).toISOString(),
    checks,
  };
}
