import { type KeyType } from '../certificate/key-types.js';
import { generateKeyPair } from 'node:crypto';

function ec(namedCurve: 'P-256' | 'P-384'): Promise<string> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'ec',
      {
        namedCurve,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv)),
    ),
  );
}

function rsa(modulusLength: number): Promise<string> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'rsa',
      {
        modulusLength,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv)),
    ),
  );
}

/** A new private key of the given type as PKCS#8 PEM (the format the secret JSON promises). */
export function generatePrivateKey(keyType: KeyType): Promise<string> {
  switch (keyType) {
    case 'ecdsa-p256':
      return ec('P-256');
    case 'ecdsa-p384':
      return ec('P-384');
    case 'rsa-2048':
      return rsa(2048);
    case 'rsa-3072':
      return rsa(3072);
    case 'rsa-4096':
      return rsa(4096);
  }
}
