/**
 * The names of DNS-01: the identifier a challenge is for, and the record name it is answered at.
 * Names are handled in a canonical form: lowercase, no trailing dot, octal escapes decoded.
 */

import { normalizeName } from '../certificate/domains.js';

/**
 * The identifier a DNS-01 challenge is for: the name in canonical form (see normalizeName) with a
 * leading `*.` removed, so `*.Example.com.` → `example.com`. Apex and wildcard share it, and so
 * share one `_acme-challenge` record set. A name that is already canonical (every name of a parsed
 * spec or stack configuration) only loses its `*.`.
 */
export function challengeDomain(domain: string): string {
  const n = normalizeName(domain);
  return n.startsWith('*.') ? n.slice(2) : n;
}

/** `_acme-challenge.<domain>` for an identifier (wildcards stripped). */
export function challengeName(domain: string): string {
  return `_acme-challenge.${challengeDomain(domain)}`;
}
