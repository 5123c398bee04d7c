/**
 * A CA announcing a revocation (or asking for early renewal), as the renewal watch meets it: the
 * suggested window moves into the past, and — as the watch only asks again after the CA's
 * Retry-After (6 h) — the ask it keeps in the secret's tags is made due now, as 6 h passing would.
 */
import { RENEWAL_TAG } from '../../rotation/certificate/tags.js';
import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';

import type { LocalStack } from './stack.js';

export async function revocationDrill(
  stack: Pick<LocalStack, 'sm'> & { ari: NonNullable<LocalStack['ari']> },
  certificates: { secretArn: string; certId: string }[],
): Promise<void> {
  for (const { secretArn, certId } of certificates) {
    stack.ari.windowInThePast(certId);
    await stack.sm.send(
      new TagResourceCommand({
        SecretId: secretArn,
        Tags: [{ Key: RENEWAL_TAG.checkAfter, Value: new Date(0).toISOString() }],
      }),
    );
  }
}
