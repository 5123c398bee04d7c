/**
 * The serial of the certificate already on disk, compared with AWSCURRENT's to decide whether to
 * write and reload. The fullchain file is written last, so its serial is that of a complete set.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { normaliseSerial, splitPemCertificates } from '../bundle.js';

/**
 * The serial (uppercase hex, as in the bundle) of the first certificate in `path`; undefined when
 * the file is missing, empty or holds no parsable certificate — all of which mean "write it".
 * Other read errors (permissions, a directory in the way) are thrown: writing would fail too.
 */
export async function serialOnDisk(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const first = splitPemCertificates(text)[0];
  if (first === undefined) return undefined;
  try {
    return normaliseSerial(new X509Certificate(first).serialNumber);
  } catch {
    return undefined;
  }
}

/** Same certificate serial, whatever the spelling (colons, case, leading zero bytes). */
export function sameSerial(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normaliseSerial(a) === normaliseSerial(b);
}
