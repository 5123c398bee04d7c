import { createHash, createPrivateKey } from 'node:crypto';
import type { SecretsAdapter } from '../aws/secrets.js';
import { AwsServiceError, BinaryValueError, ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { generatePrivateKey } from './keys.js';

/** What the account secret holds (JSON). A bare PEM key (the predecessor's format) is also accepted. */
export interface StoredAccount {
  private_key: string;
  account_url?: string;
  directory_url?: string;
  email?: string;
  eab?: { kid: string; hmac_key: string };
  created_at?: string;
}

export interface AcmeAccount {
  accountKeyPem: string;
  /** Known account URL for this directory (saves a newAccount round trip), if stored. */
  accountUrl?: string;
  eab?: { kid: string; hmacKey: string };
  /** true when the key was created by this invocation and must be registered. */
  fresh: boolean;
  persisted: boolean;
}

/** Registers (or looks up) the account for a key at the CA; returns the account URL. */
export type RegisterAccount = (account: AcmeAccount) => Promise<string>;

function parseStored(raw: string | undefined, secretId: string): Partial<StoredAccount> | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (text.startsWith('-----BEGIN')) return { private_key: text };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(
      `ACME account secret "${secretId}" is neither JSON nor a PEM key; store {"private_key": "...PEM..."} or leave it empty`,
      { cause },
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`ACME account secret "${secretId}" must hold a JSON object`);
  }
  const obj = data as Record<string, unknown>;
  const out: Partial<StoredAccount> = {};
  if (obj.private_key !== undefined) {
    if (typeof obj.private_key !== 'string' || !obj.private_key.includes('PRIVATE KEY')) {
      throw new ConfigError(`ACME account secret "${secretId}": private_key must be a PEM private key`);
    }
    out.private_key = obj.private_key;
  }
  if (typeof obj.account_url === 'string') out.account_url = obj.account_url;
  if (typeof obj.directory_url === 'string') out.directory_url = obj.directory_url;
  const eab = obj.eab as Record<string, unknown> | undefined;
  if (eab !== undefined) {
    if (typeof eab !== 'object' || eab === null || typeof eab.kid !== 'string' || typeof eab.hmac_key !== 'string') {
      throw new ConfigError(
        `ACME account secret "${secretId}": "eab" must be {"kid": "...", "hmac_key": "..."} (from your CA's EAB credentials)`,
      );
    }
    out.eab = { kid: eab.kid, hmac_key: eab.hmac_key };
  }
  if (out.private_key) {
    try {
      createPrivateKey(out.private_key);
    } catch (cause) {
      throw new ConfigError(`ACME account secret "${secretId}": private_key is not a readable PEM private key`, {
        cause,
      });
    }
  }
  return out;
}

/** One version of the account secret, parsed; a binary value is refused, never replaced. */
async function readStored(
  secrets: SecretsAdapter,
  secretId: string,
  select: { versionId?: string; stage?: string },
): Promise<Partial<StoredAccount> | undefined> {
  let raw: string | undefined;
  try {
    raw = await secrets.getValue(secretId, select);
  } catch (err) {
    if (!(err instanceof BinaryValueError)) throw err;
    throw new ConfigError(
      `ACME account secret "${secretId}": ${err.message}. ` +
        'Point ACME_ACCOUNT_SECRET_ID at a secret of its own (an empty secret is fine)',
      { cause: err },
    );
  }
  return parseStored(raw, secretId);
}

