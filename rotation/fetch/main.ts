/**
 * `acme-rotation-fetch`: AWSCURRENT of a certificate secret → certificate files on disk → reload,
 * only when the serial changed or the key on disk is not the certificate's. Returns the exit
 * status; prints one line per outcome and never key material (messages are composed here from
 * paths, serials and dates only).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { X509Certificate } from 'node:crypto';

import { sdkClientConfig } from '../aws/client-config.js';
import { SecretsAdapter } from '../aws/secrets.js';
import { certNotAfter, certNotBefore, normaliseSerial } from '../certificate/bundle.js';
import { COMMAND, HELP, parseArgs, UsageError, type FetchOptions } from './args.js';
import { runReload, type ReloadOptions } from './reload.js';
import { FetchError, filesFor, readCurrentCertificate, type CurrentCertificate } from './secret.js';
import { certificateOnDisk, keyMatchesOnDisk, sameSerial } from './serial.js';
import { checkDirectories, present, readTarget, UnsafeTargetError } from './targets.js';
import { bundleVersion } from './version.js';
import { writeFilesAtomically, type FileToWrite, type WriterHooks, type WrittenFiles } from './writer.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_RELOAD_FAILED = 3;

/** Bound on one request to Secrets Manager: a hung connection fails instead of stalling a timer unit. */
const API_TIMEOUT_MS = 10_000;

export interface MainIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** One line of normal output (stdout). */
  out(line: string): void;
  /** One line of error output (stderr). */
  err(line: string): void;
  /** The Secrets Manager client; default one from the SDK's usual configuration. */
  client?(options: FetchOptions): SecretsManagerClient;
  writerHooks?: WriterHooks;
  reload?: Partial<Pick<ReloadOptions, 'killGraceMs' | 'shell'>>;
  /** The clock that decides whether a certificate has expired; default the system's. */
  now?(): Date;
  /** What --version prints after the command's name; default the build's stamp (version.ts). */
  version?(): Promise<string>;
}

function defaultClient(options: FetchOptions): SecretsManagerClient {
  return new SecretsManagerClient({
    ...sdkClientConfig(API_TIMEOUT_MS, 3, 'standard'),
    ...(options.region !== undefined ? { region: options.region } : {}),
  });
}

