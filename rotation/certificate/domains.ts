/**
 * One DNS name as a certificate spec may hold it: trimmed, lower-case, one trailing dot dropped,
 * IDN converted to punycode, then lengths, labels, IP addresses and wildcard placement checked.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

import { SpecError } from '../lib/errors.js';

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const quote = (value: string): string => JSON.stringify(value);

/** Result of checking one name: the normalised form, or why it is invalid. */
export type DomainCheck = { ok: true; name: string } | { ok: false; reason: string };

/** The WHATWG URL parser reads a host whose last label is a number as an IPv4 address. */
function looksLikeIPv4(name: string): boolean {
  const labels = name.split('.');
  const last = labels[labels.length - 1] === '' ? labels[labels.length - 2] : labels[labels.length - 1];
  return last !== undefined && /^(?:[0-9]+|0x[0-9a-f]*)$/.test(last);
}

/**
 * A DNS name folded for comparison: trimmed, lower-case, one trailing dot (the root) dropped. The
 * first step for a name a person wrote (a spec tag, the stack configuration) or a certificate
 * carries; the spec check and the certificate checks each add their own IDNA step after it.
 * Names Route 53 returns take normalizeName instead, which decodes Route 53's
 * `\ooo` escapes first.
 */
export function foldDnsName(raw: string): string {
  const name = raw.trim().toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Decode Route 53's `\ooo` octal escapes (`\052` → `*`) and `\c` escapes in a name. */
export function decodeDnsEscapes(name: string): string {
  return name.replace(/\\([0-7]{3}|.)/g, (_m, esc: string) =>
    esc.length === 3 ? String.fromCharCode(parseInt(esc, 8)) : esc,
  );
}

/**
 * Canonical form of a DNS name as Route 53 writes it: escapes decoded, lowercase, no trailing dot.
 * Not foldDnsName: Route 53 returns `*` and other special characters as `\ooo`
 * escapes, which must be decoded (before lower-casing) for a record name to match the spec's;
 * spec and certificate names carry no escapes, so a backslash there is taken as written (and the
 * spec check refuses it). Every trailing dot goes, where foldDnsName drops one and leaves the rest
 * for the spec check to refuse.
 */
export function normalizeName(name: string): string {
  let out = foldDnsName(decodeDnsEscapes(name));
  while (out.endsWith('.')) out = out.slice(0, -1);
  return out;
}

/**
 * foldDnsName, then IDNA A-label form ("*." prefix kept). Lenient where the spec check is strict:
 * it compares names a certificate holds rather than validating them, so a name IDNA cannot
 * convert is kept as written.
 */
export function normaliseDnsName(name: string): string {
  const n = foldDnsName(name);
  const wildcard = n.startsWith('*.');
  const base = wildcard ? n.slice(2) : n;
  // domainToASCII returns '' for names it cannot convert; keep the name as written then.
  const ascii = /^[\x00-\x7f]*$/.test(base) ? base : domainToASCII(base) || base;
  return wildcard ? `*.${ascii}` : ascii;
}

export function checkDomain(raw: string): DomainCheck {
  const name = foldDnsName(raw);
  if (name === '') return { ok: false, reason: 'the name is empty (expected a DNS name like example.com)' };

  const unbracketed = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(unbracketed) !== 0 || looksLikeIPv4(name)) {
    return {
      ok: false,
      reason: 'IP addresses are not supported (DNS-01 validates DNS names only); use a DNS name like example.com',
    };
  }

  let wildcard = false;
  let rest = name;
  if (name.includes('*')) {
    if (name.startsWith('*.') && !name.slice(2).includes('*')) {
      wildcard = true;
      rest = name.slice(2);
    } else if (name === '*') {
      return { ok: false, reason: 'a wildcard needs at least two labels after it (like *.example.com)' };
    } else {
      return { ok: false, reason: 'a wildcard must be the whole leftmost label (like *.example.com)' };
    }
  }

  // Only letters, digits, hyphens and dots in the ASCII part; anything else non-ASCII goes
  // through IDNA. (domainToASCII is the URL host parser: '/', '@', ':' etc. would cut the name.)
  const badAscii = /[\x00-\x2c\x2f\x3a-\x60\x7b-\x7f]/.exec(rest);
  if (badAscii) {
    const ch = badAscii[0];
    const shown = /\s/.test(ch) ? 'whitespace' : `the character ${quote(ch)}`;
    // Whitespace, ';' or '|' between two names: a list written with the wrong separator.
    const separator = /[\s;|]/.test(ch) && rest.split(/[\s;|]+/).filter((part) => part !== '').length > 1;
    return {
      ok: false,
      reason: separator
        ? `it contains ${shown}; separate names with commas (like example.com,www.example.com)`
        : `it contains ${shown}; a label may contain only letters, digits and hyphens (like www.example.com)`,
    };
  }

  // IDN → punycode (UTS #46 mapping), and validation of existing xn-- labels.
  const needsIdna = /[^\x00-\x7f]/.test(rest) || /(?:^|\.)xn--/.test(rest);
  if (needsIdna) {
    const ascii = domainToASCII(rest);
    if (ascii === '') {
      return {
        ok: false,
        reason:
          'it is not a valid internationalised domain name (IDNA conversion failed); use a name like bücher.example or its punycode form xn--bcher-kva.example',
      };
    }
    rest = ascii;
    if (rest.endsWith('.')) rest = rest.slice(0, -1);
    if (looksLikeIPv4(rest) || isIP(rest) !== 0) {
      return {
        ok: false,
        reason: 'IP addresses are not supported (DNS-01 validates DNS names only); use a DNS name like example.com',
      };
    }
  }

  const full = wildcard ? `*.${rest}` : rest;
  if (full.length > MAX_NAME_LENGTH) {
    return {
      ok: false,
      reason: `the name is ${full.length} characters long (in ASCII form); a DNS name has at most ${MAX_NAME_LENGTH}`,
    };
  }

  const labels = rest.split('.');
  for (const label of labels) {
    if (label === '') {
      return {
        ok: false,
        reason: 'it has an empty label (two dots in a row, or a leading dot); use a name like www.example.com',
      };
    }
    if (label.length > MAX_LABEL_LENGTH) {
      return {
        ok: false,
        reason: `the label "${label.slice(0, 20)}…" is ${label.length} characters long; a label has 1 to ${MAX_LABEL_LENGTH}`,
      };
    }
    if (/[^a-z0-9-]/.test(label)) {
      return {
        ok: false,
        reason: `the label ${quote(label)} contains characters other than letters, digits and hyphens (like www or my-host)`,
      };
    }
    if (!LABEL_RE.test(label)) {
      return {
        ok: false,
        reason: `the label ${quote(label)} must not start or end with a hyphen; a label is letters, digits and hyphens like www or my-host`,
      };
    }
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--')) {
      return {
        ok: false,
        reason: `the label ${quote(label)} has "--" in the third and fourth positions, which is reserved for IDNA (xn--) labels; CAs reject it`,
      };
    }
  }

  if (labels.length < 2) {
    if (wildcard) {
      return { ok: false, reason: 'a wildcard needs at least two labels after it (like *.example.com)' };
    }
    return {
      ok: false,
      reason:
        'a certificate name needs at least two labels (like example.com); a bare TLD or single-label name like localhost cannot be issued',
    };
  }

  return { ok: true, name: full };
}

/**
 * Normalise one DNS name: trim, lower-case, strip one trailing dot, IDN → punycode, then check
 * lengths, labels, IP addresses and wildcard placement. Throws SpecError naming the input.
 */
export function normaliseDomain(name: string): string {
  const result = checkDomain(name);
  if (!result.ok) throw new SpecError(`domain name ${quote(name.trim())} is invalid: ${result.reason}`);
  return result.name;
}