/** A stable version id for "the account of this directory", so racing first uses converge. */
export function accountVersionId(directoryUrl: string): string {
  const h = createHash('sha256').update(`acme-rotation account v1 ${directoryUrl}`).digest('hex');
  // UUID-shaped (Secrets Manager tokens are 32-64 chars).
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The ACME account: persistent in ACME_ACCOUNT_SECRET_ID (created on first use) or ephemeral.
 *
 * First use: a new key is generated and registered, then written as a version whose id is derived
 * from the directory URL. Two rotations racing on first use both try to write that same version
 * id; Secrets Manager accepts one value and answers the other with ResourceExistsException, and
 * the loser re-reads and adopts the winner's key, so exactly one account key is ever kept.
 */
export async function loadAccount(opts: {
  secrets: SecretsAdapter;
  accountSecretId?: string;
  directoryUrl: string;
  email?: string;
  register: RegisterAccount;
  logger: Logger;
}): Promise<AcmeAccount & { accountUrl: string }> {
  const { secrets, accountSecretId: id, directoryUrl, register, logger } = opts;
  if (!id) {
    const account: AcmeAccount = {
      accountKeyPem: await generatePrivateKey('ecdsa-p256'),
      fresh: true,
      persisted: false,
    };
    const accountUrl = await register(account);
    logger.info('using an ephemeral ACME account', { accountUrl });
    return { ...account, accountUrl };
  }

  const current = await readStored(secrets, id, { stage: 'AWSCURRENT' });
  const eab = current?.eab ? { kid: current.eab.kid, hmacKey: current.eab.hmac_key } : undefined;
  if (current?.private_key && (current.directory_url === undefined || current.directory_url === directoryUrl)) {
    const account: AcmeAccount = {
      accountKeyPem: current.private_key,
      accountUrl: current.directory_url === directoryUrl ? current.account_url : undefined,
      eab,
      fresh: false,
      persisted: true,
    };
    const accountUrl = account.accountUrl ?? (await register(account));
    return { ...account, accountUrl };
  }

  // No key for this directory yet (or the current one belongs to another CA).
  if (current === undefined) {
    // Fail before registering anything at the CA when the secret itself is missing.
    try {
      await secrets.describe(id);
    } catch (err) {
      if (err instanceof AwsServiceError && err.awsCode === 'ResourceNotFoundException') {
        throw new ConfigError(
          `ACME account secret "${id}" does not exist: create it (an empty secret is fine) or unset ACME_ACCOUNT_SECRET_ID`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  const versionId = accountVersionId(directoryUrl);
  const existing = await readStored(secrets, id, { versionId });
  if (existing?.private_key) {
    const account: AcmeAccount = {
      accountKeyPem: existing.private_key,
      accountUrl: existing.account_url,
      eab,
      fresh: false,
      persisted: true,
    };
    return { ...account, accountUrl: account.accountUrl ?? (await register(account)) };
  }

  const fresh: AcmeAccount = {
    accountKeyPem: await generatePrivateKey('ecdsa-p256'),
    eab,
    fresh: true,
    persisted: true,
  };
  const accountUrl = await register(fresh);
  const stored: StoredAccount = {
    private_key: fresh.accountKeyPem,
    account_url: accountUrl,
    directory_url: directoryUrl,
    ...(opts.email ? { email: opts.email } : {}),
    ...(current?.eab ? { eab: current.eab } : {}),
    created_at: new Date().toISOString(),
  };
  try {
    await secrets.putValue(id, versionId, JSON.stringify(stored), ['AWSCURRENT']);
    logger.info('created and stored a new ACME account', { accountSecretId: id, accountUrl });
    return { ...fresh, accountUrl };
  } catch (err) {
    if (err instanceof AwsServiceError && err.awsCode === 'ResourceExistsException') {
      // Another rotation won the race: use its key, drop ours (its CA registration is harmless).
      const winner = await readStored(secrets, id, { versionId });
      if (winner?.private_key) {
        logger.info('another rotation created the ACME account first; using its key', { accountSecretId: id });
        const account: AcmeAccount = {
          accountKeyPem: winner.private_key,
          accountUrl: winner.account_url,
          eab,
          fresh: false,
          persisted: true,
        };
        return { ...account, accountUrl: account.accountUrl ?? (await register(account)) };
      }
    }
    if (err instanceof AwsServiceError && err.awsCode === 'ResourceNotFoundException') {
      throw new ConfigError(
        `ACME account secret "${id}" does not exist: create it (an empty secret is fine) or unset ACME_ACCOUNT_SECRET_ID`,
        { cause: err },
      );
    }
    throw err;
  }
}
