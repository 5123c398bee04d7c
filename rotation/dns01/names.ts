/**
 * DNS-01 names and TXT value helpers shared by the Route 53 adapter, provider and propagation check.
 * Names are handled in a canonical form: lowercase, no trailing dot, octal escapes decoded.
 */

import { decodeDnsEscapes, normalizeName } from '../certificate/domains.js';

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

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '') return true;
  return name === zone || name.endsWith(`.${zone}`);
}

/** Every suffix of a name, longest first: a.b.c → [a.b.c, b.c, c]. */
export function nameSuffixes(name: string): string[] {
  const labels = normalizeName(name)
    .split('.')
    .filter((l) => l.length > 0);
  const out: string[] = [];
  for (let i = 0; i < labels.length; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/** A TXT value as Route 53 wants it in ResourceRecords: one quoted character-string. */
export function quoteTxt(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The text of a TXT record value as Route 53 returns it (`"abc"`, or several strings
 * `"ab" "c"` for long values, with `\"` / `\\` / `\ooo` octal escapes), concatenated.
 */
export function unquoteTxt(raw: string): string {
  const s = raw.trim();
  if (!s.startsWith('"')) return decodeDnsEscapes(s);
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '"') {
      i++;
      continue;
    }
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) {
        const oct = s.slice(i + 1, i + 4);
        if (/^[0-7]{3}$/.test(oct)) {
          // Route 53 writes special characters in TXT values as \ooo octal escapes.
          out += String.fromCharCode(parseInt(oct, 8));
          i += 4;
        } else {
          out += s[i + 1];
          i += 2;
        }
      } else {
        out += s[i];
        i++;
      }
    }
    i++; // closing quote
  }
  return out;
}
