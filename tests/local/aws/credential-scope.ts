/**
 * The SigV4 credential of a request, read in one place: who signs (the access key, which names the
 * caller), and the scope's region (where a regional service such as ACM works) and service (which
 * tells STS apart from SNS, both Query-protocol services on the one endpoint).
 *
 * The SDK signs with an Authorization header
 * (`AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request, …`); a presigned
 * URL carries the same credential in its `X-Amz-Credential` query parameter.
 */
import type { ServiceRequest } from './types.js';

export interface CredentialScope {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
}

const SCOPE = /^([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request$/;
const AUTHORIZATION_CREDENTIAL = /Credential=([^,\s]+)/;

/** The request's SigV4 credential scope; undefined when it is unsigned or the scope is malformed. */
export function credentialScope(request: Pick<ServiceRequest, 'headers' | 'query'>): CredentialScope | undefined {
  const authorization = request.headers['authorization'];
  const credential =
    AUTHORIZATION_CREDENTIAL.exec(
      Array.isArray(authorization) ? (authorization[0] ?? '') : (authorization ?? ''),
    )?.[1] ??
    request.query.get('X-Amz-Credential') ??
    undefined;
  const m = credential === undefined ? null : SCOPE.exec(credential);
  if (!m) return undefined;
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]! };
}
