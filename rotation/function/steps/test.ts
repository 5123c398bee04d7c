import { parseBundle } from '../../certificate/bundle.js';
import { VerificationError } from '../../lib/errors.js';
import { cancelHint } from '../remedies.js';
import { parseSpec } from '../../certificate/spec.js';
import type { StepContext } from './context.js';

/** testSecret: PEM verification of the pending bundle; a bad certificate never becomes AWSCURRENT. */
export async function testSecret(ctx: StepContext): Promise<void> {
  const { secret, token } = ctx;
  const spec = parseSpec(secret.name, secret.tags);
  const raw = await ctx.secrets.getValue(secret.arn, { versionId: token, stage: 'AWSPENDING' });
  if (raw === undefined) {
    throw new VerificationError(
      `version ${token} (AWSPENDING) has no value; createSecret did not complete ` +
        '(Secrets Manager runs createSecret, setSecret, testSecret, finishSecret in this order; a failed createSecret is retried)',
    );
  }
  const bundle = parseBundle(raw);
  if (!bundle) {
    throw new VerificationError(
      `version ${token} (AWSPENDING) does not hold a certificate bundle (expected JSON with certificate, private_key, fullchain, domains)`,
      { hint: cancelHint(secret.name, token) },
    );
  }
  let result: Awaited<ReturnType<StepContext['verify']>>;
  try {
    result = await ctx.logger.time('verify', () =>
      ctx.verify(bundle, {
        expectedDomains: spec.domains,
        expectedKeyType: spec.keyType,
        now: ctx.now(),
        ...(ctx.config.maxCertificateLifetimeMs !== undefined
          ? { maxLifetimeMs: ctx.config.maxCertificateLifetimeMs }
          : {}),
      }),
    );
  } catch (err) {
    if (err instanceof VerificationError) {
      // Secrets Manager retries with the same, immutable pending version: say how to get unstuck.
      err.withHint(`If this does not go away on retry, ${cancelHint(secret.name, token)}`);
    }
    throw err;
  }
  ctx.logger.info('pending certificate verified', {
    serial: result.serial,
    expiry: result.expiry,
    checks: result.checks,
  });
}
