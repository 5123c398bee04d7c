/**
 * What a certificate secret's current value is, before a rotation replaces it: nothing yet, one
 * of our bundles, a damaged one of ours, or someone else's value that must not be replaced.
 */
import { X509Certificate } from 'node:crypto';
import { parseBundle, PRIVATE_KEY_PEM_RE, splitPemCertificates, type CertificateBundle } from './bundle.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What the current (AWSCURRENT) value of a certificate secret is, for createSecret:
 *
 * - `empty`: no value, an empty string, or `{}` — "no certificate yet", the rotation issues one;
 * - `bundle`: one of our certificate bundles (or the predecessor's) — a renewal;
 * - `damaged`: shaped like our bundle (a JSON object with `certificate` and `private_key`) but
 *   unusable (the certificate does not parse, the key is not PEM, …) — the rotation replaces it:
 *   no consumer can use it as it is, the secret is ours by its tags and its shape, and the damaged
 *   value stays readable as AWSPREVIOUS;
 * - `foreign`: anything else (text, truncated JSON, another application's JSON such as
 *   `{"username":…,"password":…}`) — the rotation must not replace it.
 *
 * `description` and `problem` say what was found without quoting any value (it may be a password
 * or a key): at most the names of a JSON object's fields.
 */
export type CurrentValue =
  | { kind: 'empty' }
  | { kind: 'bundle'; bundle: CertificateBundle }
  | { kind: 'damaged'; problem: string }
  | { kind: 'foreign'; description: string };

/** Field names as they may be shown: printable identifier-like characters only, shortened. */
function fieldNames(record: Record<string, unknown>): string {
  const names = Object.keys(record).map((k) => {
    const clean = k.replace(/[^A-Za-z0-9_.:-]/g, '?');
    return clean.length > 32 ? `${clean.slice(0, 32)}…` : clean;
  });
  const shown = names.slice(0, 8).join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/** Why a value shaped like our bundle is not usable (no value quoted). */
function bundleProblem(raw: Record<string, unknown>): string {
  const { certificate, private_key: privateKey, fullchain, domains } = raw;
  if (typeof certificate !== 'string' || splitPemCertificates(certificate).length === 0) {
    return 'its certificate field holds no PEM certificate';
  }
  try {
    new X509Certificate(splitPemCertificates(certificate)[0] as string);
  } catch {
    return 'its certificate does not parse as X.509';
  }
  if (typeof privateKey !== 'string' || !PRIVATE_KEY_PEM_RE.test(privateKey)) {
    return 'its private_key field holds no PEM private key';
  }
  if (typeof fullchain !== 'string' || !fullchain.includes('-----BEGIN CERTIFICATE-----')) {
    return 'its fullchain field holds no PEM certificate';
  }
  if (!Array.isArray(domains) || !domains.every((d) => typeof d === 'string')) {
    return 'its domains field is not a list of names';
  }
  return 'its key type cannot be determined';
}

export function classifyCurrentValue(secretString: string | undefined): CurrentValue {
  if (secretString === undefined || secretString.trim() === '') return { kind: 'empty' };
  const bundle = parseBundle(secretString);
  if (bundle) return { kind: 'bundle', bundle };
  let raw: unknown;
  try {
    raw = JSON.parse(secretString);
  } catch {
    const text = secretString.trimStart();
    return {
      kind: 'foreign',
      description:
        text.startsWith('{') || text.startsWith('[')
          ? `JSON that does not parse (${secretString.length} characters; truncated?)`
          : `text that is not JSON (${secretString.length} characters)`,
    };
  }
  if (isRecord(raw)) {
    if (Object.keys(raw).length === 0) return { kind: 'empty' };
    if ('certificate' in raw && 'private_key' in raw) return { kind: 'damaged', problem: bundleProblem(raw) };
    return { kind: 'foreign', description: `a JSON object with the field(s) ${fieldNames(raw)}` };
  }
  const type = raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw;
  return { kind: 'foreign', description: `a JSON ${type}` };
}
