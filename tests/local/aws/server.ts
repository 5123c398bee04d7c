/**
 * The local AWS endpoint: one HTTP server on 127.0.0.1 speaking the real wire protocols of
 * Secrets Manager, EventBridge and ACM (JSON 1.1), SNS (awsQuery) and Route 53 (REST-XML), so the
 * real SDK v3 clients talk to it through `endpoint` / AWS_ENDPOINT_URL.
 *
 * ACM is regional behind the one endpoint: each ACM request works in the region of its SigV4
 * credential scope, which the SDK fills from its configured region.
 *
 * STS (awsQuery) shares the endpoint with SNS: a form body whose SigV4 credential scope names the
 * `sts` service (or, unsigned, whose Action is an STS operation) goes to STS.
 *
 * Accounts: every request is made by the caller its SigV4 access key identifies (sts.ts): the
 * `test` key (any long-term key) is the function's role in the default account; an `ASIA…` key
 * from AssumeRole is that role's session in the role's account, refused by every service once it
 * has expired. Route 53 is per account (zones, changes, throttling); the other services keep one
 * account, the default.
 *
 * Every request is recorded in `calls`, with its caller. Before an operation runs, the caller's
 * credentials are checked, Route 53 requests (per account) and ACM imports (per region) pass a
 * token bucket (when a rate is set), and then the injected faults apply (first match with hits
 * left wins).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { Route53Service } from './route53.js';
import { AcmService, signingRegion, type AcmLimits } from './acm.js';
import { EventsService } from './events.js';
import { LocalAwsError, SecretsManagerService } from './secretsmanager.js';
import { SnsService, snsErrorXml, type SnsInput } from './sns.js';
import { STS_OPERATIONS, StsService, callerErrorFor, signingService } from './sts.js';
import type {
  AwsFaultError,
  CallRecord,
  Fault,
  Principal,
  ServiceName,
  ServiceRequest,
  ServiceResponse,
} from './types.js';
import { FaultList } from '../faults.js';

export interface LocalAwsOptions {
  /** 0/undefined = ephemeral. Binds 127.0.0.1 only. */
  port?: number;
  /** How long a Route 53 change stays PENDING (default 0). */
  route53ChangeDelayMs?: number;
  /**
   * Token bucket (burst = rate) for Route 53 requests only, one per account (Route 53 throttles
   * each account on its own); excess requests get Throttling (HTTP 400, "Rate exceeded").
   * Undefined = unlimited.
   */
  route53RateLimitPerSecond?: number;
  /**
   * Token bucket (burst = rate) for ACM ImportCertificate, per region (ACM allows about one
   * import a second); excess imports get ThrottlingException ("Rate exceeded"). Undefined =
   * unlimited.
   */
  acmImportRateLimitPerSecond?: number;
  /** ACM quotas per region (defaults: 2,500 certificates, 5,000 imports per 365 days). */
  acmLimits?: Partial<AcmLimits>;
  /** The default account. Default '123456789012'. */
  accountId?: string;
  /**
   * The ARN of the endpoint's own caller (the `test` access key: the function's role). Default
   * `arn:aws:iam::<accountId>:role/acme-rotation`.
   */
  principalArn?: string;
  /** Default 'us-east-1'. */
  region?: string;
  /** Clock for the services and the bucket (epoch ms); default Date.now. */
  now?: () => number;
}

