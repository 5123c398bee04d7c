import { ROTATION_FAILURE_TAG, rotationFailureTagValue } from '../certificate/tags.js';
import { deliveryReporter, reportDeliveriesThrough } from '../acm/report.js';
import type { SecretDescription, SecretsAdapter } from '../aws/secrets.js';
import type { FailureEvent, Notifier } from '../aws/notify.js';
import { publicSummary } from '../certificate/bundle.js';
import type { Config } from '../config/config.js';
import { Deadline, type LambdaContext } from '../lib/deadline.js';
import { AwsServiceError, RotationError, RotationStateError, inContext } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { issuerFields, issuerMetricLines } from '../acme/report.js';
import { metricNames, stdoutMetricSink, type MetricSink } from '../lib/metrics.js';
import { removePendingCommand } from './remedies.js';
import { parseSpec } from '../certificate/spec.js';
import type { StepContext } from './steps/context.js';
import { createSecret } from './steps/create.js';
import { finishSecret, type Promoted } from './steps/finish.js';
import { setSecret } from './steps/set.js';
import { testSecret } from './steps/test.js';

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type Step = (typeof STEPS)[number];

export interface RotationEvent {
  Step: Step;
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** Services the handler needs; created lazily by index.ts, injected by tests. */
export interface Services {
  config: Config;
  logger: Logger;
  notifier: Notifier;
  /**
   * A Secrets Manager adapter for one invocation: the handler starts the step's reads on it beside
   * DescribeSecret, and its call counts are the invocation's.
   */
  secrets: () => SecretsAdapter;
  /** The step context of one invocation, around what the handler found out. */
  stepContext: (base: Pick<StepContext, 'secret' | 'token' | 'logger' | 'deadline' | 'secrets'>) => StepContext;
  /** Where EMF metric lines go (a delivery failure's per-target metric); default stdout. */
  metrics?: MetricSink;
}

const ONLY_SECRETS_MANAGER =
  'invoke this function only through Secrets Manager rotation (aws secretsmanager rotate-secret)';

function validateEvent(event: unknown): RotationEvent {
  const e = (event ?? {}) as Record<string, unknown>;
  if (typeof e.Step !== 'string' || !(STEPS as readonly string[]).includes(e.Step)) {
    throw new RotationError(
      'InvalidEvent',
      `unknown rotation step ${JSON.stringify(e.Step)}: expected one of ${STEPS.join(', ')}; ${ONLY_SECRETS_MANAGER}`,
    );
  }
  if (typeof e.SecretId !== 'string' || e.SecretId === '') {
    throw new RotationError('InvalidEvent', `the event has no SecretId; ${ONLY_SECRETS_MANAGER}`);
  }
  if (typeof e.ClientRequestToken !== 'string' || e.ClientRequestToken === '') {
    throw new RotationError(
      'InvalidEvent',
      `the event has no ClientRequestToken (the id of the AWSPENDING version Secrets Manager created); ${ONLY_SECRETS_MANAGER}`,
    );
  }
  return e as unknown as RotationEvent;
}

function domainsOf(secret: SecretDescription | undefined): string[] {
  if (!secret) return [];
  try {
    return parseSpec(secret.name, secret.tags).domains;
  } catch {
    return [];
  }
}

/**
 * The standard checks every step begins with (as in AWS's rotation template), throwing when the
 * event is not the rotation in progress. 'done': the token is already AWSCURRENT, nothing to do;
 * 'finish-tail': a finishSecret killed after promotion left AWSPENDING on it, so finish the rest;
 * 'run': the token is AWSPENDING, do the step.
 */
export function checkRotationState(
  secret: SecretDescription,
  token: string,
  step: Step,
): 'run' | 'done' | 'finish-tail' {
  const pendingElsewhere = Object.entries(secret.versionStages).find(
    ([id, stages]) => id !== token && stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  )?.[0];
  if (!secret.rotationEnabled) {
    const leftover = pendingElsewhere ?? (secret.versionStages[token]?.includes('AWSPENDING') ? token : undefined);
    throw new RotationStateError(
      'rotation is not enabled on this secret (never configured, or turned off by cancel-rotate-secret), ' +
        'so this invocation is not part of a rotation',
      {
        hint:
          'to rotate, ' +
          (leftover ? `${removePendingCommand(secret.name, leftover)} and then ` : '') +
          `aws secretsmanager rotate-secret --secret-id ${secret.name} --rotation-lambda-arn <this function's ARN>`,
      },
    );
  }
  const stages = secret.versionStages[token];
  const inProgress = pendingElsewhere
    ? `the rotation in progress is version ${pendingElsewhere} (AWSPENDING)`
    : `no rotation is in progress; start one with aws secretsmanager rotate-secret --secret-id ${secret.name}`;
  if (!stages || stages.length === 0) {
    throw new RotationStateError(
      `version ${token} (the event's ClientRequestToken) has no staging label on this secret ` +
        `(an unknown version, or an old one whose labels are gone); ${inProgress}`,
    );
  }
  if (stages.includes('AWSCURRENT')) {
    // A finishSecret killed after promotion left AWSPENDING on the new current version: finish the tail.
    return step === 'finishSecret' && stages.includes('AWSPENDING') ? 'finish-tail' : 'done';
  }
  if (!stages.includes('AWSPENDING')) {
    throw new RotationStateError(
      `version ${token} (the event's ClientRequestToken) is ${stages.join(', ')}, not AWSPENDING, ` +
        `so it is not the rotation in progress; ${inProgress}`,
    );
  }
  return 'run';
}

/** Called when the services cannot be built (bad configuration): report it as a failed step. */
export type InitFailureReporter = (event: FailureEvent) => Promise<void>;

function callCounts(ctx: StepContext | undefined): Record<string, unknown> {
  if (!ctx) return {};
  const acm = ctx.acm.calls();
  return {
    secretsManagerCalls: { ...ctx.secrets.calls },
    route53Calls: ctx.dns.calls(),
    ...(Object.keys(acm).length > 0 ? { acmCalls: acm } : {}),
  };
}

/**
 * The secret's name when only the event's SecretId is known (DescribeSecret failed): an ARN ends
 * in `secret:<name>-<6 random characters>`.
 */
export function nameOfSecretId(secretId: string): string {
  const m = /^arn:[^:]+:secretsmanager:[^:]*:\d*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId);
  return m?.[1] ?? secretId;
}

