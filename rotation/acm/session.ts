/**
 * ACM for the rotation: the SDK client loaded on first use (only certificates with
 * `acme:acm-certificate-arns` pay for it), one client per region for the container, one adapter
 * per invocation so its call counts and throttling budget are that invocation's.
 */
import type { ACMClient, ACMClientConfig } from '@aws-sdk/client-acm';
import type { AcmAdapter, AcmCertificateInfo, AcmImport } from '../aws/acm.js';
import type { Deadline } from '../lib/deadline.js';

/** ACM, for one invocation: where new certificates are delivered. */
export interface AcmPort {
  describe(arn: string): Promise<AcmCertificateInfo>;
  import(arn: string, pem: AcmImport): Promise<void>;
  /** Calls made so far in this invocation, by operation ({} when none). */
  calls(): Record<string, number>;
}

interface AcmModules {
  clientFor(region: string): ACMClient;
  Adapter: typeof AcmAdapter;
}

/** ACM sessions of one container; `open` gives one invocation its AcmPort. */
export function acmSessions(clientConfig: ACMClientConfig): {
  open(invocation: { deadline: Deadline }): AcmPort;
} {
  let modules: Promise<AcmModules> | undefined;
  const clients = new Map<string, ACMClient>();
  const load = () =>
    (modules ??= import('../aws/acm.js').then((adapter) => ({
      clientFor: (region: string) => {
        let client = clients.get(region);
        if (!client) clients.set(region, (client = adapter.newAcmClient(clientConfig, region)));
        return client;
      },
      Adapter: adapter.AcmAdapter,
    })));
  return {
    open({ deadline }) {
      let adapter: Promise<AcmAdapter> | undefined;
      let made: AcmAdapter | undefined;
      const get = () =>
        (adapter ??= load().then(
          (m) => (made = new m.Adapter(m.clientFor, { budgetMs: () => deadline.throttleBudgetMs() })),
        ));
      return {
        describe: async (arn) => (await get()).describe(arn),
        import: async (arn, pem) => (await get()).import(arn, pem),
        calls: () => (made ? { ...made.calls } : {}),
      };
    },
  };
}
