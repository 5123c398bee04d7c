/**
 * `acme-rotation-fetch`: AWSCURRENT of a certificate secret → certificate files on disk → reload,
 * only when the serial changed. Returns the exit status; prints one line per outcome and never
 * key material (messages are composed here from paths, serials and dates only).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { access } from 'node:fs/promises';

import { sdkClientConfig } from '../aws/client-config.js';
import { COMMAND, HELP, parseArgs, UsageError, type FetchOptions } from './args.js';
import { runReload, type ReloadOptions } from './reload.js';
import { FetchError, filesFor, readCurrentCertificate } from './secret.js';
import { sameSerial, serialOnDisk } from './serial.js';
import { writeFilesAtomically, type FileToWrite, type WriterHooks } from './writer.js';

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
}

function defaultClient(options: FetchOptions): SecretsManagerClient {
  return new SecretsManagerClient({
    ...sdkClientConfig(API_TIMEOUT_MS, 3, 'standard'),
    ...(options.region !== undefined ? { region: options.region } : {}),
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function main(io: MainIo): Promise<number> {
  let options: FetchOptions;
  try {
    const invocation = parseArgs(io.argv, io.cwd);
    if (invocation.kind === 'help') {
      for (const line of HELP.trimEnd().split('\n')) io.out(line);
      return EXIT_OK;
    }
    options = invocation.options;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${COMMAND}: ${err.message}`);
    return EXIT_USAGE;
  }

  const client = (io.client ?? defaultClient)(options);
  try {
    return await fetchAndDeploy(options, client, io);
  } catch (err) {
    const message =
      err instanceof FetchError ? err.message : `${options.secretId}: ${(err as Error).message ?? String(err)}`;
    io.err(`${COMMAND}: ${message}`);
    return EXIT_FAILED;
  } finally {
    if (!io.client) client.destroy();
  }
}

async function fetchAndDeploy(options: FetchOptions, client: SecretsManagerClient, io: MainIo): Promise<number> {
  const id = options.secretId;
  const { bundle, serial } = await readCurrentCertificate(client, id);
  const files = filesFor(options, bundle);
  const previousSerial = await serialOnDisk(options.fullchainPath);

  if (sameSerial(previousSerial, serial)) {
    const missing: FileToWrite[] = [];
    for (const f of files) if (!(await exists(f.path))) missing.push(f);
    if (missing.length === 0) {
      io.out(`${id}: unchanged (serial ${serial}, expires ${bundle.expiry})`);
      return EXIT_OK;
    }
    // Same certificate as the one the service already has loaded: no reload for a file put back.
    await writeFiles(missing, io, id);
    io.out(`${id}: unchanged (serial ${serial}); wrote the missing ${missing.map((f) => f.path).join(', ')}`);
    return EXIT_OK;
  }

  const written = await writeFiles(files, io, id);
  io.out(
    `${id}: wrote serial ${serial} (expires ${bundle.expiry}; was ${previousSerial ?? 'none'}) to ${written.paths.join(', ')}`,
  );
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

async function writeFiles(files: FileToWrite[], io: MainIo, id: string) {
  try {
    return await writeFilesAtomically(files, io.writerHooks);
  } catch (err) {
    throw new FetchError(`${id}: writing the files failed, the previous ones are kept: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
