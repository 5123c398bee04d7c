/**
 * Lambda entry point of the renewal watch (`dist/watch/index.mjs`): a scheduled function that asks
 * the CA's Renewal Information for every certificate secret and starts the renewals that are due
 * (run.ts). Wiring only. An event `{ "continuation": n }` is the watch going on from its own
 * previous invocation.
 */
import { type WatchSummary } from './model.js';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sdkClientConfig } from '../aws/client-config.js';
import { acmSessions } from '../acm/session.js';
import { Notifier } from '../aws/notify.js';
import { Deadline, type LambdaContext } from '../lib/deadline.js';
import { createLogger, type Logger } from '../lib/log.js';
import { AriClient } from '../acme/renewal-info.js';
import { isAwaitEvent, type AwaitSummary } from './await.js';
import { handleAwaitEvent } from './await-lambda.js';
import { loadWatchSettings, type WatchSettings } from './config.js';
import { lambdaReconcileDeps, reconcileAcmTargets, type ReconcileSummary } from './reconcile.js';
import { runWatch } from './run.js';
import { WatchSecrets } from './secrets.js';

/** Kept back from the function's time for the report and the continuation. */
const REPORT_RESERVE_MS = 60_000;

interface Services {
  settings: WatchSettings;
  secrets: WatchSecrets;
  ari: AriClient;
  lambda: LambdaClient;
  secretsClient: SecretsManagerClient;
  /** ACM clients per region, made on the first certificate that names an ARN. */
  acm: ReturnType<typeof acmSessions>;
}
let services: Services | undefined;

function build(): Services {
  const settings = loadWatchSettings();
  const clientConfig = sdkClientConfig(settings.apiTimeoutMs);
  const secretsClient = new SecretsManagerClient(clientConfig);
  return {
    settings,
    secretsClient,
    acm: acmSessions(clientConfig),
    secrets: new WatchSecrets(secretsClient),
    ari: new AriClient(settings.apiTimeoutMs),
    lambda: new LambdaClient(clientConfig),
  };
}

/**
 * The run's ACM reconciliation: refusals go out as DeliveryFailed notices and events through the
 * same topic and bus as the rotation's, within what is left of the invocation before the report.
 */
function reconcile(
  listed: Parameters<typeof reconcileAcmTargets>[0],
  s: Services,
  logger: Logger,
  remainingMs: number,
): Promise<ReconcileSummary> {
  const notifier = Notifier.fromEnv(logger, 'acme-rotation-watch');
  const deadline = new Deadline(remainingMs, REPORT_RESERVE_MS);
  return reconcileAcmTargets(
    listed,
    lambdaReconcileDeps({ secretsClient: s.secretsClient, acmSessions: s.acm, notifier, logger, deadline }),
  );
}

export async function handler(event: unknown, context?: LambdaContext): Promise<WatchSummary | AwaitSummary> {
  const logger = createLogger({ service: 'acme-rotation-watch', awsRequestId: context?.awsRequestId });
  // The deployment's waiter (await.ts): the stack invokes this function to wait for first certificates.
  if (isAwaitEvent(event)) return handleAwaitEvent(event, context, logger);
  services ??= build();
  const { settings, secrets, ari, lambda } = services;
  const hop = Number((event as { continuation?: unknown } | null)?.continuation ?? 0) || 0;
  const self = context?.invokedFunctionArn ?? context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME;
  const ends = Date.now() + (context?.getRemainingTimeInMillis?.() ?? 900_000);
  return runWatch(
    settings,
    {
      secrets,
      ari,
      logger,
      write: (line) => process.stdout.write(`${line}\n`),
      now: () => new Date(),
      random: Math.random,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      timeLeftMs: () => ends - REPORT_RESERVE_MS - Date.now(),
      reconcileAcm: (listed) => reconcile(listed, services as Services, logger, ends - Date.now()),
      ...(settings.continueRuns && self
        ? {
            continueWith: async (next: number) => {
              await lambda.send(
                new InvokeCommand({
                  FunctionName: self,
                  InvocationType: 'Event',
                  Payload: Buffer.from(JSON.stringify({ continuation: next })),
                }),
              );
            },
          }
        : {}),
    },
    hop,
  );
}
