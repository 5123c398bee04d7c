/**
 * Typed errors. Every error the rotation raises is a RotationError (or a subclass) with a stable
 * `code` (ErrorCode), a `detail` that says what failed, optional hints that say what to do, and —
 * once the handler knows it — the secret and step it happened in. The operator's message is
 * formatted from those in one place (formatMessage) and is what `message` returns, so logs,
 * notices, events and the error Lambda reports all carry the same text. The underlying SDK/CA
 * error rides along as `cause`. Messages never carry key material.
 */
import { redact } from './log.js';

/**
 * Every `error_code` the function can report (failure notices, events, the `step failed` log).
 * docs/OPERATIONS.md's error-code table lists exactly these (tests/unit/error-codes.test.ts).
 */
export const ERROR_CODES = [
  'InvalidSpec',
  'InvalidConfig',
  'InvalidEvent',
  'InvalidRotationState',
  'UnexpectedCurrentValue',
  'BinarySecretValue',
  'NoHostedZone',
  'AmbiguousZone',
  'CnameLoop',
  'CnameChainTooLong',
  'UnsupportedRecord',
  'InvalidChallenge',
  'ChangeRejected',
  'ConcurrentModification',
  'NoNameservers',
  'PropagationTimeout',
  'DeadlineExceeded',
  'ChallengeFailed',
  'AuthorizationInvalid',
  'NoDnsChallenge',
  'OrderInvalid',
  'AcmeRateLimited',
  'AcmeRejectedIdentifier',
  'AcmeCaaForbids',
  'AcmeUnauthorized',
  'AcmeBadNonce',
  'AcmeAccountMissing',
  'AcmeExternalAccountRequired',
  'AcmeRequestFailed',
  'AcmeUnreachable',
  'AwsSecretsManagerError',
  'AwsRoute53Error',
  'Route53RoleUnusable',
  'AwsACMError',
  'AwsSTSError',
  'AcmTargetUnusable',
  'AcmImportFailed',
  'AcmKeyUsageConflict',
  'CleanUpFailed',
  'VerificationFailed',
  'CertificateLifetimePolicy',
  'InternalError',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The AWS services whose calls map to AwsServiceError (code `Aws<service>Error`). */
export type AwsService = 'SecretsManager' | 'Route53' | 'ACM' | 'STS';

/** Where a failure happened, as the handler knows it: which secret, which rotation step. */
export interface ErrorContext {
  /** The secret's name ('' when the event named none). */
  secretName: string;
  step: string;
}

export interface RotationErrorOptions {
  cause?: unknown;
  /** What to do about it (see RotationError.withHint). */
  hint?: string;
}

/**
 * The operator's message: `secret "<name>" <step>: <detail><hints>`.
 * A hint that begins with a capital letter is a sentence of its own and follows a full stop; any
 * other hint is a clause and follows a semicolon. A detail that a step began with its own
 * `secret "<name>": ` gets the step added there; without a secret name (an event with no
 * SecretId) the step alone is named; without a context (an error not yet through the handler,
 * or one quoted inside another's message) detail and hints alone.
 */
export function formatMessage(detail: string, hints: readonly string[], context?: ErrorContext): string {
  let text = detail;
  for (const hint of hints) text += (/^[A-Z]/.test(hint) ? '. ' : '; ') + hint;
  if (!context) return text;
  const { secretName, step } = context;
  const label = secretName ? `secret ${JSON.stringify(secretName)} ${step}` : step;
  if (text.startsWith(`${label}: `)) return text;
  const own = secretName ? `secret ${JSON.stringify(secretName)}: ` : undefined;
  return `${label}: ${own && text.startsWith(own) ? text.slice(own.length) : text}`;
}

export class RotationError extends Error {
  /** Stable machine-readable code, also written to logs and failure events. */
  public readonly code: ErrorCode;
  /** What failed, as it was raised (the message without context and hints). */
  public readonly detail: string;
  /** Which secret and step; set once, by the handler (see inContext). */
  public context: ErrorContext | undefined;
  private readonly hintList: string[] = [];

  constructor(code: ErrorCode, message: string, options?: RotationErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // Not new.target.name: the bundle is minified, and the name is what Lambda reports as errorType.
    this.name = 'RotationError';
    this.code = code;
    this.detail = message;
    if (options?.hint) this.hintList.push(options.hint);
    // `message` is computed, not rewritten: the context and hints arrive after construction, where
    // they are known, and every reader (the logger, the notice, Lambda's errorMessage, another
    // error quoting this one) sees the same formatted text. An accessor rather than a wrapper
    // error, because Lambda reports the thrown error's name as errorType and the operator's
    // alarms and the tests tell failures apart by it (SpecError, DnsError, …).
    Object.defineProperty(this, 'message', {
      get: (): string => formatMessage(this.detail, this.hintList, this.context),
      enumerable: false,
      configurable: true,
    });
  }

  /** Add what to do about it, where that is known (e.g. the step that knows the tag to fix). */
  withHint(hint: string): this {
    this.hintList.push(hint);
    return this;
  }

  /** What to do about it, in the order the hints were added. */
  get hints(): readonly string[] {
    return this.hintList;
  }
}

/**
 * The error the handler reports for a failure in `context`. A RotationError gets the context (the
 * first one it is reported in stays). Anything else is a fault no code anticipated (a bug, a
 * library error nothing mapped): it becomes an InternalError quoting it, with it as `cause`, and
 * keeps its name, so Lambda's errorType still says what it was (TypeError, …).
 */
export function inContext(err: unknown, context: ErrorContext): RotationError {
  let e: RotationError;
  if (err instanceof RotationError) e = err;
  else {
    e = new RotationError('InternalError', errorMessage(err), { cause: err });
    if (err instanceof Error) e.name = err.name;
  }
  e.context ??= context;
  return e;
}

/** The certificate spec (tags on the secret) is missing or invalid. Never retried usefully. */
export class SpecError extends RotationError {
  override name = 'SpecError';
  constructor(message: string, options?: RotationErrorOptions) {
    super('InvalidSpec', message, options);
  }
}

/** The function's environment is misconfigured. */
export class ConfigError extends RotationError {
  override name = 'ConfigError';
  constructor(message: string, options?: RotationErrorOptions) {
    super('InvalidConfig', message, options);
  }
}

/** Secrets Manager state does not allow this step (rotation disabled, unknown token, ...). */
export class RotationStateError extends RotationError {
  override name = 'RotationStateError';
  constructor(message: string, options?: RotationErrorOptions) {
    super('InvalidRotationState', message, options);
  }
}

/** A call to an AWS service failed; `service` and `operation` name it. */
export class AwsServiceError extends RotationError {
  override name = 'AwsServiceError';
  public readonly service: AwsService;
  public readonly operation: string;
  /** The SDK error name, e.g. ResourceNotFoundException, Throttling. */
  public readonly awsCode: string;

  constructor(
    service: AwsService,
    operation: string,
    awsCode: string,
    message: string,
    /** `lead`: what the adapter saw before AWS's answer (e.g. how long it waited out throttling), said first. */
    options?: RotationErrorOptions & { lead?: string },
  ) {
    const said = `${service} ${operation} failed (${awsCode}): ${message}`;
    super(`Aws${service}Error`, options?.lead ? `${options.lead}: ${said}` : said, options);
    this.service = service;
    this.operation = operation;
    this.awsCode = awsCode;
  }
}

/** DNS-01 problems: no zone for a name, propagation not seen in time, change batch rejected. */
export class DnsError extends RotationError {
  override name = 'DnsError';
  constructor(code: ErrorCode, message: string, options?: RotationErrorOptions) {
    super(code, message, options);
  }
}

/** The CA refused or failed (problem document detail included in the message). */
export class AcmeError extends RotationError {
  override name = 'AcmeError';
  /** The CA's problem type without the ACME prefix (e.g. `alreadyReplaced`), when it answered one. */
  public readonly problemType?: string;
  /** The HTTP status of the CA's answer, when it answered. */
  public readonly status?: number;
  constructor(
    code: ErrorCode,
    message: string,
    options?: RotationErrorOptions & { problem?: { type: string; status: number } },
  ) {
    super(code, message, options);
    if (options?.problem) {
      this.problemType = options.problem.type;
      this.status = options.problem.status;
    }
  }
}

/**
 * A secret version holds SecretBinary. The function reads and writes SecretString JSON only, and
 * never replaces a value it cannot read: it may be another application's.
 */
export class BinaryValueError extends RotationError {
  override name = 'BinaryValueError';
  constructor(
    public readonly versionId: string | undefined,
    public readonly bytes: number,
    stage?: string,
  ) {
    super(
      'BinarySecretValue',
      `version ${versionId ?? '?'}${stage ? ` (${stage})` : ''} holds a binary value (SecretBinary, ${bytes} bytes), ` +
        'not the SecretString JSON this function reads and writes; it was left as it is',
    );
  }
}

/** The pending certificate bundle failed verification in testSecret. */
export class VerificationError extends RotationError {
  override name = 'VerificationError';
  /** `code` other than VerificationFailed: a check that enforces the operator's policy, not correctness. */
  constructor(message: string, options?: RotationErrorOptions & { code?: ErrorCode }) {
    super(options?.code ?? 'VerificationFailed', message, options);
  }
}

/** Names of the certificate checks of testSecret, in the order they run. */
export type CheckName =
  | 'pem'
  | 'private-key'
  | 'key-match'
  | 'key-type'
  | 'san'
  | 'leaf-not-ca'
  | 'leaf-usage'
  | 'validity'
  | 'lifetime-policy'
  | 'chain'
  | 'trust-anchor'
  | 'fullchain'
  | 'domains'
  | 'fields'
  | 'handshake';

/** A VerificationError that names the failed check. */
export class VerificationCheckError extends VerificationError {
  public readonly check: CheckName;

  constructor(check: CheckName, detail: string, options?: RotationErrorOptions & { code?: ErrorCode }) {
    // redact() is a belt-and-braces guard: no message is built from key text.
    super(redact(`Certificate check "${check}" failed: ${detail}`), options);
    this.name = 'VerificationError';
    this.check = check;
  }
}

/** The current value (AWSCURRENT) is not ours to replace (another application's secret, garbage). */
export class CurrentValueError extends RotationError {
  override name = 'CurrentValueError';
  constructor(message: string, options?: RotationErrorOptions) {
    super('UnexpectedCurrentValue', message, options);
  }
}

/** Not enough of the Lambda's time is left to do the next wait safely. */
export class DeadlineError extends RotationError {
  override name = 'DeadlineError';
  constructor(message: string, options?: RotationErrorOptions) {
    super('DeadlineExceeded', message, options);
  }
}

/** Message of an unknown thrown value, for logs and events (never includes key material). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
