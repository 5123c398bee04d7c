/**
 * Command line of `acme-rotation-fetch`: flags, their checks and the help text. Pure: no I/O, so
 * every usage error is known before the secret is read or a file is touched.
 */
import { resolve } from 'node:path';
import { parseArgs as parseCommandLine, type ParseArgsConfig } from 'node:util';

export const COMMAND = 'acme-rotation-fetch';

/** Default layout under `--dir`, the names certbot and most server guides use. */
export const FULLCHAIN_FILE = 'fullchain.pem';
export const KEY_FILE = 'privkey.pem';

export const DEFAULT_RELOAD_TIMEOUT_SECONDS = 300;
const MAX_RELOAD_TIMEOUT_SECONDS = 3600;

export interface FetchOptions {
  secretId: string;
  /** Absolute paths. */
  fullchainPath: string;
  keyPath: string;
  certPath?: string;
  chainPath?: string;
  /** Run by /bin/sh -c after the files changed. */
  reload?: string;
  reloadTimeoutMs: number;
  region?: string;
}

export type Invocation = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: FetchOptions };

/** A command line we refuse; the message says which flag and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The options, for Node's own parser. It runs in its lenient mode (unknown options and positionals
 * come back as tokens) so that every refusal is ours, naming the flag in this command's words.
 */
const OPTIONS = {
  'secret-id': { type: 'string' },
  dir: { type: 'string' },
  fullchain: { type: 'string' },
  key: { type: 'string' },
  cert: { type: 'string' },
  chain: { type: 'string' },
  reload: { type: 'string' },
  'reload-timeout': { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type OptionName = keyof typeof OPTIONS;
type ValueOption = { [K in OptionName]: (typeof OPTIONS)[K]['type'] extends 'string' ? K : never }[OptionName];

function isValueOption(name: string): name is ValueOption {
  return Object.hasOwn(OPTIONS, name) && OPTIONS[name as OptionName].type === 'string';
}

/** Node's tokens: options with their values, positionals, `--`; unknown options too (not strict). */
function tokenize(argv: readonly string[]) {
  return parseCommandLine({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true })
    .tokens;
}
type Token = ReturnType<typeof tokenize>[number];

/** The value of each --flag given, checked: known, given once, with a value that is not empty. */
function readValues(tokens: readonly Token[]): Map<ValueOption, string> {
  const values = new Map<ValueOption, string>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new UsageError(`unexpected argument "${token.value}" (every option is a --flag; see --help)`);
    }
    if (token.kind === 'option-terminator') {
      throw new UsageError('unexpected argument "--" (every option is a --flag; see --help)');
    }
    if (token.name === 'help' || token.name === 'version') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      continue;
    }
    if (!isValueOption(token.name)) throw new UsageError(`unknown option ${token.rawName} (see --help)`);
    const flag = `--${token.name}`;
    const value = token.value;
    // A following flag is a forgotten value, not the value (a reload command never starts with --);
    // --flag=--value says it is meant.
    if (value === undefined || (!token.inlineValue && value.startsWith('--'))) {
      throw new UsageError(`${flag} needs a value`);
    }
    if (values.has(token.name)) throw new UsageError(`${flag} is given more than once`);
    if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
    values.set(token.name, value);
  }
  return values;
}

/** `argv` without node and the script (process.argv.slice(2)); relative paths resolve against `cwd`. */
export function parseArgs(argv: readonly string[], cwd: string = process.cwd()): Invocation {
  // Asking for help (or the version) wins over any mistake elsewhere on the line.
  // "-h" as another flag's value is a value: Node's tokens tell them apart.
  const tokens = tokenize(argv);
  const asks = (name: 'help' | 'version'): boolean => tokens.some((t) => t.kind === 'option' && t.name === name);
  if (asks('help')) return { kind: 'help' };
  if (asks('version')) return { kind: 'version' };
  const values = readValues(tokens);

  const secretId = values.get('secret-id');
  if (secretId === undefined) throw new UsageError('--secret-id is required (the certificate secret, name or ARN)');

  const dir = values.get('dir');
  const path = (name: ValueOption, fallback?: string): string | undefined => {
    const given = values.get(name);
    if (given !== undefined) return resolve(cwd, given);
    return fallback === undefined || dir === undefined ? undefined : resolve(cwd, dir, fallback);
  };
  const fullchainPath = path('fullchain', FULLCHAIN_FILE);
  const keyPath = path('key', KEY_FILE);
  if (fullchainPath === undefined || keyPath === undefined) {
    throw new UsageError(
      `where to write: --dir <directory> (${FULLCHAIN_FILE} and ${KEY_FILE} in it), or both --fullchain and --key`,
    );
  }
  const certPath = path('cert');
  const chainPath = path('chain');

  const targets: [string, string | undefined][] = [
    ['--fullchain', fullchainPath],
    ['--key', keyPath],
    ['--cert', certPath],
    ['--chain', chainPath],
  ];
  const seen = new Map<string, string>();
  for (const [flag, p] of targets) {
    if (p === undefined) continue;
    const other = seen.get(p);
    if (other !== undefined) throw new UsageError(`${other} and ${flag} name the same file ${p}`);
    seen.set(p, flag);
  }

  let reloadTimeoutMs = DEFAULT_RELOAD_TIMEOUT_SECONDS * 1000;
  const timeout = values.get('reload-timeout');
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!/^\d+$/.test(timeout) || seconds < 1 || seconds > MAX_RELOAD_TIMEOUT_SECONDS) {
      throw new UsageError(
        `--reload-timeout must be a whole number of seconds from 1 to ${MAX_RELOAD_TIMEOUT_SECONDS}`,
      );
    }
    if (!values.has('reload')) throw new UsageError('--reload-timeout without --reload');
    reloadTimeoutMs = seconds * 1000;
  }

  const reload = values.get('reload');
  const region = values.get('region');
  return {
    kind: 'run',
    options: {
      secretId,
      fullchainPath,
      keyPath,
      ...(certPath !== undefined ? { certPath } : {}),
      ...(chainPath !== undefined ? { chainPath } : {}),
      ...(reload !== undefined ? { reload } : {}),
      reloadTimeoutMs,
      ...(region !== undefined ? { region } : {}),
    },
  };
}

