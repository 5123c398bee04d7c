/**
 * The wire formats the local services share: AWS JSON 1.1 (Secrets Manager, EventBridge, ACM:
 * `X-Amz-Target: <prefix>.<Operation>`, a JSON body, errors as `{__type, message}` with the
 * `x-amzn-ErrorType` header) and the XML `ErrorResponse` of the Query and REST-XML services
 * (STS, SNS, Route 53), each under its own namespace.
 */
import { randomUUID } from 'node:crypto';
import { LocalServiceError } from './errors.js';
import type { AwsFaultError, Call, LocalService, Principal, ServiceRequest, ServiceResponse } from './types.js';

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** A request header (names are lower case in a ServiceRequest). */
export function headerOf(request: Pick<ServiceRequest, 'headers'>, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A request in the Query protocol (STS, SNS): a POST whose form body names an Action. */
export function isQueryRequest(request: ServiceRequest): boolean {
  return (
    request.method === 'POST' && headerOf(request, 'x-amz-target') === undefined && /(^|&)Action=/.test(request.body)
  );
}

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` in `xmlns`. */
export function xmlErrorResponse(xmlns: string, err: AwsFaultError): ServiceResponse {
  const status = err.status ?? 400;
  const requestId = randomUUID();
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-RequestId': requestId },
    body:
      `<ErrorResponse xmlns="${xmlns}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
      `<Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

/** A JSON 1.1 error: the code in `__type` and in the `x-amzn-ErrorType` header. */
export function jsonErrorResponse(err: AwsFaultError): ServiceResponse {
  return {
    status: err.status ?? 400,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-ErrorType': err.code },
    body: JSON.stringify({ __type: err.code, message: err.message }),
  };
}

/**
 * A JSON 1.1 service: routed by its `X-Amz-Target` prefix, its input the body's JSON object (any
 * other body is recorded as sent and answered SerializationException), its output `run`'s value.
 */
export abstract class JsonService implements LocalService {
  abstract readonly name: LocalService['name'];
  readonly protocol = 'json';
  readonly internalErrorCode: string = 'InternalFailure';
  /** The `X-Amz-Target` prefix before `.<Operation>`. */
  protected abstract readonly targetPrefix: string;

  /** The operation's output object; throws LocalServiceError for what the service refuses. */
  protected abstract run(call: Call, caller: Principal | undefined): unknown;

  route(request: ServiceRequest): Call | undefined {
    const target = headerOf(request, 'x-amz-target');
    if (target === undefined || !target.startsWith(`${this.targetPrefix}.`)) return undefined;
    const operation = target.slice(this.targetPrefix.length + 1);
    const input = decodeJsonObject(request.body);
    if (input === undefined) {
      return {
        operation,
        input: request.body,
        request,
        decodeError: new LocalServiceError('SerializationException', 'The request body is not a JSON object.'),
      };
    }
    return { operation, input, request };
  }

  serve(call: Call, caller: Principal | undefined): ServiceResponse {
    const output = this.run(call, caller);
    return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify(output) };
  }

  error(err: AwsFaultError): ServiceResponse {
    return jsonErrorResponse(err);
  }
}

function decodeJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const input: unknown = body === '' ? {} : JSON.parse(body);
    return typeof input === 'object' && input !== null && !Array.isArray(input)
      ? (input as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
