import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accountVersionId, loadAccount, type AcmeAccount, type StoredAccount } from '../../rotation/acme/account.js';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import { AwsServiceError, ConfigError } from '../../rotation/lib/errors.js';
import { DIRECTORY_URL, FakeSecretsManager, captureLogger, type CapturedLog } from './fakes.js';
import { PKCS8_KEY_FOOTER, PKCS8_KEY_HEADER } from '../helpers/pem-markers.js';

const ACCOUNT_SECRET = 'acme/account';
const ACCOUNT_URL = 'https://ca.test/acct/42';
const OTHER_DIRECTORY = 'https://other-ca.test/directory';
/** Version ids as Secrets Manager has them (ClientRequestTokens: 32–64 characters). */
const INITIAL_VERSION = '0a0a0a0a-1111-4222-8333-444444444444';
const BINARY_VERSION = '0b0b0b0b-1111-4222-8333-444444444444';

function ecKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

interface Setup {
  sm: FakeSecretsManager;
  secrets: SecretsAdapter;
  log: CapturedLog;
  registered: AcmeAccount[];
  register: (account: AcmeAccount) => Promise<string>;
  load: (opts?: {
    accountSecretId?: string | null;
    email?: string;
    directoryUrl?: string;
  }) => ReturnType<typeof loadAccount>;
}

