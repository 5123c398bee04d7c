/**
 * DNS for the rotation: one DNS-01 solver per certificate (dns01/solver.ts) over Route 53, the one
 * provider. The Route 53 modules and client load here, once per container, when a solver first
 * touches DNS (only createSecret and a leftover clean-up do); each invocation has its own adapter,
 * so its call counts and throttling budget are that invocation's.
 */
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { RoleCredentials } from '../aws/sts.js';
import type { Route53Adapter } from '../route53/adapter.js';
import type { sdkClientConfig } from '../aws/client-config.js';
import type { Config } from '../config/config.js';
import { Dns01Solver } from '../dns01/solver.js';
import type { DnsPort, StepContext } from './steps/context.js';
import type { Route53DnsProvider } from '../route53/provider.js';
import type { Route53Port, ZoneRoutedRoute53 } from '../route53/routed.js';

interface Route53Modules {
  client: Route53Client;
  /** A client acting as `roleArn` (ROUTE53_ROLES), one per role for the container. */
  roleClient(roleArn: string): Route53Client;
  Adapter: typeof Route53Adapter;
  Provider: typeof Route53DnsProvider;
  Routed: typeof ZoneRoutedRoute53;
}

/** Route 53 sessions of one container; `open` gives one invocation its DnsPort. */
export function route53Sessions(
  config: Pick<Config, 'dnsResolvers' | 'route53Roles' | 'route53ExternalId'>,
  clientConfig: ReturnType<typeof sdkClientConfig>,
): { open(invocation: Pick<StepContext, 'secret' | 'token' | 'secrets' | 'logger' | 'deadline'>): DnsPort } {
  let modules: Promise<Route53Modules> | undefined;
  const withRoles = Object.keys(config.route53Roles).length > 0;
  const load = () =>
    (modules ??= Promise.all([
      import('../route53/sdk.js'),
      import('../route53/adapter.js'),
      import('../route53/provider.js'),
      import('../route53/routed.js'),
      withRoles ? import('../aws/sts.js') : undefined,
    ]).then(([sdk, adapter, provider, routed, sts]) => {
      const stsClient = sts?.newStsClient(clientConfig);
      const roleClients = new Map<string, Route53Client>();
      return {
        client: new sdk.Route53Client(clientConfig),
        roleClient: (roleArn: string) => {
          let client = roleClients.get(roleArn);
          if (!client) {
            if (!sts || !stsClient) throw new Error('STS is not loaded: no ROUTE53_ROLES');
            // Credentials kept for the container's life, renewed before they expire (aws/sts.ts).
            const credentials: RoleCredentials = new sts.RoleCredentials(
              stsClient,
              roleArn,
              config.route53ExternalId,
              'acme-rotation',
            );
            client = new sdk.Route53Client({ ...clientConfig, credentials: () => credentials.get() });
            roleClients.set(roleArn, client);
          }
          return client;
        },
        Adapter: adapter.Route53Adapter,
        Provider: provider.Route53DnsProvider,
        Routed: routed.ZoneRoutedRoute53,
      };
    }));

  return {
    open({ secret, token, secrets, logger, deadline }) {
      // Made on first use. Throttling may be waited out until 5 s before the function ends
      // (enough to report a failure).
      let route53: Route53Adapter | undefined;
      // One adapter per role too: Route 53 throttles per account, so each has its own backoff and counts.
      const byRole = new Map<string, Route53Adapter>();
      const budget = { budgetMs: () => deadline.throttleBudgetMs() };
      const adapter = async (m: Route53Modules): Promise<Route53Port> => {
        route53 ??= new m.Adapter(m.client, budget);
        if (!withRoles) return route53;
        return new m.Routed(route53, {
          roles: config.route53Roles,
          ...(config.route53ExternalId ? { externalId: config.route53ExternalId } : {}),
          adapterFor: async (roleArn) => {
            let a = byRole.get(roleArn);
            if (!a) byRole.set(roleArn, (a = new m.Adapter(m.roleClient(roleArn), budget)));
            return a;
          },
        });
      };
      return {
        solverFor: (spec) =>
          new Dns01Solver({
            domains: spec.domains,
            zones: async () => {
              const m = await load();
              return new m.Provider({ route53: await adapter(m), hostedZoneIds: spec.hostedZoneIds, logger });
            },
            secret,
            token,
            tags: secrets,
            logger,
            resolvers: config.dnsResolvers,
          }),
        calls: () => {
          const adapters = [...(route53 ? [route53] : []), ...byRole.values()];
          if (adapters.length === 0) return {};
          const total: Record<string, number> = {};
          let attempts = 0;
          let throttled = 0;
          for (const a of adapters) {
            const s = a.stats();
            for (const [op, n] of Object.entries(s.calls)) total[op] = (total[op] ?? 0) + n;
            // attempts > calls: the SDK retried (throttling, timeouts, 5xx) under the logical calls.
            attempts += Object.values(s.attempts).reduce((x, y) => x + y, 0);
            throttled += s.throttled;
          }
          return { ...total, attempts, throttled, ...(byRole.size > 0 ? { roles: byRole.size } : {}) };
        },
      };
    },
  };
}
