/**
 * The local AWS services in process: an SDK v3 `requestHandler` that hands each serialized request
 * straight to the dispatcher (dispatcher.ts), as the HTTP server does (no socket, no server), so
 * unit tests get the same services as the end-to-end tests, through the SDK's own serializers and
 * error deserializers. Only the given services answer. With `sts`,
 * every request is made by the caller its access key identifies (an assumed role's session acts
 * in the role's account), as through the server. Injected faults apply as through the server,
 * those that answer (error, applyThenError); no calls are recorded and no rate limits apply.
 */
import type { HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import type { AcmService } from './acm.js';
import type { FaultList } from '../faults.js';
import { Dispatcher } from './dispatcher.js';
import type { EventsService } from './events.js';
import type { Route53Service } from './route53.js';
import type { SecretsManagerService } from './secretsmanager.js';
import type { SnsService } from './sns.js';
import type { StsService } from './sts.js';
import type { Fault, ServiceRequest } from './types.js';

export interface InProcessServices {
  secretsmanager?: SecretsManagerService;
  route53?: Route53Service;
  acm?: AcmService;
  sts?: StsService;
  sns?: SnsService;
  events?: EventsService;
}

/** A request handler for an SDK client's `requestHandler` that answers from the given models. */
export function inProcessHandler(
  services: InProcessServices,
  options: { faults?: FaultList<Fault> } = {},
): RequestHandler<HttpRequest, HttpResponse> {
  const dispatcher = new Dispatcher({
    services,
    ...(services.sts ? { callers: services.sts } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
  });
  return {
    handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
      const req = serviceRequest(request);
      const outcome = dispatcher.dispatch(req);
      if (!outcome) return Promise.reject(new Error(`in-process AWS: no service for ${req.method} ${req.path}`));
      switch (outcome.type) {
        case 'answer': {
          const { status, headers = {}, body } = outcome.response;
          const response: HttpResponse = {
            statusCode: status,
            headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
            body: Buffer.from(body, 'utf8'),
          };
          return Promise.resolve({ response });
        }
        case 'hang':
        case 'drop':
          // There is no connection to hold open or cut: such faults want the server.
          return Promise.reject(
            new Error(`in-process AWS: a ${outcome.type} fault needs a connection; use startLocalAws`),
          );
      }
    },
  };
}

/** The SDK's request as the services read it: header names in lower case, the body as text. */
function serviceRequest(request: HttpRequest): ServiceRequest {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v === null || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) query.append(k, one);
  }
  return {
    method: request.method,
    path: request.path,
    query,
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: bodyText(request.body),
  };
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  // Decoded as bytes: the SDK's JSON body is a Uint8Array whose string methods (and valueOf,
  // which Buffer.from calls) warn that they are deprecated.
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  throw new Error(`in-process AWS: unsupported request body ${typeof body}`);
}
