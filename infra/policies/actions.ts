/**
 * The actions the policies grant and the tag keys they let each role write: the names
 * other policies and the stack's configuration check agree on.
 */
import { INFLIGHT_TAG } from '../../rotation/dns01/inflight.js';
import { RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX } from '../../rotation/watch/tags.js';

/** The status tags the rotation writes after each promotion (rotation/certificate/bundle.ts). */
export { STATUS_TAG_KEYS } from '../../rotation/certificate/bundle.js';
/** The rotation's last failure, written by a failing step (rotation/lib/errors.ts). */
export { ROTATION_FAILURE_TAG } from '../../rotation/lib/errors.js';
/** The CAs that failed during a rotation, so its retry starts at the next one (rotation/acme/fallback.ts). */
export { CA_FAILED_TAG } from '../../rotation/acme/fallback.js';
/** Prefix of the in-flight tags the rotation writes while TXT records are in DNS. */
export const INFLIGHT_TAG_PREFIX = INFLIGHT_TAG;
/** The renewal watch's status tags (rotation/watch/tags.ts): all start with this prefix. */
export { RENEWAL_TAG_KEYS, RENEWAL_TAG_PREFIX };

/** The Secrets Manager actions the rotation needs on a certificate secret. */
export const CERTIFICATE_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
export const CERTIFICATE_TAG_ACTIONS = ['secretsmanager:TagResource', 'secretsmanager:UntagResource'];
/**
 * What the renewal watch does with a certificate secret: read it, date its AWSPENDING version
 * (a rotation in flight or a failed one), and start its rotation.
 */
export const WATCH_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:ListSecretVersionIds',
  'secretsmanager:RotateSecret',
];
/** The watch clears a failed rotation's AWSPENDING label, and only that label (resources.ts). */
export const WATCH_CLEAR_PENDING_ACTIONS = ['secretsmanager:UpdateSecretVersionStage'];
/** Actions that cannot be scoped to a resource: IAM accepts them only on `*`. */
export const UNSCOPABLE_ACTIONS = ['secretsmanager:ListSecrets'] as const;
export const ACCOUNT_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
];
