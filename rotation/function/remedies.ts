/**
 * What the operator runs to get out of a stuck rotation: the texts several steps (and the
 * handler's standard checks) add to their errors as hints.
 */

/** The command that drops a leftover AWSPENDING label, so that RotateSecret can start a new rotation. */
export function removePendingCommand(secretName: string, versionId: string): string {
  return (
    `aws secretsmanager update-secret-version-stage --secret-id ${secretName} --version-stage AWSPENDING ` +
    `--remove-from-version-id ${versionId}`
  );
}

/**
 * How to get out of a rotation whose pending version can never pass. Versions are immutable and
 * RotateSecret refuses to start while AWSPENDING sits on a version other than AWSCURRENT, so the
 * label has to go too (cancel-rotate-secret alone leaves it).
 */
export function cancelHint(secretName: string, token: string): string {
  return (
    'versions are immutable, so this rotation cannot succeed: run ' +
    `aws secretsmanager cancel-rotate-secret --secret-id ${secretName}, then ` +
    `${removePendingCommand(secretName, token)}, then aws secretsmanager rotate-secret --secret-id ${secretName}`
  );
}

/**
 * How to get out when AWSCURRENT holds something that is not ours to replace; `retried` says what
 * the next attempt then does.
 */
export function foreignWayOut(secretName: string, retried: string): string {
  return (
    'If this secret is meant to hold the certificate, store {} as its value ' +
    `(aws secretsmanager put-secret-value --secret-id ${secretName} --secret-string '{}'); ` +
    `the next attempt of this rotation then ${retried}. ` +
    'If the value belongs to another application, take the acme:* tags and the rotation off this secret'
  );
}
