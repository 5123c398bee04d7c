/**
 * Lambda entry point: `handler(event, context)` for Secrets Manager's four rotation steps.
 * Configuration is read once per container (loud failure on a bad value); SDK clients are
 * created once and reused; the ACME client and the Route 53 client are loaded only when a step
 * needs them (createSecret), so setSecret, testSecret and finishSecret start faster.
 */
import type { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sdkClientConfig } from './aws/client-config.js';
import { Notifier, type FailureEvent } from './aws/notify.js';
import type { Route53Adapter } from './aws/route53.js';
import { SecretsAdapter } from './aws/secrets.js';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { LazyDnsProvider } from './dns/lazy.js';
import type { Route53DnsProvider } from './dns/route53-provider.js';
import { waitForTxtPropagation } from './dns/propagation.js';
import { createHandler, type Services } from './handler.js';
import { createLogger } from './log.js';
import type { StepContext } from './steps/context.js';
import { verifyBundle } from './verify/index.js';

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
  // Every request is bounded (API_TIMEOUT_SECONDS). Route 53 throttling beyond the SDK's few
  // retries is waited out by the adapter for as long as the invocation has time.
  const clientConfig = sdkClientConfig(config.apiTimeoutMs);
  let route53Module:
    | Promise<{
        client: Route53Client;
        Adapter: typeof Route53Adapter;
        Provider: typeof Route53DnsProvider;
      }>
    | undefined;
  const loadRoute53 = () =>
    (route53Module ??= Promise.all([
      import('./aws/route53-sdk.js'),
      import('./aws/route53.js'),
      import('./dns/route53-provider.js'),
    ]).then(([sdk, adapter, provider]) => ({
      client: new sdk.Route53Client(clientConfig),
      Adapter: adapter.Route53Adapter,
      Provider: provider.Route53DnsProvider,
    })));
  // The ACME modules, loaded on first use (createSecret only), once per container.
  const loadAcme = () => Promise.all([import('./acme/ca.js'), import('./acme/account.js')]);
  const secretsClient = new SecretsManagerClient(clientConfig);
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
    secrets: new SecretsAdapter(secretsClient),
    notifier,
    stepContext(base): StepContext {
      const secrets = new SecretsAdapter(secretsClient);
      // One Route 53 adapter per invocation (its call counts are this invocation's), made on first use.
      // Throttling may be waited out until 5 s before the function ends (enough to report a failure).
      let route53: Route53Adapter | undefined;
      let accountReadAhead = false;
      const accountIsThisSecret =
        config.accountSecretId === base.secret.arn || config.accountSecretId === base.secret.name;
      const adapter = async () => {
        const m = await loadRoute53();
        return (route53 ??= new m.Adapter(m.client, { budgetMs: () => base.deadline.untilEndMs() - 5_000 }));
      };
      return {
        ...base,
        config,
        secrets,
        now: () => new Date(),
        route53Calls: () => {
          if (!route53) return {};
          const { calls, attempts, throttled } = route53.stats();
          // attempts > calls: the SDK retried (throttling, timeouts, 5xx) under the logical calls.
          return { ...calls, attempts: Object.values(attempts).reduce((a, b) => a + b, 0), throttled };
        },
        dns: (spec) =>
          new LazyDnsProvider(async () => {
            const route53Adapter = await adapter(); // loads the module too
            const { Provider } = await loadRoute53();
            return new Provider({ route53: route53Adapter, hostedZoneIds: spec.hostedZoneIds, logger: base.logger });
          }),
        waitForPropagation: (dns, placed, deadline) =>
          waitForTxtPropagation(placed, {
            resolvers: config.dnsResolvers,
            nameserversFor: (zoneId) => dns.authoritativeNameservers(zoneId),
            deadline,
            logger: base.logger,
          }),
        prefetchCa: () => {
          loadAcme().catch(() => undefined); // a failure surfaces in ca()
          const id = config.accountSecretId;
          if (id && !accountIsThisSecret && !accountReadAhead) {
            accountReadAhead = true;
            secrets.adopt(secrets.readAhead(id, { stage: 'AWSCURRENT' }), id);
          }
        },
        ca: async () => {
          const [{ AcmeCa }, { loadAccount }] = await loadAcme();
          if (accountIsThisSecret) {
            throw new ConfigError(
              `ACME_ACCOUNT_SECRET_ID points at the certificate secret "${base.secret.name}" itself; use a separate secret for the ACME account`,
            );
          }
          const caOptions = { deadline: base.deadline, requestTimeoutMs: config.apiTimeoutMs, logger: base.logger };
          let ca: InstanceType<typeof AcmeCa> | undefined;
          let registeredKey: string | undefined;
          const account = await loadAccount({
            secrets,
            accountSecretId: config.accountSecretId,
            directoryUrl: config.directoryUrl,
            email: config.email,
            logger: base.logger,
            register: async (acct) => {
              ca = new AcmeCa(config.directoryUrl, acct, caOptions);
              registeredKey = acct.accountKeyPem;
              return ca.register(config.email);
            },
          });
          // After losing a first-use race, the key we registered is not the one kept: use the kept one.
          return ca && registeredKey === account.accountKeyPem
            ? ca
            : new AcmeCa(config.directoryUrl, account, caOptions);
        },
        verify: verifyBundle,
      };
    },
  };
}

/** Failure notice when the configuration itself is broken (topic/bus read straight from the environment). */
async function reportInitFailure(event: FailureEvent): Promise<void> {
  const logger = createLogger({ service: 'acme-rotation' });
  const notifier = new Notifier({
    topicArn: process.env.NOTIFICATION_TOPIC_ARN?.trim() || undefined,
    eventBusName: process.env.EVENT_BUS_NAME?.trim() || undefined,
    source: process.env.EVENT_SOURCE?.trim() || process.env.AWS_LAMBDA_FUNCTION_NAME || 'acme-rotation',
    logger,
  });
  await notifier.publish(event);
}

export const handler = createHandler(() => (cached ??= buildServices()), reportInitFailure);