export const HELP = `Usage: ${COMMAND} --secret-id <name-or-arn> (--dir <dir> | --fullchain <file> --key <file>) [options]

Reads the AWSCURRENT version of an acme-rotation certificate secret from AWS Secrets Manager,
writes the certificate files when the certificate's serial differs from the one on disk, and then
runs a reload command. Meant for a systemd timer, cron or a sidecar loop: run it as often as you
like; when nothing changed it writes nothing and runs nothing.

Options:
  --secret-id <id>       the certificate secret, by name or ARN (required)
  --dir <dir>            write ${FULLCHAIN_FILE} and ${KEY_FILE} in this existing directory
  --fullchain <file>     leaf + intermediates (PEM); default <dir>/${FULLCHAIN_FILE}
  --key <file>           the private key (PKCS#8 PEM), created 0600; default <dir>/${KEY_FILE}
  --cert <file>          also write the leaf certificate alone
  --chain <file>         also write the intermediates alone (empty when the CA sends none)
  --reload <command>     run with /bin/sh -c after the files changed (e.g. "systemctl reload nginx");
                         when it fails, the previous files are put back and the exit status is 3
  --reload-timeout <s>   seconds the reload may take before it is killed and counts as failed
                         (default ${DEFAULT_RELOAD_TIMEOUT_SECONDS})
  --region <region>      AWS region; default from the environment (AWS_REGION, the AWS config)
  --version              the version of this command
  -h, --help             this text

Relative paths are taken from the current directory; the directories must exist.

What it does:
  - unchanged: the certificate in the --fullchain file has AWSCURRENT's serial and the key file
    belongs to it -> nothing is written, the reload is not run, one line
    "<secret>: unchanged (serial <serial>, ...)"; files of the layout that are missing are written
    again, without a reload; a key file that does not belong to the certificate is written again
    with the rest, and the reload runs.
  - changed (or no certificate on disk yet): every file is written atomically (a temporary file in
    the same directory, fsync, rename, fsync of the directory), so a reader sees the old file or
    the new one, never a mix; the fullchain comes last, and a rollback puts it back first. A new
    key file is created 0600 (never readable by others, not even while it is written), new
    certificate files 0644; a file being replaced keeps its mode, and its owner and group when the
    command may set them (run as root, e.g. root:ssl-cert 0640 stays so). Then the reload runs once.
  - refused, nothing written (exit status 1): a value that is not a certificate bundle, a key that
    does not belong to the certificate, a secret without AWSCURRENT; a symbolic link or anything
    but a regular file at a path to write; a directory to write in that its group or others may
    write (sticky or not), or that belongs to a user other than root and the one running the
    command; an AWSCURRENT certificate that has expired while the one on disk is still valid (an
    expired certificate is written only where nothing valid is, with a warning).
  Key material is never printed. The reload command's own output goes to this command's output.

Environment:
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS credentials ... the AWS SDK's usual settings.
  The reload command gets, besides this command's environment:
    ACME_ROTATION_SECRET_ID, ACME_ROTATION_SERIAL, ACME_ROTATION_PREVIOUS_SERIAL (empty on the
    first write), ACME_ROTATION_EXPIRY (ISO 8601), ACME_ROTATION_DOMAINS (space-separated),
    ACME_ROTATION_FULLCHAIN, ACME_ROTATION_KEY (the paths written).

IAM: secretsmanager:GetSecretValue on the secret (and kms:Decrypt for a customer-managed key).

Exit status: 0 written (and reloaded) or unchanged; 1 the secret could not be read or is not a
usable certificate bundle, a path was refused, or a file could not be written (the previous files
are kept); 2 usage error; 3 the reload failed (the previous files were put back; the message says
if that failed too).

Example (systemd timer or cron):
  ${COMMAND} --secret-id certs/web --dir /etc/ssl/acme --reload "nginx -t && systemctl reload nginx"
`;
