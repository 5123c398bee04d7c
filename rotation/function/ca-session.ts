/**
 * The CAs for one invocation: the ACME modules (loaded on first use, createSecret only), each
 * CA's account (its account secret, or a fresh one) and a client registered with it, the CAs'
 * CAA identities, and CAA lookups.
 */
import { type CaSettings } from '../acme/choice.js';
import type { SecretDescription, SecretsAdapter } from '../aws/secrets.js';
import { configuredCas, type Config } from '../config/config.js';
import type { Deadline } from '../lib/deadline.js';
import { caaLookup } from '../acme/caa.js';
import { AcmeError, ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { CaPort } from './steps/context.js';
import type { CaClient } from '../acme/ca.js';

// Loaded on first use: the module system keeps them for the container's later invocations.
const loadAcme = () => Promise.all([import('../acme/ca.js'), import('../acme/account.js')]);

export function openCa(opts: {
  config: Config;
  /** This invocation's adapter: the account secret's read-ahead lands in its memo and counts. */
  secrets: SecretsAdapter;
  logger: Logger;
  deadline: Deadline;
  /** The certificate secret being rotated. */
  secret: SecretDescription;
}): CaPort {
  const { config, secrets, logger, deadline, secret } = opts;
  const cas = configuredCas(config);
  const first = cas[0] as CaSettings;
  // An account secret must be another secret: one value cannot be both a certificate bundle
  // and an ACME account, and a rotation would overwrite the one with the other.
  const isThisSecret = (id: string | undefined) => id !== undefined && (id === secret.arn || id === secret.name);
  let accountReadAhead = false;
  const clients = new Map<string, Promise<CaClient>>();
  const caOptions = { deadline, requestTimeoutMs: config.apiTimeoutMs, logger };

  async function open(ca: CaSettings): Promise<CaClient> {
    const [{ AcmeCa }, { loadAccount }] = await loadAcme();
    if (isThisSecret(ca.accountSecretId)) {
      throw new ConfigError(
        `the account secret of CA ${ca.name} (${cas.length > 1 ? 'ACME_CAS accountSecretId' : 'ACME_ACCOUNT_SECRET_ID'}) ` +
          `points at the certificate secret "${secret.name}" itself; use a separate secret for the ACME account`,
      );
    }
    let registered: { ca: InstanceType<typeof AcmeCa>; key: string } | undefined;
    try {
      const account = await loadAccount({
        secrets,
        ...(ca.accountSecretId ? { accountSecretId: ca.accountSecretId } : {}),
        directoryUrl: ca.directoryUrl,
        email: config.email,
        logger,
        register: async (acct) => {
          const client = new AcmeCa(ca.directoryUrl, acct, caOptions);
          registered = { ca: client, key: acct.accountKeyPem };
          return client.register(config.email);
        },
      });
      // After losing a first-use race, the key we registered is not the one kept: use the kept one.
      return registered?.key === account.accountKeyPem
        ? registered.ca
        : new AcmeCa(ca.directoryUrl, account, caOptions);
    } catch (err) {
      if (err instanceof AcmeError && err.code === 'AcmeExternalAccountRequired') {
        err.withHint(
          `CA ${ca.name} requires External Account Binding: store its EAB credentials in ` +
            (ca.accountSecretId
              ? `the account secret "${ca.accountSecretId}"`
              : 'an account secret of its own (accountSecretId)') +
            ' as {"eab": {"kid": "…", "hmac_key": "…"}}',
        );
      }
      throw err;
    }
  }

  function clientFor(ca: CaSettings): Promise<CaClient> {
    let client = clients.get(ca.directoryUrl);
    if (!client) {
      client = open(ca);
      clients.set(ca.directoryUrl, client);
      // A failed open is not kept: asking again (a later attempt) tries again.
      client.catch(() => clients.delete(ca.directoryUrl));
    }
    return client;
  }

  return {
    prefetch() {
      loadAcme().catch(() => undefined); // a failure surfaces in client()
      if (first.accountSecretId && !isThisSecret(first.accountSecretId) && !accountReadAhead) {
        accountReadAhead = true;
        secrets.prefetch(first.accountSecretId, { stage: 'AWSCURRENT' });
      }
    },

    client: () => clientFor(first),
    clientFor,

    async caaIdentities(ca) {
      // Only the directory is read: no account is loaded or registered at a CA that CAA may rule out.
      const [{ AcmeCa }, { generatePrivateKey }] = await Promise.all([
        import('../acme/ca.js'),
        import('../acme/keys.js'),
      ]);
      const reader = new AcmeCa(
        ca.directoryUrl,
        { accountKeyPem: await generatePrivateKey('ecdsa-p256'), fresh: true, persisted: false },
        caOptions,
      );
      return reader.caaIdentities();
    },

    caa: caaLookup({ resolvers: config.dnsResolvers, timeoutMs: Math.min(config.apiTimeoutMs, 5_000) }),
  };
}
