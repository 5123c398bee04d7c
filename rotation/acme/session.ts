/**
 * The CA for one invocation: the ACME modules (loaded on first use, createSecret only), the
 * account (ACME_ACCOUNT_SECRET_ID, or a fresh one) and a client registered with it.
 */
import type { SecretDescription, SecretsAdapter } from '../aws/secrets.js';
import type { Config } from '../config.js';
import type { Deadline } from '../deadline.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CaPort } from '../steps/context.js';

// Loaded on first use: the module system keeps them for the container's later invocations.
const loadAcme = () => Promise.all([import('./ca.js'), import('./account.js')]);

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
  const accountSecretId = config.accountSecretId;
  // The account secret must be another secret: one value cannot be both a certificate bundle
  // and an ACME account, and a rotation would overwrite the one with the other.
  const accountIsThisSecret = accountSecretId === secret.arn || accountSecretId === secret.name;
  let accountReadAhead = false;

  return {
    prefetch() {
      loadAcme().catch(() => undefined); // a failure surfaces in client()
      if (accountSecretId && !accountIsThisSecret && !accountReadAhead) {
        accountReadAhead = true;
        secrets.prefetch(accountSecretId, { stage: 'AWSCURRENT' });
      }
    },

    async client() {
      const [{ AcmeCa }, { loadAccount }] = await loadAcme();
      if (accountIsThisSecret) {
        throw new ConfigError(
          `ACME_ACCOUNT_SECRET_ID points at the certificate secret "${secret.name}" itself; use a separate secret for the ACME account`,
        );
      }
      const caOptions = { deadline, requestTimeoutMs: config.apiTimeoutMs, logger };
      let registered: { ca: InstanceType<typeof AcmeCa>; key: string } | undefined;
      const account = await loadAccount({
        secrets,
        accountSecretId,
        directoryUrl: config.directoryUrl,
        email: config.email,
        logger,
        register: async (acct) => {
          const ca = new AcmeCa(config.directoryUrl, acct, caOptions);
          registered = { ca, key: acct.accountKeyPem };
          return ca.register(config.email);
        },
      });
      // After losing a first-use race, the key we registered is not the one kept: use the kept one.
      return registered?.key === account.accountKeyPem
        ? registered.ca
        : new AcmeCa(config.directoryUrl, account, caOptions);
    },
  };
}