export interface LocalAws {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  accountId: string;
  region: string;
  /** Environment for a process using the SDK against this endpoint (endpoint, region, dummy keys). */
  env: Record<string, string>;
  secrets: SecretsManagerService;
  route53: Route53Service;
  sns: SnsService;
  events: EventsService;
  acm: AcmService;
  /** STS: roles (createRole), sessions, and the `maxSessionSeconds` hook shortening sessions. */
  sts: StsService;
  calls: CallRecord[];
  countCalls(service?: ServiceName, operation?: string): number;
  resetCalls(): void;
  /** Returns a function removing the fault. */
  addFault(fault: Fault): () => void;
  clearFaults(): void;
  /** Closes the server and destroys every open socket, hung ones included. */
  stop(): Promise<void>;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const ROUTE53_PREFIX = '/2013-04-01/';

/** A classified request: which service and operation, and the decoded input. */
interface Routed {
  service: ServiceName;
  operation: string;
  input: unknown;
  /** Set when the body could not be decoded; answered as this error. */
  decodeError?: AwsFaultError;
}

/** Token bucket: `rate` tokens per second, burst = rate. */
class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
  ) {
    this.tokens = rate;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const accountId = options.accountId ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? Date.now;

  const secrets = new SecretsManagerService({ accountId, region, now });
  const route53 = new Route53Service({ changeDelayMs: options.route53ChangeDelayMs ?? 0, now, accountId });
  const sts = new StsService({
    accountId,
    now,
    ...(options.principalArn !== undefined ? { principalArn: options.principalArn } : {}),
  });
  const sns = new SnsService({ accountId, region });
  const events = new EventsService({ accountId, region });
  const acm = new AcmService({ accountId, now, limits: options.acmLimits });

  const calls: CallRecord[] = [];
  const faults = new FaultList<Fault>();
  const route53Buckets = new Map<string, TokenBucket>();
  const acmImportBuckets = new Map<string, TokenBucket>();
  const sockets = new Set<Socket>();
  const hung = new Set<Socket>();

  function classify(req: ServiceRequest): Routed | undefined {
    if (req.path.startsWith(ROUTE53_PREFIX)) {
      return {
        service: 'route53',
        operation: route53.operationOf(req) ?? 'Unknown',
        input: route53Input(req),
      };
    }
    const target = header(req, 'x-amz-target');
    if (target !== undefined) {
      const dot = target.indexOf('.');
      const prefix = target.slice(0, dot);
      const operation = target.slice(dot + 1);
      const service: ServiceName | undefined =
        prefix === 'secretsmanager'
          ? 'secretsmanager'
          : prefix === 'AWSEvents'
            ? 'events'
            : prefix === 'CertificateManager'
              ? 'acm'
              : undefined;
      if (service === undefined || dot < 0) return undefined;
      try {
        const input: unknown = req.body === '' ? {} : JSON.parse(req.body);
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          throw new Error('not an object');
        }
        return { service, operation, input };
      } catch {
        return {
          service,
          operation,
          input: req.body,
          decodeError: { code: 'SerializationException', message: 'The request body is not a JSON object.' },
        };
      }
    }
    if (req.method === 'POST' && /(^|&)Action=/.test(req.body)) {
      const scope = signingService(header(req, 'authorization'));
      const params = StsService.decode(req.body);
      const action = params.get('Action') ?? '';
      if (scope === 'sts' || (scope === undefined && STS_OPERATIONS.has(action))) {
        return { service: 'sts', operation: action, input: Object.fromEntries(params) };
      }
      const input = SnsService.decode(req.body);
      return { service: 'sns', operation: String(input.Action), input };
    }
    return undefined;
  }

  function takeFault(routed: Routed, account: string): Fault | undefined {
    return faults.take(
      (f) =>
        f.service === routed.service &&
        f.operation === routed.operation &&
        (f.account === undefined || f.account === account) &&
        (!f.match || f.match(routed.input)),
    );
  }

  function errorResponse(service: ServiceName, err: AwsFaultError): ServiceResponse {
    const status = err.status ?? 400;
    switch (service) {
      case 'route53':
        return route53.errorResponse({ ...err, status });
      case 'sts':
        return sts.errorResponse({ ...err, status });
      case 'sns':
        return {
          status,
          headers: { 'content-type': 'text/xml' },
          body: snsErrorXml(err.code, err.message, status),
        };
      case 'secretsmanager':
      case 'events':
      case 'acm':
        return {
          status,
          headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-ErrorType': err.code },
          body: JSON.stringify({ __type: err.code, message: err.message }),
        };
    }
  }

  /** Run the operation; never throws. Sets `record.error` when the answer is an error. */
  function execute(routed: Routed, req: ServiceRequest, record: CallRecord, caller: Principal): ServiceResponse {
    let response: ServiceResponse;
    try {
      if (routed.decodeError) throw routed.decodeError;
      switch (routed.service) {
        case 'route53':
          response = route53.handle(req, caller);
          break;
        case 'sts':
          response = sts.handle(routed.operation, routed.input as Record<string, string>, caller);
          break;
        case 'sns':
          response = {
            status: 200,
            headers: { 'content-type': 'text/xml' },
            body: sns.handle(routed.operation, routed.input as SnsInput),
          };
          break;
        case 'acm': {
          // The region of the request's signature, read once when the call was recorded.
          const acmRegion = record.region;
          if (acmRegion === undefined) {
            throw new LocalAwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
          }
          const output = acm.handle(routed.operation, routed.input as Record<string, unknown>, acmRegion);
          response = {
            status: 200,
            headers: { 'content-type': JSON_CONTENT_TYPE },
            body: JSON.stringify(output),
          };
          break;
        }
        case 'secretsmanager':
        case 'events': {
          const service = routed.service === 'secretsmanager' ? secrets : events;
          const output = service.handle(routed.operation, routed.input as Record<string, unknown>);
          response = {
            status: 200,
            headers: { 'content-type': JSON_CONTENT_TYPE },
            body: JSON.stringify(output),
          };
          break;
        }
      }
    } catch (e) {
      const err: AwsFaultError =
        e instanceof LocalAwsError || isFaultError(e)
          ? e
          : {
              code: routed.service === 'secretsmanager' ? 'InternalServiceError' : 'InternalFailure',
              message: `local ${routed.service} failed: ${e instanceof Error ? e.message : String(e)}`,
              status: 500,
            };
      response = errorResponse(routed.service, err);
    }
    const code = errorCodeOf(response);
    if (code !== undefined) record.error = code;
    return response;
  }

  async function onRequest(httpReq: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(httpReq);
    const url = new URL(httpReq.url ?? '/', 'http://127.0.0.1');
    const req: ServiceRequest = {
      method: httpReq.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: httpReq.headers,
      body,
    };
    const routed = classify(req);
    if (!routed) {
      send(res, {
        status: 400,
        headers: { 'content-type': 'text/plain' },
        body: `local AWS endpoint: no service for ${req.method} ${req.path}`,
      });
      return;
    }
    const record: CallRecord = {
      service: routed.service,
      operation: routed.operation,
      at: now(),
      input: routed.input,
    };
    if (routed.service === 'acm') {
      const acmRegion = signingRegion(header(req, 'authorization'));
      if (acmRegion !== undefined) record.region = acmRegion;
    }
    calls.push(record);

    const caller = sts.callerOf(req.headers);
    if (caller.error) {
      const xml = routed.service === 'route53' || routed.service === 'sns' || routed.service === 'sts';
      const err = callerErrorFor(caller.error, xml ? 'xml' : 'json');
      record.error = err.code;
      send(res, errorResponse(routed.service, err));
      return;
    }
    const principal = caller.principal;
    record.principal = principal.arn;
    record.account = principal.account;

    if (routed.service === 'route53' && options.route53RateLimitPerSecond !== undefined) {
      let bucket = route53Buckets.get(principal.account);
      if (!bucket) {
        bucket = new TokenBucket(options.route53RateLimitPerSecond, now);
        route53Buckets.set(principal.account, bucket);
      }
      if (!bucket.take()) {
        record.error = 'Throttling';
        send(res, errorResponse('route53', { code: 'Throttling', message: 'Rate exceeded', status: 400 }));
        return;
      }
    }
    if (
      routed.service === 'acm' &&
      routed.operation === 'ImportCertificate' &&
      options.acmImportRateLimitPerSecond !== undefined
    ) {
      const key = record.region ?? '';
      let acmBucket = acmImportBuckets.get(key);
      if (!acmBucket) {
        acmBucket = new TokenBucket(options.acmImportRateLimitPerSecond, now);
        acmImportBuckets.set(key, acmBucket);
      }
      if (!acmBucket.take()) {
        record.error = 'ThrottlingException';
        send(res, errorResponse('acm', { code: 'ThrottlingException', message: 'Rate exceeded', status: 400 }));
        return;
      }
    }

    const fault = takeFault(routed, principal.account);
    if (fault) {
      switch (fault.action.type) {
        case 'error':
          fault.onHit?.();
          record.error = fault.action.error.code;
          send(res, errorResponse(routed.service, fault.action.error));
          return;
        case 'hang':
          fault.onHit?.();
          hang(httpReq.socket);
          return;
        case 'applyThenHang':
          execute(routed, req, record, principal);
          fault.onHit?.();
          hang(httpReq.socket);
          return;
        case 'applyThenError': {
          // The operation's own outcome (even its own error) is what the state reflects; the
          // caller only ever sees the injected error.
          execute(routed, req, record, principal);
          fault.onHit?.();
          record.error = fault.action.error.code;
          send(res, errorResponse(routed.service, fault.action.error));
          return;
        }
        case 'applyThenDrop':
          execute(routed, req, record, principal);
          fault.onHit?.();
          httpReq.socket.destroy();
          return;
      }
    }
    send(res, execute(routed, req, record, principal));
  }

  function hang(socket: Socket): void {
    if (socket.destroyed) return;
    hung.add(socket);
    socket.once('close', () => hung.delete(socket));
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        send(res, { status: 500, body: `local AWS endpoint error: ${String(e)}` });
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;

  let stopped: Promise<void> | undefined;
  return {
    url,
    accountId,
    region,
    env: {
      AWS_ENDPOINT_URL: url,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
    secrets,
    route53,
    sns,
    events,
    acm,
    sts,
    calls,
    countCalls(service?: ServiceName, operation?: string): number {
      return calls.filter(
        (c) =>
          (service === undefined || c.service === service) && (operation === undefined || c.operation === operation),
      ).length;
    },
    resetCalls(): void {
      calls.length = 0;
    },
    addFault: (fault: Fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    stop(): Promise<void> {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of hung) socket.destroy();
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

function header(req: ServiceRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The recorded input of a Route 53 call: method, path, query and the parsed XML body. */
function route53Input(req: ServiceRequest): unknown {
  const input: Record<string, unknown> = {
    method: req.method,
    path: req.path,
    query: Object.fromEntries(req.query),
  };
  if (req.body.trim() !== '') {
    try {
      input['body'] = xmlParser.parse(req.body) as unknown;
    } catch {
      input['body'] = req.body;
    }
  }
  return input;
}

/** A thrown AwsFaultError-shaped value (a plain object, or an Error carrying an HTTP status). */
function isFaultError(e: unknown): e is AwsFaultError {
  if (e instanceof Error && typeof (e as { status?: unknown }).status !== 'number') return false;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as AwsFaultError).code === 'string' &&
    typeof (e as AwsFaultError).message === 'string'
  );
}

/** The AWS error code of an error response (JSON header/body or XML <Code>), if any. */
function errorCodeOf(response: ServiceResponse): string | undefined {
  if (response.status < 300) return undefined;
  const headerCode = response.headers?.['x-amzn-ErrorType'];
  if (headerCode !== undefined) return headerCode.split(':')[0];
  const xml = /<Code>([^<]*)<\/Code>/.exec(response.body);
  if (xml) return xml[1];
  try {
    const parsed = JSON.parse(response.body) as { __type?: unknown };
    if (typeof parsed.__type === 'string') return parsed.__type;
  } catch {
    // not JSON
  }
  return `HTTP${response.status}`;
}

function send(res: ServerResponse, response: ServiceResponse): void {
  const headers: Record<string, string> = {
    'x-amzn-RequestId': randomUUID(),
    ...response.headers,
    'content-length': String(Buffer.byteLength(response.body)),
  };
  res.writeHead(response.status, headers);
  res.end(response.body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
