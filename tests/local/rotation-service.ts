/**
 * Secrets Manager's own part of a rotation that someone else started: when RotateSecret is called
 * on the local endpoint (by the renewal watch), run the four steps with the rotation function, as
 * Secrets Manager invokes it. Each rotation gets a container of its own from a pool (a Lambda
 * container serves one invocation at a time), so rotations run concurrently like real sandboxes.
 */
import type { RotateInfo } from './aws/secretsmanager.js';
import { retryRotation, type RotationRun } from './driver.js';
import type { LocalLambda } from './lambda.js';
import type { LocalStack } from './stack.js';

export interface RotationService {
  /** Every rotation started through RotateSecret since `serveRotations`, by secret ARN, in order. */
  readonly runs: { arn: string; token: string; run: Promise<RotationRun> }[];
  /** Waits for every rotation started so far (and any they lead to) to end. */
  settled(): Promise<RotationRun[]>;
  /** Stops answering RotateSecret (running rotations go on). */
  detach(): void;
  /** The containers made for the rotations (for their logs). */
  readonly containers: LocalLambda[];
}

export function serveRotations(
  stack: LocalStack,
  opts: { env?: Record<string, string>; maxAttempts?: number; pool?: LocalLambda[] } = {},
): RotationService {
  // Containers made (and initialised) beforehand are used first, as warm Lambda sandboxes would be.
  const free: LocalLambda[] = [...(opts.pool ?? [])];
  const containers: LocalLambda[] = [];
  const runs: RotationService['runs'] = [];
  const take = (): LocalLambda => {
    const lambda = free.pop() ?? stack.newLambda(opts.env ?? {});
    if (!containers.includes(lambda)) containers.push(lambda);
    return lambda;
  };
  const onRotate = (info: RotateInfo): void => {
    if (!info.rotateImmediately) return;
    const lambda = take();
    // After RotateSecret has answered: Secrets Manager invokes the function asynchronously.
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      retryRotation({
        client: stack.sm,
        lambda,
        secretId: info.arn,
        token: info.token,
        maxAttempts: opts.maxAttempts ?? 1,
      }).finally(() => free.push(lambda)),
    );
    runs.push({ arn: info.arn, token: info.token, run });
  };
  stack.aws.secrets.onRotate = onRotate;
  return {
    runs,
    containers,
    async settled() {
      let seen = -1;
      while (seen !== runs.length) {
        seen = runs.length;
        await Promise.allSettled(runs.map((r) => r.run));
      }
      return Promise.all(runs.map((r) => r.run));
    },
    detach() {
      if (stack.aws.secrets.onRotate === onRotate) stack.aws.secrets.onRotate = undefined;
    },
  };
}
