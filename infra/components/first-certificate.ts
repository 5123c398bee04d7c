/**
 * The ACM ARNs a stack hands out resolve only once a real certificate is behind them, in the
 * spirit of aws.acm.CertificateValidation: until the first rotation has issued a certificate and
 * delivered it to every ACM certificate of its `acme:acm-certificate-arns`, an ARN holds the
 * self-signed placeholder, which CloudFront refuses outright and a load balancer would serve.
 *
 * The wait is an aws.lambda.Invocation of the renewal watch's code (its waiter function, without
 * the watch's reserved concurrency of 1, so waits run side by side and beside a scheduled run) with the waiter event
 * (rotation/watch/await.ts), made by the AWS provider during `pulumi up`: it returns when the
 * certificate is in AWSCURRENT and under every ARN, and fails the deployment with the rotation's
 * last failure when none comes within the watch function's time. A consumer's program has only
 * the Pulumi peers installed (no AWS SDK for a dynamic provider to call AWS with), and the watch
 * function already holds the grants the wait needs, so an Invocation needs nothing more.
 *
 * It runs when created and again whenever its triggers change: a region or an ARN added later
 * makes it run once more, and the waiter re-imports the current certificate into the new ARN at
 * once (the watch's reconciliation) instead of leaving it on the placeholder until the next
 * renewal.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { WATCH_TIMEOUT_SECONDS } from './renewal-watch.js';

/**
 * How long the deployment waits for a first certificate: the watch function's whole timeout but
 * a minute, which the waiter keeps to report. A first issuance with Let's Encrypt takes one to a
 * few minutes, most of it DNS propagation.
 */
export const FIRST_CERTIFICATE_TIMEOUT_SECONDS = WATCH_TIMEOUT_SECONDS - 60;

export interface FirstCertificateArgs {
  /** The function that runs the waiter (RenewalWatch.waiter: the watch's code and role). */
  watchFunctionName: pulumi.Input<string>;
  secretArn: pulumi.Output<string>;
  /** The ACM certificates the secret's tags name (sorted ARNs), and the same by region. */
  acmArns: pulumi.Output<string[]>;
  acmArnsByRegion: pulumi.Output<Record<string, string>>;
  /** What must exist before the wait can succeed: the rotation started, the watch's grants. */
  waitAfter: pulumi.Resource[];
}

export interface FirstCertificate {
  invocation: aws.lambda.Invocation;
  /** Region → ARN, known only once the invocation returned: what listeners and distributions take. */
  acmArnsByRegion: pulumi.Output<Record<string, string>>;
}

/**
 * The waiter's event for these secrets. Its key is AWAIT_EVENT_KEY of rotation/watch/await.ts,
 * written out here: that module loads the AWS SDK, which a consumer's install does not have (the
 * infra tests parse this event with the waiter's own parser).
 */
export function awaitEvent(secretIds: string[], timeoutSeconds = FIRST_CERTIFICATE_TIMEOUT_SECONDS): string {
  return JSON.stringify({ acmeRotationAwait: { secretIds, timeoutSeconds } });
}

/** Named like the certificate's secret: the invocation is <name>-first-certificate. */
export function awaitFirstCertificate(
  name: string,
  args: FirstCertificateArgs,
  opts: { parent: pulumi.Resource },
): FirstCertificate {
  const invocation = new aws.lambda.Invocation(
    `${name}-first-certificate`,
    {
      functionName: args.watchFunctionName,
      input: args.secretArn.apply((arn) => awaitEvent([arn])),
      // A new secret or another set of ARNs waits (and delivers) again; nothing else does.
      triggers: {
        secretArn: args.secretArn,
        acmCertificateArns: args.acmArns.apply((arns) => arns.join(',')),
      },
    },
    { parent: opts.parent, dependsOn: args.waitAfter },
  );
  return {
    invocation,
    acmArnsByRegion: pulumi.all([invocation.result, args.acmArnsByRegion]).apply(([, byRegion]) => byRegion),
  };
}
