/**
 * The whole local stack: the local AWS endpoint, a DNS responder serving its Route 53 records,
 * Pebble validating dns-01 against that responder, a trust file for the Lambda, and helpers to
 * make certificate secrets and local Lambda containers. Loopback only, ephemeral ports, a unique
 * temporary directory; `stop()` undoes everything it started, in reverse order.
 */
import { CreateSecretCommand, SecretsManagerClient, type Tag } from '@aws-sdk/client-secrets-manager';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { domainTags } from '../../rotation/certificate/spec.js';
import { startLocalAws, type LocalAws } from './aws/server.js';
import { AriCa, type AriCaOptions } from './ari-ca.js';
import { startCaProxy, type CaProxy } from './ca-proxy.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { LocalLambda, type LocalLambdaOptions } from './lambda.js';
import { startPebble, type Pebble } from './pebble.js';

/** Where `npm run build` writes the rotation bundle (ACME_ROTATION_BUNDLE overrides it). */
export const DEFAULT_BUNDLE_PATH =
  process.env.ACME_ROTATION_BUNDLE || fileURLToPath(new URL('../../dist/rotation/index.mjs', import.meta.url));

export interface LocalStackOptions {
  /** How long Route 53 changes stay PENDING; the endpoint's default (0) when unset. */
  route53ChangeDelayMs?: number;
  /** Route 53 throttling (token bucket); unlimited when unset. */
  route53RateLimitPerSecond?: number;
  /** Extra Pebble environment, e.g. { PEBBLE_WFE_NONCEREJECT: '30' }. */
  pebbleEnv?: Record<string, string>;
  /** PEBBLE_AUTHZREUSE percentage; default 0. */
  authzReuse?: number;
  /**
   * Pebble's leaf lifetime in seconds; default 90 days like Let's Encrypt's classic profile.
   * 0 leaves Pebble's own default (5 years, as private CAs issue long-lived certificates).
   */
  certificateValidityPeriod?: number;
  /** Parent directory for the stack's files; default the OS temp dir. */
  workDir?: string;
  /**
   * Put the fault-injecting CA proxy (ca-proxy.ts) in front of Pebble: `stack.ca` is the proxy
   * and lambdaEnv.ACME_DIRECTORY_URL its directory. Default false (the Lambda talks to Pebble).
   */
  caProxy?: boolean;
  /**
   * A CA of our own in front of Pebble with what Pebble 2.4 lacks — ACME Renewal Information,
   * `replaces`, directory profiles (ari-ca.ts) — through the CA proxy (implies `caProxy`).
   */
  ari?: AriCaOptions | true;
}

export interface CertificateSpecInput {
  domains: string[];
  keyType?: string;
  hostedZoneIds?: string[];
  profile?: string;
}

export interface LocalStack {
  aws: LocalAws;
  dns: DnsServer;
  pebble: Pebble;
  /** The CA fault proxy in front of Pebble, when started with `caProxy: true` or `ari`. */
  ca?: CaProxy;
  /** The ARI-capable CA in front of Pebble, when started with `ari`. */
  ari?: AriCa;
  /** A real Secrets Manager client pointed at the local endpoint. */
  sm: SecretsManagerClient;
  /** The function environment: endpoint, region, test keys, ACME_DIRECTORY_URL, DNS_RESOLVERS, NODE_EXTRA_CA_CERTS, ACME_EMAIL. */
  lambdaEnv: Record<string, string>;
  /** PEM file: Pebble's listener CA and issuing root(s). */
  trustFile: string;
  /** This stack's own temporary directory. */
  workDir: string;
  /** A Lambda container running the bundle (default dist/rotation/index.mjs) with lambdaEnv + env. */
  newLambda(env?: Record<string, string>, opts?: Partial<Omit<LocalLambdaOptions, 'env'>>): LocalLambda;
  /** Creates a certificate secret tagged with the spec (acme:domains, …). */
  createCertificateSecret(
    name: string,
    spec: CertificateSpecInput,
    opts?: { placeholder?: string; extraTags?: Tag[] },
  ): Promise<{ arn: string; name: string }>;
  /** Creates a secret with no version (e.g. for ACME_ACCOUNT_SECRET_ID). */
  createEmptySecret(name: string): Promise<{ arn: string; name: string }>;
  /** Stops everything started, in reverse order, even if some parts fail to stop. */
  stop(): Promise<void>;
}

export const DEFAULT_CERTIFICATE_VALIDITY_SECONDS = 90 * 24 * 3600;

export const LOCAL_ACME_EMAIL = 'admin@example.test';