/**
 * Write the step's failure on the secret (ROTATION_FAILURE_TAG), where the deployment's waiter and
 * an operator read why no certificate came; finishSecret removes it on promotion. A tag write that
 * fails is logged and leaves the step's own error to be reported.
 */
async function recordFailure(ctx: StepContext, step: string, err: RotationError): Promise<void> {
  // The message without its `secret "<name>" <step>: ` label: the tag is on the secret, and names the step.
  const label = `secret ${JSON.stringify(ctx.secret.name)} ${step}: `;
  const message = err.message.startsWith(label) ? err.message.slice(label.length) : err.message;
  const value = rotationFailureTagValue(step, message, ctx.now());
  try {
    await ctx.secrets.tag(ctx.secret.arn, { [ROTATION_FAILURE_TAG]: value });
  } catch (tagError) {
    ctx.logger.error(`could not record the failure in the ${ROTATION_FAILURE_TAG} tag`, { error: tagError });
  }
}

export function createHandler(services: () => Services, onInitFailure?: InitFailureReporter) {
  return async function handler(event: unknown, context?: LambdaContext): Promise<void> {
    const started = performance.now();
    const eventSecretId = String((event as { SecretId?: unknown })?.SecretId ?? '');
    let step: string =
      typeof (event as { Step?: unknown })?.Step === 'string' ? (event as { Step: string }).Step : 'unknown';
    let svc: Services;
    try {
      svc = services();
    } catch (caught) {
      // Configuration errors fail every rotation: make sure someone hears about it.
      const err = inContext(caught, { secretName: eventSecretId, step });
      await onInitFailure?.({
        status: 'failed',
        domains: [],
        error: err.message,
        step,
        secret_name: eventSecretId,
        version_id: String((event as { ClientRequestToken?: unknown })?.ClientRequestToken ?? ''),
        error_code: err.code,
      });
      throw err;
    }
    const deadline = Deadline.fromContext(context);
    let log = svc.logger.child({ awsRequestId: context?.awsRequestId });
    let secret: SecretDescription | undefined;
    let ctx: StepContext | undefined;
    // The event's token even when the event is otherwise invalid: the notice names the version.
    const eventToken = (event as { ClientRequestToken?: unknown })?.ClientRequestToken;
    let token = typeof eventToken === 'string' ? eventToken : '';
    try {
      const ev = validateEvent(event);
      step = ev.Step;
      token = ev.ClientRequestToken;
      log = log.child({ secretId: ev.SecretId, step, token });
      log.info('step started', { remainingMs: context?.getRemainingTimeInMillis?.() });
      // createSecret, testSecret and finishSecret read the token's version, createSecret and
      // finishSecret the current one too: start those reads now, beside DescribeSecret (a round
      // trip less each); the step takes them after the checks below. They only read: a refused
      // event drops them, and nothing is logged of them.
      const secrets = svc.secrets();
      if (ev.Step !== 'setSecret') secrets.prefetch(ev.SecretId, { versionId: token });
      if (ev.Step === 'createSecret' || ev.Step === 'finishSecret') {
        secrets.prefetch(ev.SecretId, { stage: 'AWSCURRENT' });
      }

      try {
        secret = await secrets.describe(ev.SecretId);
      } catch (err) {
        if (err instanceof AwsServiceError && err.awsCode === 'ResourceNotFoundException') {
          err.withHint(
            `no secret ${ev.SecretId} exists in this account and region (deleted, or a wrong SecretId in the rotation event): ` +
              'check the secret and the rotation configured on it',
          );
        }
        throw err;
      }
      log = log.child({ secretName: secret.name });
      const state = checkRotationState(secret, token, ev.Step);
      if (state === 'done') {
        log.info(`version is already AWSCURRENT; ${step} has nothing to do`);
        return;
      }
      ctx = svc.stepContext({ secret, token, logger: log, deadline, secrets });
      if (ev.RotationToken) ctx.rotationToken = ev.RotationToken;
      const metrics = svc.metrics ?? stdoutMetricSink;
      reportDeliveriesThrough(ctx, deliveryReporter({ publish: (e) => svc.notifier.publish(e), metrics, logger: log }));
      let promoted: Promoted | undefined;
      switch (ev.Step) {
        case 'createSecret':
          await createSecret(ctx);
          break;
        case 'setSecret':
          await setSecret(ctx);
          break;
        case 'testSecret':
          await testSecret(ctx);
          break;
        case 'finishSecret':
          promoted = await finishSecret(ctx);
          break;
      }
      if (promoted) {
        const { bundle, acmCertificateArns, acmDeliveryFailed } = promoted;
        await svc.notifier.publish({
          status: 'success',
          domains: bundle.domains,
          expiry: bundle.expiry,
          issued_at: bundle.issued_at,
          secret_name: secret.name,
          secret_arn: secret.arn,
          version_id: token,
          serial: bundle.serial,
          issuer: bundle.issuer,
          key_type: bundle.key_type,
          ...(acmCertificateArns.length > 0 || acmDeliveryFailed.length > 0
            ? { acm_certificate_arns: acmCertificateArns }
            : {}),
          ...(acmDeliveryFailed.length > 0 ? { acm_delivery_failed_arns: acmDeliveryFailed } : {}),
          ...issuerFields(bundle),
        });
        // Which CA issued it, and which ones failed first: per-CA metrics (rotation/acme/report.ts).
        for (const line of issuerMetricLines(bundle, metricNames())) metrics(line);
        log.info('rotation finished', {
          certificate: publicSummary(bundle),
          ...(acmCertificateArns.length > 0 ? { acmCertificateArns } : {}),
          ...(acmDeliveryFailed.length > 0 ? { acmDeliveryFailed } : {}),
        });
      }
      log.info('step succeeded', { durationMs: Math.round(performance.now() - started), ...callCounts(ctx) });
    } catch (caught) {
      const err = inContext(caught, { secretName: secret?.name ?? nameOfSecretId(eventSecretId), step });
      log.error('step failed', {
        durationMs: Math.round(performance.now() - started),
        errorCode: err.code,
        error: err,
        ...callCounts(ctx),
      });
      // Only a step that ran: a refused invocation is not the rotation's, and must not overwrite its record.
      // Beside the notice, not before it: a slow TagResource must not eat the time the notice needs.
      const recorded = ctx ? recordFailure(ctx, step, err) : undefined;
      await svc.notifier.publish({
        status: 'failed',
        domains: domainsOf(secret),
        error: err.message,
        step,
        secret_name: secret?.name ?? nameOfSecretId(eventSecretId),
        ...(secret
          ? { secret_arn: secret.arn }
          : eventSecretId.startsWith('arn:')
            ? { secret_arn: eventSecretId }
            : {}),
        version_id: token,
        error_code: err.code,
      });
      await recorded;
      throw err;
    }
  };
}
