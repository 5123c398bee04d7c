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
 * Every request goes through the dispatcher (dispatcher.ts), which records it in `calls` with its
 * caller, checks the caller's credentials, passes Route 53 requests (per account) and ACM imports
 * (per region) through a token bucket (when a rate is set), then applies the injected faults
 * (first match with hits left wins). This file only carries HTTP to it and back: the body in, the
 * answer out, a socket held open (hang) or destroyed (drop) when a fault says so.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { FaultList } from '../faults.js';
import { AcmService, type AcmLimits } from './acm.js';
import { Dispatcher, type RateLimit } from './dispatcher.js';
import { EventsService } from './events.js';
import { Route53Service } from './route53.js';
import { SecretsManagerService } from './secretsmanager.js';
import { SnsService } from './sns.js';
import { StsService } from './sts.js';
import type { CallRecord, Fault, ServiceName, ServiceRequest, ServiceResponse } from './types.js';

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
  const rateLimits: RateLimit[] = [];
  if (options.route53RateLimitPerSecond !== undefined) {
    rateLimits.push({
      service: 'route53',
      perSecond: options.route53RateLimitPerSecond,
      bucketOf: (_call, caller) => caller?.account ?? accountId,
      error: { code: 'Throttling', message: 'Rate exceeded', status: 400 },
    });
  }
  if (options.acmImportRateLimitPerSecond !== undefined) {
    rateLimits.push({
      service: 'acm',
      operation: 'ImportCertificate',
      perSecond: options.acmImportRateLimitPerSecond,
      bucketOf: (call) => call.region ?? '',
      error: { code: 'ThrottlingException', message: 'Rate exceeded', status: 400 },
    });
  }
  const dispatcher = new Dispatcher({
    services: { secretsmanager: secrets, route53, sns, events, acm, sts },
    callers: sts,
    faults,
    rateLimits,
    calls,
    now,
  });
  const sockets = new Set<Socket>();
  const hung = new Set<Socket>();

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
    const outcome = dispatcher.dispatch(req);
    if (!outcome) {
      send(res, {
        status: 400,
        headers: { 'content-type': 'text/plain' },
        body: `local AWS endpoint: no service for ${req.method} ${req.path}`,
      });
      return;
    }
    switch (outcome.type) {
      case 'answer':
        send(res, outcome.response);
        return;
      case 'hang':
        hang(httpReq.socket);
        return;
      case 'drop':
        httpReq.socket.destroy();
        return;
    }
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
