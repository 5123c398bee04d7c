/**
 * DNS for the rotation: Route 53 through the lazily loaded SDK (its modules and client once per
 * container, on first use: only createSecret and a leftover clean-up touch DNS), with one adapter
 * per invocation so its call counts and throttling budget are that invocation's.
 */
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Adapter } from '../aws/route53.js';
import type { sdkClientConfig } from '../aws/client-config.js';
import type { Config } from '../config.js';
import type { Deadline } from '../deadline.js';
import type { Logger } from '../log.js';
import type { DnsPort } from '../steps/context.js';
import { LazyDnsProvider } from './lazy.js';
import { waitForTxtPropagation } from './propagation.js';
import type { Route53DnsProvider } from './route53-provider.js';

interface Route53Modules {
  client: Route53Client;
  Adapter: typeof Route53Adapter;
  Provider: typeof Route53DnsProvider;
}

/** Route 53 sessions of one container; `open` gives one invocation its DnsPort. */
export function route53Sessions(
  config: Pick<Config, 'dnsResolvers'>,
  clientConfig: ReturnType<typeof sdkClientConfig>,
): { open(invocation: { logger: Logger; deadline: Deadline }): DnsPort } {
  let modules: Promise<Route53Modules> | undefined;
  const load = () =>
    (modules ??= Promise.all([
      import('../aws/route53-sdk.js'),
      import('../aws/route53.js'),
      import('./route53-provider.js'),
    ]).then(([sdk, adapter, provider]) => ({
      client: new sdk.Route53Client(clientConfig),
      Adapter: adapter.Route53Adapter,
      Provider: provider.Route53DnsProvider,
    })));

  return {
    open({ logger, deadline }) {
      // Made on first use. Throttling may be waited out until 5 s before the function ends
      // (enough to report a failure).
      let route53: Route53Adapter | undefined;
      const adapter = async (m: Route53Modules) =>
        (route53 ??= new m.Adapter(m.client, { budgetMs: () => deadline.untilEndMs() - 5_000 }));
      return {
        forSpec: (spec) =>
          new LazyDnsProvider(async () => {
            const m = await load();
            return new m.Provider({ route53: await adapter(m), hostedZoneIds: spec.hostedZoneIds, logger });
          }),
        waitForPropagation: (dns, placed, waitDeadline) =>
          waitForTxtPropagation(placed, {
            resolvers: config.dnsResolvers,
            nameserversFor: (zoneId) => dns.authoritativeNameservers(zoneId),
            deadline: waitDeadline,
            logger,
          }),
        calls: () => {
          if (!route53) return {};
          const { calls, attempts, throttled } = route53.stats();
          // attempts > calls: the SDK retried (throttling, timeouts, 5xx) under the logical calls.
          return { ...calls, attempts: Object.values(attempts).reduce((a, b) => a + b, 0), throttled };
        },
      };
    },
  };
}
