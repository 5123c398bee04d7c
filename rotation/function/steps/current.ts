import { versionWithStage } from '../../aws/secrets.js';
import { classifyCurrentValue, type CurrentValue } from '../../certificate/current-value.js';
import { BinaryValueError, CurrentValueError } from '../../lib/errors.js';
import { foreignWayOut } from '../remedies.js';
import type { StepContext } from './context.js';

/**
 * What AWSCURRENT holds (a SecretBinary value counts as foreign), with the version holding it;
 * undefined when no version holds it. createSecret reads it before ordering, finishSecret again
 * before promoting.
 */
export async function classifyCurrent(
  ctx: StepContext,
): Promise<{ versionId: string; value: CurrentValue } | undefined> {
  const { secret } = ctx;
  const versionId = versionWithStage(secret, 'AWSCURRENT');
  if (versionId === undefined) return undefined;
  const value = await ctx.secrets
    .getValue(secret.arn, { stage: 'AWSCURRENT' })
    .then(classifyCurrentValue, (err: unknown): CurrentValue => {
      if (!(err instanceof BinaryValueError)) throw err;
      return { kind: 'foreign', description: `a binary value (SecretBinary, ${err.bytes} bytes)` };
    });
  return { versionId, value };
}

/**
 * The refusal to replace a current value that is not ours: `consequence` says what the step did
 * not do, `retried` what the next attempt does once {} is stored.
 */
export function foreignCurrent(
  ctx: StepContext,
  found: { versionId: string; description: string },
  consequence: string,
  retried: string,
): CurrentValueError {
  return new CurrentValueError(
    `the current value (AWSCURRENT, version ${found.versionId}) is not a certificate bundle: ` +
      `it is ${found.description}. ${consequence}`,
    { hint: foreignWayOut(ctx.secret.name, retried) },
  );
}