/** An account secret with the given AWSCURRENT value (undefined = created empty, no version). */
function setup(current?: string, opts: { exists?: boolean } = {}): Setup {
  const sm = new FakeSecretsManager();
  if (opts.exists !== false) {
    sm.addSecret({
      name: ACCOUNT_SECRET,
      rotationEnabled: false,
      versions: current === undefined ? {} : { [INITIAL_VERSION]: { value: current, stages: ['AWSCURRENT'] } },
    });
  }
  const secrets = new SecretsAdapter(sm.client);
  const log = captureLogger();
  const registered: AcmeAccount[] = [];
  const register = (account: AcmeAccount): Promise<string> => {
    registered.push(account);
    return Promise.resolve(ACCOUNT_URL);
  };
  return {
    sm,
    secrets,
    log,
    registered,
    register,
    load: (o = {}) =>
      loadAccount({
        secrets,
        accountSecretId: o.accountSecretId === null ? undefined : (o.accountSecretId ?? ACCOUNT_SECRET),
        directoryUrl: o.directoryUrl ?? DIRECTORY_URL,
        email: o.email,
        register,
        logger: log.logger,
      }),
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

function storedValue(s: Setup, versionId: string): StoredAccount {
  return JSON.parse(s.sm.value(ACCOUNT_SECRET, versionId) as string) as StoredAccount;
}

describe('accountVersionId', () => {
  it('is deterministic, UUID-shaped and differs per directory', () => {
    const a = accountVersionId(DIRECTORY_URL);
    expect(a).toBe(accountVersionId(DIRECTORY_URL));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(accountVersionId(OTHER_DIRECTORY)).not.toBe(a);
  });
});

describe('loadAccount', () => {
  it('uses a fresh, registered key per rotation when no account secret is configured', async () => {
    const s = setup();
    const account = await s.load({ accountSecretId: null });
    expect(account).toMatchObject({ accountUrl: ACCOUNT_URL, fresh: true, persisted: false });
    expect(createPrivateKey(account.accountKeyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(s.registered).toHaveLength(1);
    expect(s.registered[0]!.accountKeyPem).toBe(account.accountKeyPem);
    expect(s.sm.commandNames()).toEqual([]);
    expect(s.log.find('using an ephemeral ACME account')).toMatchObject({ accountUrl: ACCOUNT_URL });
  });

  it('creates and stores the account on first use under the deterministic version id as AWSCURRENT', async () => {
    const s = setup();
    const account = await s.load({ email: 'ops@example.com' });
    expect(account).toMatchObject({ accountUrl: ACCOUNT_URL, fresh: true, persisted: true });
    expect(s.registered).toHaveLength(1);

    const puts = s.sm.puts();
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({
      SecretId: ACCOUNT_SECRET,
      ClientRequestToken: accountVersionId(DIRECTORY_URL),
      VersionStages: ['AWSCURRENT'],
    });
    const stored = JSON.parse(puts[0]!.SecretString as string) as StoredAccount;
    expect(stored).toMatchObject({
      private_key: account.accountKeyPem,
      account_url: ACCOUNT_URL,
      directory_url: DIRECTORY_URL,
      email: 'ops@example.com',
    });
    expect(Date.parse(stored.created_at as string)).not.toBeNaN();
    expect(s.sm.stages(ACCOUNT_SECRET)).toEqual({ [accountVersionId(DIRECTORY_URL)]: ['AWSCURRENT'] });
    expect(s.log.find('created and stored a new ACME account')).toBeDefined();
    expect(s.log.raw.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('reuses the stored key and account URL for the same directory without registering', async () => {
    const key = ecKeyPem();
    const s = setup(JSON.stringify({ private_key: key, account_url: ACCOUNT_URL, directory_url: DIRECTORY_URL }));
    const account = await s.load();
    expect(account).toMatchObject({ accountKeyPem: key, accountUrl: ACCOUNT_URL, fresh: false, persisted: true });
    expect(s.registered).toEqual([]);
    expect(s.sm.puts()).toEqual([]);
    expect(s.sm.gets()).toEqual([{ SecretId: ACCOUNT_SECRET, VersionStage: 'AWSCURRENT' }]);
  });

  it('looks the account URL up (without storing anything) when only the key is stored', async () => {
    const key = ecKeyPem();
    const s = setup(JSON.stringify({ private_key: key, directory_url: DIRECTORY_URL }));
    const account = await s.load();
    expect(account).toMatchObject({ accountKeyPem: key, accountUrl: ACCOUNT_URL, fresh: false });
    expect(s.registered.map((a) => a.accountKeyPem)).toEqual([key]);
    expect(s.sm.puts()).toEqual([]);
  });

  it("accepts the seed's bare PEM key", async () => {
    const key = ecKeyPem();
    const s = setup(`${key}\n`);
    const account = await s.load();
    expect(account.accountKeyPem).toBe(key.trim());
    expect(account.fresh).toBe(false);
    expect(s.registered).toHaveLength(1);
    expect(s.sm.puts()).toEqual([]);
  });

  it("does not use another directory's key: creates this directory's own account version", async () => {
    const otherKey = ecKeyPem();
    const s = setup(
      JSON.stringify({ private_key: otherKey, account_url: 'https://other/acct/1', directory_url: OTHER_DIRECTORY }),
    );
    const account = await s.load();
    expect(account.accountKeyPem).not.toBe(otherKey);
    expect(account.fresh).toBe(true);
    expect(s.registered.map((a) => a.accountKeyPem)).toEqual([account.accountKeyPem]);
    expect(s.sm.puts()[0]).toMatchObject({
      ClientRequestToken: accountVersionId(DIRECTORY_URL),
      VersionStages: ['AWSCURRENT'],
    });
    // The other directory's account is still there (AWSPREVIOUS), not overwritten.
    expect(JSON.parse(s.sm.value(ACCOUNT_SECRET, INITIAL_VERSION) as string)).toMatchObject({ private_key: otherKey });
  });

  it("finds this directory's account by its version id when AWSCURRENT belongs to another directory", async () => {
    const key = ecKeyPem();
    const s = setup(JSON.stringify({ private_key: ecKeyPem(), directory_url: OTHER_DIRECTORY }));
    s.sm.putVersion(ACCOUNT_SECRET, accountVersionId(DIRECTORY_URL), {
      value: JSON.stringify({ private_key: key, account_url: ACCOUNT_URL, directory_url: DIRECTORY_URL }),
      stages: ['AWSPREVIOUS'],
    });
    const account = await s.load();
    expect(account).toMatchObject({ accountKeyPem: key, accountUrl: ACCOUNT_URL, fresh: false, persisted: true });
    expect(s.registered).toEqual([]);
    expect(s.sm.puts()).toEqual([]);
    expect(s.sm.gets()).toEqual([
      { SecretId: ACCOUNT_SECRET, VersionStage: 'AWSCURRENT' },
      { SecretId: ACCOUNT_SECRET, VersionId: accountVersionId(DIRECTORY_URL) },
    ]);
  });

  it("adopts the winner's key when another rotation stored the account first (ResourceExistsException)", async () => {
    const s = setup();
    const winnerKey = ecKeyPem();
    const versionId = accountVersionId(DIRECTORY_URL);
    s.sm.before = (op) => {
      if (op !== 'PutSecretValue' || s.sm.secret(ACCOUNT_SECRET).versions.has(versionId)) return;
      // The racing rotation's PutSecretValue lands just before ours.
      s.sm.putVersion(ACCOUNT_SECRET, versionId, {
        value: JSON.stringify({
          private_key: winnerKey,
          account_url: 'https://ca.test/acct/winner',
          directory_url: DIRECTORY_URL,
        }),
        stages: ['AWSCURRENT'],
      });
    };
    const account = await s.load();
    expect(account).toMatchObject({
      accountKeyPem: winnerKey,
      accountUrl: 'https://ca.test/acct/winner',
      fresh: false,
      persisted: true,
    });
    expect(s.registered).toHaveLength(1); // ours, before the write; the winner's URL is reused
    expect(JSON.parse(s.sm.value(ACCOUNT_SECRET, versionId) as string)).toMatchObject({ private_key: winnerKey });
    expect(s.log.find('another rotation created the ACME account first; using its key')).toBeDefined();
  });

  it('passes EAB credentials from the account secret to the registration and keeps them', async () => {
    const s = setup(JSON.stringify({ eab: { kid: 'kid-123', hmac_key: 'aG1hYy1rZXk' } }));
    const account = await s.load();
    expect(s.registered).toHaveLength(1);
    expect(s.registered[0]!.eab).toEqual({ kid: 'kid-123', hmacKey: 'aG1hYy1rZXk' });
    expect(account.eab).toEqual({ kid: 'kid-123', hmacKey: 'aG1hYy1rZXk' });
    expect(storedValue(s, accountVersionId(DIRECTORY_URL)).eab).toEqual({ kid: 'kid-123', hmac_key: 'aG1hYy1rZXk' });
  });

  it('passes EAB credentials along with a stored key', async () => {
    const key = ecKeyPem();
    const s = setup(
      JSON.stringify({ private_key: key, directory_url: DIRECTORY_URL, eab: { kid: 'k', hmac_key: 'h' } }),
    );
    await s.load();
    expect(s.registered[0]).toMatchObject({ accountKeyPem: key, eab: { kid: 'k', hmacKey: 'h' } });
  });

  it.each([
    ['not JSON', 'hello world', 'is neither JSON nor a PEM key'],
    ['a JSON array', '[1,2,3]', 'must hold a JSON object'],
    ['a JSON string', '"text"', 'must hold a JSON object'],
    ['a malformed eab', '{"eab":{"kid":1}}', '"eab" must be {"kid": "...", "hmac_key": "..."}'],
    [
      'an unreadable PEM key',
      JSON.stringify({ private_key: `${PKCS8_KEY_HEADER}\nbm90IGEga2V5\n${PKCS8_KEY_FOOTER}\n` }),
      'private_key is not a readable PEM private key',
    ],
  ])('rejects %s in the account secret with a ConfigError naming it', async (_what, value, fragment) => {
    const s = setup(value);
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`ACME account secret "${ACCOUNT_SECRET}"`);
    expect(err.message).toContain(fragment);
    expect(s.registered).toEqual([]);
    expect(s.sm.puts()).toEqual([]);
  });

  it('rejects a private_key that is not PEM instead of silently replacing the account', async () => {
    // A key pasted in the wrong format must not be overwritten with a brand-new account.
    const s = setup(JSON.stringify({ private_key: 'MHcCAQEEIBase64DerWithoutArmour', account_url: ACCOUNT_URL }));
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`ACME account secret "${ACCOUNT_SECRET}"`);
    expect(s.registered).toEqual([]);
    expect(s.sm.puts()).toEqual([]);
  });

  it('refuses an account secret holding a binary value (SecretBinary) instead of replacing it', async () => {
    const s = setup();
    s.sm.addSecret({
      name: 'binary/account',
      rotationEnabled: false,
      versions: { [BINARY_VERSION]: { binary: Uint8Array.from([1, 2, 3, 4]), stages: ['AWSCURRENT'] } },
    });
    const err = await rejection(s.load({ accountSecretId: 'binary/account' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `ACME account secret "binary/account": version ${BINARY_VERSION} (AWSCURRENT) holds a binary value (SecretBinary, 4 bytes), ` +
        'not the SecretString JSON this function reads and writes; it was left as it is. ' +
        'Point ACME_ACCOUNT_SECRET_ID at a secret of its own (an empty secret is fine)',
    );
    expect(s.registered).toEqual([]);
    expect(s.sm.puts()).toEqual([]);
  });

  it('says to create the account secret when it does not exist', async () => {
    const s = setup(undefined, { exists: false });
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `ACME account secret "${ACCOUNT_SECRET}" does not exist: create it (an empty secret is fine) or unset ACME_ACCOUNT_SECRET_ID`,
    );
    expect((err as ConfigError).cause).toBeInstanceOf(AwsServiceError);
  });

  it('does not register a new CA account when the account secret does not exist', async () => {
    // Each retry of a misconfigured rotation would otherwise burn one of the CA's
    // "new accounts per IP" (10 / 3 h at Let's Encrypt).
    const s = setup(undefined, { exists: false });
    await rejection(s.load());
    expect(s.registered).toEqual([]);
  });

  it('surfaces other Secrets Manager errors as they are', async () => {
    const s = setup();
    s.sm.before = (op) => {
      if (op === 'GetSecretValue') throw Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
    };
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).awsCode).toBe('AccessDeniedException');
    expect(s.registered).toEqual([]);
  });
});
