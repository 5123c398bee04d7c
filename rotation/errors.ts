/**
 * Typed errors. Every error the rotation raises is a RotationError (or a subclass) whose message
 * says what failed and what to fix; the underlying SDK/CA error rides along as `cause`.
 * Messages never carry key material.
 */
export class RotationError extends Error {
  /** Stable machine-readable code, also written to logs and failure events. */
  public readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Not new.target.name: the bundle is minified, and the name is what Lambda reports as errorType.
    this.name = 'RotationError';
    this.code = code;
  }
}

/** The certificate spec (tags on the secret) is missing or invalid. Never retried usefully. */
export class SpecError extends RotationError {
  override name = 'SpecError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidSpec', message, options);
  }
}

/** The function's environment is misconfigured. */
export class ConfigError extends RotationError {
  override name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidConfig', message, options);
  }
}

/** Secrets Manager state does not allow this step (rotation disabled, unknown token, ...). */
export class RotationStateError extends RotationError {
  override name = 'RotationStateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidRotationState', message, options);
  }
}

/** A call to an AWS service failed; `service` and `operation` name it. */
export class AwsServiceError extends RotationError {
  override name = 'AwsServiceError';
  public readonly service: string;
  public readonly operation: string;
  /** The SDK error name, e.g. ResourceNotFoundException, Throttling. */
  public readonly awsCode: string;

  constructor(service: string, operation: string, awsCode: string, message: string, options?: { cause?: unknown }) {
    super(`Aws${service}Error`, `${service} ${operation} failed (${awsCode}): ${message}`, options);
    this.service = service;
    this.operation = operation;
    this.awsCode = awsCode;
  }
}

/** DNS-01 problems: no zone for a name, propagation not seen in time, change batch rejected. */
export class DnsError extends RotationError {
  override name = 'DnsError';
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
    code: string,
    message: string,
    options?: { cause?: unknown; problem?: { type: string; status: number } },
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
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'VerificationFailed', message, options);
  }
}

/** Not enough of the Lambda's time is left to do the next wait safely. */
export class DeadlineError extends RotationError {
  override name = 'DeadlineError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DeadlineExceeded', message, options);
  }
}

/** Name of an unknown thrown value, for logs. */
export function errorName(err: unknown): string {
  if (err instanceof RotationError) return err.code;
  if (err instanceof Error) return err.name;
  return typeof err;
}

/** Message of an unknown thrown value, for logs and events (never includes key material). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * An SDK error's message, readable: a request that got no answer within the request timeout says
 * so and names the setting, instead of the HTTP handler's log text.
 */
export function sdkErrorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || /exceeded the configured \d+ ms requestTimeout/.test(err.message)) {
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return `no answer within the request timeout (API_TIMEOUT_SECONDS)${attempts ? ` in ${attempts} attempt(s)` : ''}`;
  }
  return err.message;
}
