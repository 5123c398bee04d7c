/**
 * IAM policy documents (pure; no Pulumi). Every statement names the exact resources it needs;
 * the tests assert there is no `*` action, no secret wildcard and no `route53:*`.
 *
 * Secrets Manager access is granted by a resource policy ON EACH SECRET (that secret's exact ARN,
 * the rotation role as principal), not by the role's own policy. An inline role policy holds at
 * most 10,240 characters, i.e. about 90 secret ARNs; per-secret resource policies scale to any
 * number of certificates and keep each grant next to the secret it opens.
 */
export * from './policies/actions.js';
export * from './policies/document.js';
export * from './policies/resources.js';
export * from './policies/roles.js';
export * from './hosted-zones.js';
