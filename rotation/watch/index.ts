/**
 * Lambda entry point of the renewal watch (`dist/watch/index.mjs`): a scheduled function that asks
 * the CA's Renewal Information for every certificate secret and starts the renewals that are due
 * (run.ts). Wiring only. An event `{ "continuation": n }` is the watch going on from its own
 * previous invocation.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sdkClientConfig } from '../aws/client-config.js';
import { createLogger } from '../log.js';
import { AriClient } from './ari.js';
import { handleAwaitEvent, isAwaitEvent, type AwaitSummary } from './await.js';
import { loadWatchSettings, type WatchSettings } from './config.js';
import { runWatch, type WatchSummary } from './run.js';
import { WatchSecrets } from './secrets.js';

/** Kept back from the function's time for the report and the continuation. */
const REPORT_RESERVE_MS = 60_000;

interface Services {
  settings: WatchSettings;
  secrets: WatchSecrets;
  ari: AriClient;
  lambda: LambdaClient;
}
let services: Services | undefined;

function build(): Services {
  const settings = loadWatchSettings();
  const clientConfig = sdkClientConfig(settings.apiTimeoutMs);
  return {
    settings,
    secrets: new WatchSecrets(new SecretsManagerClient(clientConfig)),
    ari: new AriClient(settings.apiTimeoutMs),
    lambda: new LambdaClient(clientConfig),
  };
}

interface Context {
  getRemainingTimeInMillis?: () => number;
  invokedFunctionArn?: string;
  functionName?: string;
  awsRequestId?: string;
}

export async function handler(event: unknown, context?: Context): Promise<WatchSummary | AwaitSummary> {
  const logger = createLogger({ service: 'acme-rotation-watch', awsRequestId: context?.awsRequestId });
  // The deployment's waiter (await.ts): the stack invokes this function to wait for first certificates.
  if (isAwaitEvent(event)) return handleAwaitEvent(event, context, logger);
  services ??= build();
  const { settings, secrets, ari, lambda } = services;
  const hop = Number((event as { continuation?: unknown } | null)?.continuation ?? 0) || 0;
  const self = context?.invokedFunctionArn ?? context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME;
  const ends = Date.now() + (context?.getRemainingTimeInMillis?.() ?? 900_000);
  return runWatch(
    {
      directoryUrl: settings.directoryUrl,
      maxInFlight: settings.maxInFlight,
      nextRunMs: settings.intervalMs,
      metricNamespace: settings.metricNamespace,
      metricStack: settings.metricStack,
      ...(settings.rotationFunctionArn ? { rotationFunctionArn: settings.rotationFunctionArn } : {}),
    },
    {
      secrets,
      ari,
      logger,
      write: (line) => process.stdout.write(`${line}\n`),
      now: () => new Date(),
      random: Math.random,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      timeLeftMs: () => ends - REPORT_RESERVE_MS - Date.now(),
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