export async function startLocalStack(
  opts: LocalStackOptions & { ari: AriCaOptions | true },
): Promise<LocalStack & { ca: CaProxy; ari: AriCa }>;
export async function startLocalStack(
  opts: LocalStackOptions & { caProxy: true },
): Promise<LocalStack & { ca: CaProxy }>;
export async function startLocalStack(opts?: LocalStackOptions): Promise<LocalStack>;
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const workDir = await mkdtemp(join(opts.workDir ?? tmpdir(), 'acme-local-'));
  // Undo actions, run in reverse on stop or on a failed start.
  const undo: { what: string; run: () => Promise<void> | void }[] = [];
  undo.push({ what: 'work directory', run: () => rm(workDir, { recursive: true, force: true }) });

  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const { what, run } of undo.splice(0).reverse()) {
      try {
        await run();
      } catch (err) {
        errors.push(new Error(`stopping ${what} failed: ${(err as Error).message ?? String(err)}`, { cause: err }));
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'stopping the local stack failed');
  };

  try {
    const aws = await startLocalAws({
      ...(opts.route53ChangeDelayMs !== undefined ? { route53ChangeDelayMs: opts.route53ChangeDelayMs } : {}),
      ...(opts.route53RateLimitPerSecond !== undefined
        ? { route53RateLimitPerSecond: opts.route53RateLimitPerSecond }
        : {}),
    });
    undo.push({ what: 'local AWS endpoint', run: () => aws.stop() });

    const dns = await startDnsServer({ route53: aws.route53 });
    undo.push({ what: 'DNS responder', run: () => dns.stop() });
    const dnsAddress = `${dns.address}:${dns.port}`;

    const pebble = await startPebble({
      dnsServer: dnsAddress,
      workDir,
      ...(opts.pebbleEnv ? { env: opts.pebbleEnv } : {}),
      ...(opts.authzReuse !== undefined ? { authzReuse: opts.authzReuse } : {}),
      certificateValidityPeriod: opts.certificateValidityPeriod ?? DEFAULT_CERTIFICATE_VALIDITY_SECONDS,
    });
    undo.push({ what: 'Pebble', run: () => pebble.stop() });

    let ca: CaProxy | undefined;
    const ari = opts.ari ? new AriCa(opts.ari === true ? {} : opts.ari) : undefined;
    if (opts.caProxy || ari) {
      // Pebble's listener certificate (127.0.0.1, signed by the listener CA in the trust file).
      const [cert, key] = await Promise.all([
        readFile(pebble.listenerCertPath, 'utf8'),
        readFile(pebble.listenerKeyPath, 'utf8'),
      ]);
      const proxy = await startCaProxy({
        target: pebble.directoryUrl,
        targetCa: pebble.listenerCaPem,
        cert,
        key,
        ...(ari ? { extension: ari } : {}),
      });
      ca = proxy;
      undo.push({ what: 'CA proxy', run: () => proxy.stop() });
    }

    const trustFile = join(workDir, 'trust.pem');
    await writeFile(trustFile, `${pebble.listenerCaPem.trim()}\n${(await pebble.issuingRootsPem()).trim()}\n`);

    const sm = new SecretsManagerClient({
      endpoint: aws.url,
      region: aws.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    undo.push({ what: 'Secrets Manager client', run: () => sm.destroy() });

    const lambdaEnv: Record<string, string> = {
      ...aws.env,
      AWS_EC2_METADATA_DISABLED: 'true',
      // Local Node is 20 while the function deploys on nodejs22.x: keep the SDK's notice out of the logs.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ACME_DIRECTORY_URL: ca ? ca.directoryUrl : pebble.directoryUrl,
      ACME_EMAIL: LOCAL_ACME_EMAIL,
      DNS_RESOLVERS: dnsAddress,
      NODE_EXTRA_CA_CERTS: trustFile,
    };

    const newLambda: LocalStack['newLambda'] = (env = {}, lambdaOpts = {}) => {
      const lambda = new LocalLambda({
        bundlePath: DEFAULT_BUNDLE_PATH,
        functionArn: `arn:aws:lambda:${aws.region}:${aws.accountId}:function:${lambdaOpts.functionName ?? 'acme-rotation'}`,
        ...lambdaOpts,
        env: { ...lambdaEnv, ...env },
      });
      undo.push({ what: `Lambda ${lambda.functionName}`, run: () => lambda.stop() });
      return lambda;
    };

    const createCertificateSecret: LocalStack['createCertificateSecret'] = async (name, spec, secretOpts = {}) => {
      const tags: Tag[] = [...domainTags(spec.domains)];
      if (spec.keyType !== undefined) tags.push({ Key: 'acme:key-type', Value: spec.keyType });
      if (spec.hostedZoneIds?.length) tags.push({ Key: 'acme:hosted-zone-ids', Value: spec.hostedZoneIds.join(',') });
      if (spec.profile !== undefined) tags.push({ Key: 'acme:profile', Value: spec.profile });
      tags.push(...(secretOpts.extraTags ?? []));
      const out = await sm.send(
        new CreateSecretCommand({
          Name: name,
          Description: `TLS certificate for ${spec.domains.join(', ')}`,
          Tags: tags,
          ...(secretOpts.placeholder !== undefined ? { SecretString: secretOpts.placeholder } : {}),
        }),
      );
      if (!out.ARN || !out.Name) throw new Error(`CreateSecret(${name}) returned no ARN`);
      return { arn: out.ARN, name: out.Name };
    };

    const createEmptySecret: LocalStack['createEmptySecret'] = async (name) => {
      const out = await sm.send(new CreateSecretCommand({ Name: name }));
      if (!out.ARN || !out.Name) throw new Error(`CreateSecret(${name}) returned no ARN`);
      return { arn: out.ARN, name: out.Name };
    };

    let stopping: Promise<void> | undefined;
    return {
      aws,
      dns,
      pebble,
      ...(ca ? { ca } : {}),
      ...(ari ? { ari } : {}),
      sm,
      lambdaEnv,
      trustFile,
      workDir,
      newLambda,
      createCertificateSecret,
      createEmptySecret,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
