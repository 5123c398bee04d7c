/**
 * The actions the policies grant and the tag keys they let each role write: the names
 * other policies and the stack's configuration check agree on.
 */
// The tag keys the policies let each role write: the registry (rotation/certificate/tags.ts).
export {
  CA_FAILED_TAG,
  INFLIGHT_TAG as INFLIGHT_TAG_PREFIX,
  RENEWAL_TAG_KEYS,
  RENEWAL_TAG_PREFIX,
  ROTATION_FAILURE_TAG,
  STATUS_TAG_KEYS,
} from '../../rotation/certificate/tags.js';

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
