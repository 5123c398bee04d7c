/**
 * Lambda entry point: `handler(event, context)` for Secrets Manager's four rotation steps.
 * Wiring only. Configuration is read once per container (loud failure on a bad value); SDK
 * clients are created once and reused; the ACME client and the Route 53 client are loaded only
 * when a step needs them (createSecret), so setSecret, testSecret and finishSecret start faster.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { openCa } from './ca-session.js';
import { acmSessions } from '../acm/session.js';
import { sdkClientConfig } from '../aws/client-config.js';
import { Notifier, type FailureEvent } from '../aws/notify.js';
import { SecretsAdapter } from '../aws/secrets.js';
import { loadConfig, type Config } from '../config/config.js';
import { route53Sessions } from './dns-session.js';
import { createHandler, type Services } from './handler.js';
import { createLogger } from '../lib/log.js';
import { verifyBundle } from '../x509/verify.js';

let cached: Services | undefined;

function buildServices(): Services {
  const logger = createLogger({ service: 'acme-rotation' });
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    logger.error('invalid function configuration', { error: err });
    throw err;
  }
  // Every request is bounded (API_TIMEOUT_SECONDS). Route 53 and ACM throttling beyond the SDK's
  // few attempts is waited out in the SDK's retry loop for as long as the invocation has time
  // (aws/calls.ts).
  const clientConfig = sdkClientConfig(config.apiTimeoutMs);
  const secretsClient = new SecretsManagerClient(clientConfig);
  const route53 = route53Sessions(config, clientConfig);
  const acm = acmSessions(clientConfig);
  const notifier = new Notifier({
    topicArn: config.notificationTopicArn,
    eventBusName: config.eventBusName,
    source: config.eventSource,
    logger,
    requestTimeoutMs: config.apiTimeoutMs,
  });

  return {
    config,
    logger,
    notifier,
    secrets: () => new SecretsAdapter(secretsClient),
    stepContext: (base) => ({
      ...base,
      config,
      now: () => new Date(),
      ca: openCa({ config, ...base }),
      dns: route53.open(base),
      acm: acm.open(base),
      verify: verifyBundle,
    }),
  };
}

/** Failure notice when the configuration itself is broken (topic/bus read straight from the environment). */
async function reportInitFailure(event: FailureEvent): Promise<void> {
  const logger = createLogger({ service: 'acme-rotation' });
  await Notifier.fromEnv(logger, 'acme-rotation').publish(event);
}

export const handler = createHandler(() => (cached ??= buildServices()), reportInitFailure);
