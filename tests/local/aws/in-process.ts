/**
 * The local AWS services in process: an SDK v3 `requestHandler` that hands each serialized request
 * straight to the service models (no socket, no server), so unit tests get the same Secrets
 * Manager, Route 53 and ACM as the end-to-end tests, through the SDK's own serializers and error
 * deserializers. Wire handling follows server.ts: JSON 1.1 by `X-Amz-Target`, Route 53 by path,
 * ACM's region from the request's SigV4 credential scope. With `sts`, STS answers Query-protocol
 * requests and Route 53 requests are made by the caller their access key identifies (an assumed
 * role's session acts in the role's account), as through the server.
 */
import type { HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import type { Route53Service } from './route53.js';
import { signingRegion, type AcmService } from './acm.js';
import { LocalAwsError, type SecretsManagerService } from './secretsmanager.js';
import { StsService, callerErrorFor } from './sts.js';
import type { ServiceResponse } from './types.js';

export interface InProcessServices {
  secretsmanager?: SecretsManagerService;
  route53?: Route53Service;
  acm?: AcmService;
  sts?: StsService;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  throw new Error(`in-process AWS: unsupported request body ${typeof body}`);
}

function header(request: HttpRequest, name: string): string | undefined {
  const key = Object.keys(request.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : request.headers[key];
}

function query(request: HttpRequest): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v === null || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
  }
  return out;
}

function jsonError(code: string, message: string, status: number): ServiceResponse {
  return {
    status,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-errortype': code },
    body: JSON.stringify({ __type: code, message }),
  };
}

/** A JSON 1.1 service: decode the body, run the model, render its output or error. */
function jsonService(
  name: string,
  internalErrorCode: string,
  body: string,
  run: (input: Record<string, unknown>) => unknown,
): ServiceResponse {
  try {
    const input: unknown = body === '' ? {} : JSON.parse(body);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return jsonError('SerializationException', 'The request body is not a JSON object.', 400);
    }
    const output = run(input as Record<string, unknown>);
    return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify(output) };
  } catch (e) {
    if (e instanceof LocalAwsError) return jsonError(e.code, e.message, e.status);
    // As the server answers a model bug: the service's 500, which the test then sees.
    return jsonError(internalErrorCode, `local ${name} failed: ${(e as Error)?.message ?? e}`, 500);
  }
}

function secretsManager(service: SecretsManagerService, operation: string, body: string): ServiceResponse {
  return jsonService('secretsmanager', 'InternalServiceError', body, (input) => service.handle(operation, input));
}

function acm(service: AcmService, operation: string, body: string, authorization: string | undefined): ServiceResponse {
  const region = signingRegion(authorization);
  if (region === undefined)
    return jsonError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400);
  return jsonService('acm', 'InternalFailure', body, (input) => service.handle(operation, input, region));
}

function sts(service: StsService, body: string, headers: Record<string, string>): ServiceResponse {
  const caller = service.callerOf(headers);
  if (caller.error) return service.errorResponse(callerErrorFor(caller.error, 'xml'));
  const params = Object.fromEntries(StsService.decode(body));
  return service.handle(params['Action'] ?? '', params, caller.principal);
}

/** A request handler for an SDK client's `requestHandler` that answers from the given models. */
export function inProcessHandler(services: InProcessServices): RequestHandler<HttpRequest, HttpResponse> {
  return {
    handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
      const body = bodyText(request.body);
      let answer: ServiceResponse;
      const target = header(request, 'x-amz-target');
      if (target?.startsWith('secretsmanager.') && services.secretsmanager) {
        answer = secretsManager(services.secretsmanager, target.slice('secretsmanager.'.length), body);
      } else if (target?.startsWith('CertificateManager.') && services.acm) {
        answer = acm(services.acm, target.slice('CertificateManager.'.length), body, header(request, 'authorization'));
      } else if (request.path.startsWith('/2013-04-01/') && services.route53) {
        const route53 = services.route53;
        const caller = services.sts?.callerOf(request.headers);
        answer = caller?.error
          ? route53.errorResponse(callerErrorFor(caller.error, 'xml'))
          : route53.handle(
              {
                method: request.method,
                path: request.path,
                query: query(request),
                headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
                body,
              },
              caller?.principal,
            );
      } else if (services.sts && request.method === 'POST' && /(^|&)Action=/.test(body)) {
        answer = sts(services.sts, body, request.headers);
      } else {
        return Promise.reject(new Error(`in-process AWS: no service for ${request.method} ${request.path}`));
      }
      const response: HttpResponse = {
        statusCode: answer.status,
        headers: Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        body: Buffer.from(answer.body, 'utf8'),
      };
      return Promise.resolve({ response });
    },
  };
}