export async function main(io: MainIo): Promise<number> {
  let options: FetchOptions;
  try {
    const invocation = parseArgs(io.argv, io.cwd);
    if (invocation.kind === 'help') {
      for (const line of HELP.trimEnd().split('\n')) io.out(line);
      return EXIT_OK;
    }
    if (invocation.kind === 'version') return await printVersion(io);
    options = invocation.options;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${COMMAND}: ${err.message}`);
    return EXIT_USAGE;
  }

  const client = (io.client ?? defaultClient)(options);
  try {
    return await fetchAndDeploy(options, new SecretsAdapter(client), io);
  } catch (err) {
    const message =
      err instanceof FetchError ? err.message : `${options.secretId}: ${(err as Error).message ?? String(err)}`;
    io.err(`${COMMAND}: ${message}`);
    return EXIT_FAILED;
  } finally {
    if (!io.client) client.destroy();
  }
}

async function printVersion(io: MainIo): Promise<number> {
  try {
    io.out(`${COMMAND} ${await (io.version ?? bundleVersion)()}`);
    return EXIT_OK;
  } catch (err) {
    io.err(`${COMMAND}: ${(err as Error).message}`);
    return EXIT_FAILED;
  }
}

/** What is at the targets: refusals first (links, other kinds of file, shared directories). */
async function inspectTargets(id: string, files: FileToWrite[]): Promise<void> {
  try {
    await checkDirectories(files.map((f) => f.path));
    for (const f of files) await readTarget(f.path);
  } catch (err) {
    if (err instanceof UnsafeTargetError) throw new FetchError(`${id}: ${err.message}; nothing was written`);
    throw err;
  }
}

function isValidAt(cert: X509Certificate, now: Date): boolean {
  return certNotBefore(cert).getTime() <= now.getTime() && now.getTime() < certNotAfter(cert).getTime();
}

/**
 * An expired AWSCURRENT (renewals failing for a whole lifetime) never replaces a certificate on
 * disk that still works: serving it would break every client at once. When nothing valid is on
 * disk it is written all the same — it is no worse than what is there — with a warning to renew.
 */
function checkExpiry(
  id: string,
  current: CurrentCertificate,
  onDisk: X509Certificate | undefined,
  path: string,
  io: MainIo,
): void {
  const now = io.now?.() ?? new Date();
  const notAfter = certNotAfter(current.leaf);
  if (notAfter.getTime() > now.getTime()) return;
  const expired = `AWSCURRENT's certificate (serial ${current.serial}) expired at ${notAfter.toISOString()}`;
  const renew = `renew it (aws secretsmanager rotate-secret --secret-id ${id}) and look at why its rotation fails`;
  if (onDisk !== undefined && isValidAt(onDisk, now)) {
    throw new FetchError(
      `secret "${id}": ${expired}, and the one in ${path} (serial ${normaliseSerial(onDisk.serialNumber)}) ` +
        `is valid until ${certNotAfter(onDisk).toISOString()}: it is kept and nothing was written; ${renew}`,
    );
  }
  io.err(
    `${COMMAND}: warning: secret "${id}": ${expired}; written because ${path} holds no valid certificate; ${renew}`,
  );
}

async function fetchAndDeploy(options: FetchOptions, secrets: SecretsAdapter, io: MainIo): Promise<number> {
  const id = options.secretId;
  const current = await readCurrentCertificate(secrets, id);
  const { bundle, serial } = current;
  const files = filesFor(options, bundle);
  await inspectTargets(id, files);
  const onDisk = await certificateOnDisk(options.fullchainPath);
  const previousSerial = onDisk === undefined ? undefined : normaliseSerial(onDisk.serialNumber);

  let written: WrittenFiles;
  if (onDisk !== undefined && sameSerial(previousSerial, serial)) {
    if ((await keyMatchesOnDisk(options.keyPath, onDisk)) !== false) {
      const missing: FileToWrite[] = [];
      for (const f of files) if (!(await present(f.path))) missing.push(f);
      if (missing.length === 0) {
        io.out(`${id}: unchanged (serial ${serial}, expires ${bundle.expiry})`);
        return EXIT_OK;
      }
      // Same certificate as the one the service already has loaded: no reload for a file put back.
      await writeFiles(missing, io, id);
      io.out(`${id}: unchanged (serial ${serial}); wrote the missing ${missing.map((f) => f.path).join(', ')}`);
      return EXIT_OK;
    }
    // The serial says "unchanged" but the key is another certificate's (a restore cut short, a
    // hand edit): a server restarted now would fail. The whole set goes back, and the reload runs.
    written = await writeFiles(files, io, id);
    io.out(
      `${id}: the key in ${options.keyPath} does not belong to the certificate in ${options.fullchainPath}; ` +
        `wrote serial ${serial} (expires ${bundle.expiry}) again to ${written.paths.join(', ')}`,
    );
  } else {
    checkExpiry(id, current, onDisk, options.fullchainPath, io);
    written = await writeFiles(files, io, id);
    io.out(
      `${id}: wrote serial ${serial} (expires ${bundle.expiry}; was ${previousSerial ?? 'none'}) to ${written.paths.join(', ')}`,
    );
  }
  if (options.reload === undefined) return EXIT_OK;

  const outcome = await runReload(options.reload, {
    ...io.reload,
    timeoutMs: options.reloadTimeoutMs,
    env: {
      ...io.env,
      ACME_ROTATION_SECRET_ID: id,
      ACME_ROTATION_SERIAL: serial,
      ACME_ROTATION_PREVIOUS_SERIAL: previousSerial ?? '',
      ACME_ROTATION_EXPIRY: bundle.expiry,
      ACME_ROTATION_DOMAINS: bundle.domains.join(' '),
      ACME_ROTATION_FULLCHAIN: options.fullchainPath,
      ACME_ROTATION_KEY: options.keyPath,
    },
  });
  if (outcome.ok) {
    io.out(`${id}: reload succeeded`);
    return EXIT_OK;
  }
  const failed = `${id}: reload command ${outcome.detail}`;
  try {
    await written.restore();
  } catch (err) {
    io.err(`${COMMAND}: ${failed}; putting the previous files back failed too (${(err as Error).message})`);
    return EXIT_RELOAD_FAILED;
  }
  const back =
    previousSerial === undefined
      ? 'the files are as they were before'
      : `the previous files (serial ${previousSerial}) are back`;
  io.err(`${COMMAND}: ${failed}; ${back}, and the next run tries again`);
  return EXIT_RELOAD_FAILED;
}

async function writeFiles(files: FileToWrite[], io: MainIo, id: string): Promise<WrittenFiles> {
  try {
    return await writeFilesAtomically(files, io.writerHooks);
  } catch (err) {
    throw new FetchError(`${id}: writing the files failed, the previous ones are kept: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
