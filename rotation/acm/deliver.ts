/**
 * Deployment to ACM (`acme:acm-certificate-arns`): every new certificate is re-imported into each
 * listed certificate, in its own region, so its ARN — and every load balancer, distribution or
 * API attached to it — stays the same.
 *
 * Which step: ACM has no "pending" stage; an import is live at once. setSecret runs before
 * testSecret, so importing there could put a certificate that then fails verification behind a
 * load balancer. finishSecret runs after testSecret passed, so the import happens there, just
 * before the promotion: a failed import fails the step before AWSCURRENT moves, Secrets Manager
 * retries finishSecret, and the retry imports only where the certificate is not yet (an ARN
 * already holding the serial is left alone), so a partial import across regions converges. At
 * the end of a rotation every ARN holds AWSCURRENT's serial.
 */
import { normaliseSerial, type CertificateBundle } from '../bundle.js';
import { AcmDeliveryError, AwsServiceError, errorMessage } from '../errors.js';
import type { CertificateSpec } from '../spec.js';
import type { StepContext } from '../steps/context.js';
import { accountOfArn, parseAcmArn, targetProblem, type AcmArn } from './arns.js';

/**
 * Before anything is ordered: every ARN must be able to take a certificate of the spec's key type
 * by re-import. All problems are reported at once, each with its ARN.
 */
export async function checkAcmTargets(ctx: StepContext, spec: CertificateSpec): Promise<void> {
  if (spec.acmCertificateArns.length === 0) return;
  const account = accountOfArn(ctx.secret.arn);
  const problems = await Promise.all(
    spec.acmCertificateArns.map(async (arn): Promise<string | undefined> => {
      const target = parseAcmArn(arn) as AcmArn; // parseSpec accepted it
      if (account && target.account !== account) {
        return `${arn}: it is in account ${target.account}, and this function works in ${account} (ACM certificates are imported in their own account)`;
      }
      try {
        const info = await ctx.acm.describe(arn);
        const problem = targetProblem(target, info, spec.keyType);
        return problem ? `${arn}: ${problem}` : undefined;
      } catch (err) {
        if (err instanceof AwsServiceError && err.awsCode === 'ResourceNotFoundException') {
          return `${arn}: no such certificate in ${target.region} (deleted, or a wrong ARN in acme:acm-certificate-arns)`;
        }
        throw err;
      }
    }),
  );
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length > 0) {
    throw new AcmDeliveryError(
      'AcmTargetUnusable',
      `tag acme:acm-certificate-arns names ${found.length === 1 ? 'a certificate' : `${found.length} certificates`} ` +
        `that cannot take this certificate, so nothing was ordered: ${found.join('; ')}`,
    );
  }
}

/**
 * Import the verified certificate into every ARN that does not hold it yet. Returns the ARNs that
 * hold it afterwards (all of them), for the success notice.
 */
export async function deliverToAcm(
  ctx: StepContext,
  spec: CertificateSpec,
  bundle: CertificateBundle,
): Promise<string[]> {
  if (spec.acmCertificateArns.length === 0) return [];
  const serial = normaliseSerial(bundle.serial);
  await Promise.all(
    spec.acmCertificateArns.map(async (arn) => {
      let held: string | undefined;
      try {
        held = (await ctx.acm.describe(arn)).serial;
      } catch (err) {
        throw new AcmDeliveryError(
          'AcmImportFailed',
          `could not look at ${arn} before importing: ${errorMessage(err)}`,
          {
            cause: err,
            hint: 'Secrets Manager retries finishSecret; nothing was promoted',
          },
        );
      }
      if (held !== undefined && normaliseSerial(held) === serial) {
        ctx.logger.info('ACM already holds this certificate', { acmCertificateArn: arn, serial });
        return;
      }
      try {
        await ctx.logger.time(
          'acm-import',
          () =>
            ctx.acm.import(arn, {
              certificate: bundle.certificate,
              chain: bundle.chain,
              privateKey: bundle.private_key,
            }),
          { acmCertificateArn: arn },
        );
      } catch (err) {
        throw new AcmDeliveryError(
          'AcmImportFailed',
          `importing the new certificate into ${arn} failed: ${errorMessage(err)}`,
          {
            cause: err,
            hint: 'nothing was promoted; Secrets Manager retries finishSecret, which imports only where the certificate is not yet',
          },
        );
      }
      ctx.logger.info('imported into ACM', { acmCertificateArn: arn, serial, previousSerial: held });
    }),
  );
  return [...spec.acmCertificateArns];
}
