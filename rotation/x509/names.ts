/**
 * Names and descriptions for the certificate checks and their messages: DNS names compared as
 * certificates carry them (lowercase, IDNA A-labels, no trailing dot), Node's subjectAltName
 * string read, durations and certificates put in words. Messages never carry key material.
 */
import type { X509Certificate } from 'node:crypto';
import { normaliseDnsName } from '../certificate/domains.js';
import { normaliseSerial, oneLineDn } from '../certificate/bundle.js';

const DAY_MS = 86_400_000;

/**
 * Parse Node's `subjectAltName` string ("DNS:a.example, DNS:*.b.example, IP Address:1.2.3.4").
 * Node quotes entries holding special characters as JSON strings (DNS:"a,b"); both forms are read.
 */
export function parseSubjectAltName(san: string | undefined): { dns: string[]; other: string[] } {
  const dns: string[] = [];
  const other: string[] = [];
  if (!san) return { dns, other };
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const type = san.slice(i, colon).trim();
    let value: string;
    let next: number;
    if (san[colon + 1] === '"') {
      let j = colon + 2;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      const quoted = san.slice(colon + 1, j + 1);
      try {
        value = JSON.parse(quoted) as string;
      } catch {
        value = quoted;
      }
      next = san.indexOf(', ', j + 1);
    } else {
      next = san.indexOf(', ', colon + 1);
      value = san.slice(colon + 1, next < 0 ? undefined : next);
    }
    if (type === 'DNS') dns.push(value);
    else other.push(`${type}:${value}`);
    if (next < 0) break;
    i = next + 2;
  }
  return { dns, other };
}

/** Set difference in both directions, after normalisation; order of first appearance kept. */
export function diffNames(expected: string[], actual: string[]): { missing: string[]; unexpected: string[] } {
  const exp = [...new Set(expected.map(normaliseDnsName))];
  const act = [...new Set(actual.map(normaliseDnsName))];
  const expSet = new Set(exp);
  const actSet = new Set(act);
  return { missing: exp.filter((n) => !actSet.has(n)), unexpected: act.filter((n) => !expSet.has(n)) };
}

export function describeDiff(d: { missing: string[]; unexpected: string[] }): string {
  const parts: string[] = [];
  if (d.missing.length) parts.push(`missing ${d.missing.join(', ')}`);
  if (d.unexpected.length) parts.push(`unexpected ${d.unexpected.join(', ')}`);
  return parts.join('; ');
}

/** "3.5 h", "12 days", "40 s" — for messages. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  if (abs >= 2 * DAY_MS) return `${fmt(Math.round((ms / DAY_MS) * 10) / 10)} days`;
  if (abs >= 3_600_000) return `${fmt(Math.round((ms / 3_600_000) * 10) / 10)} h`;
  if (abs >= 60_000) return `${fmt(Math.round((ms / 60_000) * 10) / 10)} min`;
  return `${fmt(Math.round(ms / 100) / 10)} s`;
}

/** Short, key-free description of a certificate for messages. */
export function describeCert(cert: X509Certificate): string {
  const subject = oneLineDn(cert.subject ?? '');
  const cn = /(?:^|, )CN=((?:\\.|[^,])*)/.exec(subject)?.[1];
  if (cn) return `CN=${cn}`;
  if (subject) return subject;
  const san = parseSubjectAltName(cert.subjectAltName).dns[0];
  return san ? `SAN ${san}` : `serial ${normaliseSerial(cert.serialNumber)}`;
}
