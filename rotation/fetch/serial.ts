/**
 * What is on disk, compared with AWSCURRENT to decide whether to write and reload: the serial of
 * the certificate in the fullchain file (written last, so its serial is that of a complete set),
 * and whether the key file belongs to that certificate. Files are read without following links
 * (targets.ts).
 */
import { type X509Certificate, createPrivateKey } from 'node:crypto';

import { normaliseSerial, parseCertificate, splitPemCertificates } from '../certificate/bundle.js';
import { readTarget } from './targets.js';

/**
 * The first certificate in `path`; undefined when the file is missing, empty or holds no parsable
 * certificate — all of which mean "write it". Other read errors (permissions, a directory or a
 * link in the way) are thrown: writing would fail or be refused too.
 */
export async function certificateOnDisk(path: string): Promise<X509Certificate | undefined> {
  const file = await readTarget(path);
  if (file === undefined) return undefined;
  return parseCertificate(splitPemCertificates(file.content.toString('utf8'))[0]);
}

/** The serial (uppercase hex, as in the bundle) of the first certificate in `path`; see certificateOnDisk. */
export async function serialOnDisk(path: string): Promise<string | undefined> {
  const cert = await certificateOnDisk(path);
  return cert === undefined ? undefined : normaliseSerial(cert.serialNumber);
}

/**
 * Whether the private key in `keyPath` belongs to `cert`: false for a key of another certificate
 * and for a file that holds no readable key; undefined when there is no file.
 */
export async function keyMatchesOnDisk(keyPath: string, cert: X509Certificate): Promise<boolean | undefined> {
  const file = await readTarget(keyPath);
  if (file === undefined) return undefined;
  try {
    return cert.checkPrivateKey(createPrivateKey({ key: file.content, format: 'pem' }));
  } catch {
    return false;
  }
}

/** Same certificate serial, whatever the spelling (colons, case, leading zero bytes). */
export function sameSerial(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normaliseSerial(a) === normaliseSerial(b);
}
