/**
 * Plays Secrets Manager's part in a rotation, with the real SDK client against the local endpoint:
 * RotateSecret (which creates the empty AWSPENDING stub; its VersionId is the token), then one
 * synchronous invocation per step — createSecret, setSecret, testSecret, finishSecret — stopping at
 * the first failure and, while attempts remain, retrying the whole sequence with the same token
 * as Secrets Manager does. RotateImmediately=false runs only testSecret.
 */
import {
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

import type { InvokeResult, LocalLambda } from './lambda.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export interface StepRecord {
  /** 1-based attempt number. */
  attempt: number;
  step: RotationStep;
  result: InvokeResult;
}

export interface RotateOptions {
  client: SecretsManagerClient;
  lambda: LocalLambda;
  /** Name or ARN, passed to RotateSecret and as the event's SecretId unchanged. */
  secretId: string;
  /** RotationLambdaARN for RotateSecret; default the LocalLambda's ARN. */
  lambdaArn?: string;
  /** Default true. */
  rotateImmediately?: boolean;
  /** Attempts of the whole step sequence; default 1. */
  maxAttempts?: number;
  /** Pause between attempts (Secrets Manager waits much longer); default 0. */
  retryDelayMs?: number;
  /** Called when a step is about to be invoked. */
  onStepStart?: (step: RotationStep, attempt: number) => void;
  /** Called with each step's outcome. */
  onStep?: (record: StepRecord) => void;
}

export interface RotationRun {
  token: string;
  succeeded: boolean;
  /** One array per attempt, one entry per step invoked in it. */
  attempts: { step: string; result: InvokeResult }[][];
  lastError?: { step: string; name: string; message: string };
}

/** RotateSecret, then the steps (with retries). RotateSecret's own errors are thrown. */
export async function rotate(opts: RotateOptions): Promise<RotationRun> {
  const rotateImmediately = opts.rotateImmediately ?? true;
  const response = await opts.client.send(
    new RotateSecretCommand({
      SecretId: opts.secretId,
      RotationLambdaARN: opts.lambdaArn ?? opts.lambda.functionArn,
      RotateImmediately: rotateImmediately,
    }),
  );
  if (!response.VersionId) throw new Error(`RotateSecret(${opts.secretId}) returned no VersionId`);
  return runSteps({ ...opts, rotateImmediately }, response.VersionId);
}

/** Resumes a failed rotation with its token (no new RotateSecret), like Secrets Manager's retry. */
export async function retryRotation(opts: RotateOptions & { token: string }): Promise<RotationRun> {
  return runSteps({ ...opts, rotateImmediately: opts.rotateImmediately ?? true }, opts.token);
}

async function runSteps(opts: RotateOptions & { rotateImmediately: boolean }, token: string): Promise<RotationRun> {
  const steps: readonly RotationStep[] = opts.rotateImmediately ? ROTATION_STEPS : ['testSecret'];
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 1);
  const run: RotationRun = { token, succeeded: false, attempts: [] };

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1 && opts.retryDelayMs) await new Promise((r) => setTimeout(r, opts.retryDelayMs));
    const records: { step: string; result: InvokeResult }[] = [];
    run.attempts.push(records);
    let failed = false;
    for (const step of steps) {
      opts.onStepStart?.(step, attempt);
      const result = await opts.lambda.invoke({ Step: step, SecretId: opts.secretId, ClientRequestToken: token });
      records.push({ step, result });
      opts.onStep?.({ attempt, step, result });
      if (!result.ok) {
        run.lastError = { step, name: result.error.name, message: result.error.message };
        failed = true;
        break;
      }
    }
    if (!failed) {
      if (!opts.rotateImmediately) {
        // Secrets Manager ends a test-only rotation by removing AWSPENDING from the stub it made.
        await opts.client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: opts.secretId,
            VersionStage: 'AWSPENDING',
            RemoveFromVersionId: token,
          }),
        );
      }
      run.succeeded = true;
      delete run.lastError;
      return run;
    }
  }
  return run;
}
