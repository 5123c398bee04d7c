/**
 * Reading the certificate secret for the fetch command: AWSCURRENT only, accepted only when it is
 * one of our bundles whose key belongs to its certificate, and turned into the files to write.
 * Errors name the secret and say what was found without quoting the value (it may be a key).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';

import type { SecretsAdapter } from '../aws/secrets.js';
import { normaliseSerial, splitPemCertificates, type CertificateBundle } from '../certificate/bundle.js';
import { classifyCurrentValue } from '../certificate/current-value.js';
import type { FetchOptions } from './args.js';
import type { FileToWrite } from './writer.js';

/** Modes of files written for the first time; a replaced file keeps the mode it has. */
export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/** A failure to be reported as it is (exit status 1); the message is safe to print. */
export class FetchError extends Error {
  override name = 'FetchError';
}

/** The bundle with its serial taken from the certificate itself (what the files on disk are compared with). */
export interface CurrentCertificate {
  bundle: CertificateBundle;
  serial: string;
  /** The leaf, parsed (its validity decides whether it may replace the certificate on disk). */
  leaf: X509Certificate;
}

/** AWS's own words for a failed read: the SDK error's name and message (what the operator searches for). */
function describeAwsError(err: unknown): string {
  const said = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (said instanceof Error) return `${said.name}: ${said.message}`;
  return String(said);
}

/** GetSecretValue(AWSCURRENT), checked. Throws FetchError. */
export async function readCurrentCertificate(secrets: SecretsAdapter, secretId: string): Promise<CurrentCertificate> {
  let current;
  try {
    current = await secrets.readVersion(secretId, { stage: 'AWSCURRENT' });
  } catch (err) {
    if ((err as { awsCode?: string }).awsCode === 'ResourceNotFoundException') {
      throw new FetchError(
        `secret "${secretId}": no AWSCURRENT version (or no such secret in this account and region) — ${describeAwsError(err)}`,
        { cause: err },
      );
    }
    throw new FetchError(`secret "${secretId}": cannot read AWSCURRENT — ${describeAwsError(err)}`, { cause: err });
  }
  return checkCurrentValue(secretId, current.value, current.binaryBytes !== undefined);
}

/** The AWSCURRENT value as a certificate, or a FetchError saying why it is not one. */
export function checkCurrentValue(
  secretId: string,
  secretString: string | undefined,
  binary = false,
): CurrentCertificate {
  const notABundle = (why: string): FetchError =>
    new FetchError(`secret "${secretId}": AWSCURRENT is not a certificate bundle: ${why}; nothing was written`);
  if (binary) throw notABundle('it holds a binary value');
  const current = classifyCurrentValue(secretString);
  switch (current.kind) {
    case 'empty':
      throw notABundle('it holds no certificate yet (has the first rotation finished?)');
    case 'damaged':
      throw notABundle(current.problem);
    case 'foreign':
      throw notABundle(`it holds ${current.description}`);
    case 'bundle':
      break;
  }
  const { bundle } = current;
  const leafPem = splitPemCertificates(bundle.certificate)[0] as string; // a bundle has one
  const fullchainLeafPem = splitPemCertificates(bundle.fullchain)[0];
  const leaf = new X509Certificate(leafPem);
  // The serial compared on the next run is read from the fullchain file: it must start with this leaf.
  if (fullchainLeafPem === undefined || !new X509Certificate(fullchainLeafPem).raw.equals(leaf.raw)) {
    throw notABundle('its fullchain does not start with its certificate');
  }
  let keyMatches: boolean;
  try {
    keyMatches = leaf.checkPrivateKey(createPrivateKey({ key: bundle.private_key, format: 'pem' }));
  } catch {
    keyMatches = false;
  }
  if (!keyMatches) throw notABundle('its private_key does not belong to its certificate');
  return { bundle, serial: normaliseSerial(leaf.serialNumber), leaf };
}

/** What to write, key first (the fullchain's rename comes last, so its serial says the set is complete). */
export function filesFor(options: FetchOptions, bundle: CertificateBundle): FileToWrite[] {
  const files: FileToWrite[] = [{ path: options.keyPath, content: bundle.private_key, mode: KEY_MODE }];
  if (options.certPath !== undefined)
    files.push({ path: options.certPath, content: bundle.certificate, mode: CERT_MODE });
  if (options.chainPath !== undefined) files.push({ path: options.chainPath, content: bundle.chain, mode: CERT_MODE });
  files.push({ path: options.fullchainPath, content: bundle.fullchain, mode: CERT_MODE });
  return files;
}
