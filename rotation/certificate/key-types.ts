/**
 * The private-key types a certificate can have: read from the `acme:key-type` tag (spec.ts),
 * recorded in the secret's `key_type` (bundle.ts) and accepted by the stack configuration.
 * Defined here once so the three never disagree. Nothing but data: every bundle may import it.
 */
export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const KEY_TYPES: readonly KeyType[] = Object.freeze([
  'ecdsa-p256',
  'ecdsa-p384',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
] as const);
