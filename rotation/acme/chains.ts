/**
 * Choosing among the certificate chains a CA offers (RFC 8555 §7.4.2), by the name of the chain's
 * root or top issuer, as certbot's and lego's preferred-chain options do.
 */
import { type X509Certificate } from 'node:crypto';
import { parseCertificate, splitPemCertificates } from '../certificate/bundle.js';

/** The CN of a one-line or multi-line distinguished name, or '' when it has none. */
function commonName(dn: string): string {
  return /(?:^|[\n,]\s*)CN=((?:\\.|[^,\n])*)/.exec(dn)?.[1]?.trim() ?? '';
}

function topmost(chainPem: string): X509Certificate | undefined {
  const blocks = splitPemCertificates(chainPem);
  return parseCertificate(blocks[blocks.length - 1]);
}

/** The CN of the issuer of a chain's topmost certificate (its root, when the root is not sent). */
export function topIssuerName(chainPem: string): string {
  const top = topmost(chainPem);
  return top ? commonName(top.issuer) : '';
}

/**
 * Whether the chain ends at `preferred`: its topmost certificate is issued by a certificate of
 * that common name, or is one (a CA that sends its root). Case and surrounding spaces do not count.
 */
export function chainMatches(chainPem: string, preferred: string): boolean {
  const want = preferred.trim().toLowerCase();
  const top = topmost(chainPem);
  if (!top || !want) return false;
  return [commonName(top.issuer), commonName(top.subject)].some((cn) => cn.toLowerCase() === want);
}
