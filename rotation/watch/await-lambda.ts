/**
 * The waiter (await.ts) as the watch's Lambda handler runs it: the AWS SDK ports, the clients kept
 * for the container, the invocation's remaining time as the outer bound, and the watch's
 * reconciliation for ARNs that lag.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import type { AcmCalls } from '../acm/deliver.js';
import { acmSessions } from '../acm/session.js';
import { sdkClientConfig } from '../aws/client-config.js';
import { Notifier } from '../aws/notify.js';
import { SecretsAdapter } from '../aws/secrets.js';
import { DEFAULT_API_TIMEOUT_SECONDS } from '../config/config.js';
import { Deadline, type LambdaContext } from '../lib/deadline.js';
import type { Logger } from '../lib/log.js';
import {
  AWAIT_REPORT_RESERVE_MS,
  awaitCertificates,
  parseAwaitRequest,
  type AwaitPorts,
  type AwaitSummary,
} from './await.js';
import { lambdaReconcileDeps, reconcileAcmTargets } from './reconcile.js';

/** The ports over the SDK clients: Secrets Manager (the shared adapter), and ACM (DescribeCertificate in the ARN's region). */
export function sdkAwaitPorts(
  clients: { secrets: SecretsManagerClient; acm: () => Promise<Pick<AcmCalls, 'describe'>> },
  rest: Omit<AwaitPorts, 'describeSecret' | 'currentValue' | 'acmSerial'>,
): AwaitPorts {
  const secrets = new SecretsAdapter(clients.secrets);
  return {
    ...rest,
    async describeSecret(secretId) {
      const d = await secrets.describe(secretId);
      return { arn: d.arn, name: d.name, rotationEnabled: d.rotationEnabled, versions: d.versionStages, tags: d.tags };
    },
    // Undefined without AWSCURRENT: the secret was created without a value, as the stack creates it.
    currentValue: async (secretArn) => (await secrets.findVersion(secretArn, { stage: 'AWSCURRENT' }))?.value,
    async acmSerial(arn) {
      return (await (await clients.acm()).describe(arn)).serial;
    },
  };
}

let secretsClient: SecretsManagerClient | undefined;
let acm: ReturnType<typeof acmSessions> | undefined;

/** The rotation function's log group, by the name the stack gives it (`/aws/lambda/<function name>`). */
export function rotationLogGroupOf(functionArn: string | undefined): string | undefined {
  const name = functionArn?.trim().split(':')[6];
  return name ? `/aws/lambda/${name}` : undefined;
}

type Env = Record<string, string | undefined>;

/**
 * The watch's reconciliation (reconcile.ts) for one secret, within the waiter's time: AWSCURRENT
 * re-imported into each ARN whose serial differs, refusals reported as DeliveryFailed notices
 * (NOTIFICATION_TOPIC_ARN, EVENT_BUS_NAME) and metrics, like the scheduled run's.
 */
function reconcilePort(
  secretsClient: SecretsManagerClient,
  sessions: ReturnType<typeof acmSessions>,
  deadline: Deadline,
  logger: Logger,
  env: Env,
): NonNullable<AwaitPorts['reconcile']> {
  const notifier = Notifier.fromEnv(logger, 'acme-rotation-watch', env);
  const deps = lambdaReconcileDeps({ secretsClient, acmSessions: sessions, notifier, logger, deadline });
  return async (secret) => {
    await reconcileAcmTargets([{ arn: secret.arn, name: secret.name, tags: secret.tags }], deps);
  };
}

/**
 * The waiter as the watch's handler runs it: the request from the event, SDK clients kept for the
 * container (ACM's loaded on first use: the scheduled runs never pay for it), the invocation's
 * remaining time as the outer bound, and the watch's reconciliation for ARNs that lag.
 */
export async function handleAwaitEvent(
  event: unknown,
  context: LambdaContext | undefined,
  logger: Logger,
  env: Env = process.env,
): Promise<AwaitSummary> {
  const request = parseAwaitRequest(event);
  const config = sdkClientConfig(DEFAULT_API_TIMEOUT_SECONDS * 1000);
  secretsClient ??= new SecretsManagerClient(config);
  acm ??= acmSessions(config);
  const deadline = Deadline.fromContext(context, AWAIT_REPORT_RESERVE_MS);
  const acmPort = acm.open({ deadline });
  const rotationLogGroup = rotationLogGroupOf(env.WATCH_ROTATION_FUNCTION_ARN);
  const ports = sdkAwaitPorts(
    { secrets: secretsClient, acm: async () => acmPort },
    {
      logger,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      timeLeftMs: () => deadline.untilEndMs(),
      reconcile: reconcilePort(secretsClient, acm, deadline, logger, env),
      ...(rotationLogGroup ? { rotationLogGroup } : {}),
    },
  );
  return awaitCertificates(request, ports);
}
