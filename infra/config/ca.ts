/**
 * The ACME CA: its directory (`ca`) and a private CA's roots the function trusts (`caRootsPem`).
 */
import { X509Certificate } from 'node:crypto';

import { splitPemCertificates } from '../../rotation/bundle.js';
import { directoryUrlProblem } from '../../rotation/rules.js';
import { LETS_ENCRYPT_DIRECTORIES } from '../schedule.js';
import { quote, type Problems } from './problems.js';
import { optionalString } from './values.js';

/** `production` / `staging` / an https directory URL; undefined when invalid (reported). */
export function directoryUrl(p: Problems, raw: string | undefined): string | undefined {
  const value = optionalString(raw) ?? 'production';
  if (value === 'production' || value === 'staging') return LETS_ENCRYPT_DIRECTORIES[value];
  switch (directoryUrlProblem(value)) {
    case 'not-a-url':
      p.add(
        'ca',
        `${quote(value)} is neither production, staging nor a URL (an ACME directory like https://acme.example/directory)`,
      );
      return undefined;
    case 'not-https':
      p.add('ca', `${quote(value)} must use https (RFC 8555 requires TLS)`);
      return undefined;
    default:
      return value;
  }
}

/**
 * A private CA's root certificates (PEM): every block must be a CA certificate, so a leaf or a key
 * pasted by mistake is caught at `pulumi preview`, not in the first rotation's testSecret.
 */
export function caRoots(p: Problems, raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/PRIVATE KEY-----/.test(raw)) {
    p.add('caRootsPem', "holds a private key: give only the CA's root certificate(s)");
    return undefined;
  }
  const blocks = splitPemCertificates(raw);
  if (blocks.length === 0) {
    p.add('caRootsPem', 'holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)');
    return undefined;
  }
  for (const [i, pem] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      p.add('caRootsPem', `certificate ${i + 1} does not parse as X.509`);
      return undefined;
    }
    if (!cert.ca) {
      const name = cert.subject ? cert.subject.replace(/\n/g, ', ') : (cert.subjectAltName ?? 'no name');
      p.add('caRootsPem', `certificate ${i + 1} (${name}) is not a CA certificate`);
    }
  }
  return blocks.join('');
}
