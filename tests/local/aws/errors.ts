/**
 * The one error the local services throw for what AWS would refuse. Every service renders it in
 * its own protocol (`LocalService.error`): `code` is the name the SDK surfaces as `err.name`.
 */
import type { AwsFaultError, Call, LocalService, Principal, ServiceResponse } from './types.js';

export class LocalServiceError extends Error implements AwsFaultError {
  readonly code: string;
  /** HTTP status of the answer. */
  readonly status: number;

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = code;
    this.code = code;
    this.status = status;
  }
}

/**
 * The error a service answers for something its model threw: an LocalServiceError as it is;
 * anything else is a bug in the model, answered as the service's 500 so the test sees it.
 */
function serviceErrorOf(e: unknown, service: string, internalErrorCode: string): AwsFaultError {
  if (e instanceof LocalServiceError) return e;
  return new LocalServiceError(
    internalErrorCode,
    `local ${service} failed: ${e instanceof Error ? e.message : String(e)}`,
    500,
  );
}

/** A service's answer to a call: its output, or whatever it threw rendered in its protocol. */
export function answerCall(service: LocalService, call: Call, caller: Principal | undefined): ServiceResponse {
  try {
    return service.serve(call, caller);
  } catch (e) {
    return service.error(serviceErrorOf(e, service.name, service.internalErrorCode));
  }
}
