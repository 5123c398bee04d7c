/**
 * Shared helpers of the end-to-end tests: one local stack per test file (real Pebble, the local
 * AWS endpoint, the built Lambda bundle in a child process), unique names, and readers for the
 * outcomes the tests assert — secret versions, certificate contents, Route 53 change batches,
 * SNS notices and EventBridge events.
 */
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { expect } from 'vitest';

import type { CallRecord } from '../local/aws/types.js';
import type { LocalLambda } from '../local/lambda.js';
import type { Tag } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_BUNDLE_PATH, startLocalStack, type CertificateSpecInput, type LocalStack } from '../local/stack.js';
import { PKCS8_KEY_START } from '../helpers/pem-markers.js';

// Local Node is 20; the function deploys on nodejs22.x. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** How long Route 53 changes stay PENDING in the e2e stacks: small, but not zero. */
export const ROUTE53_CHANGE_DELAY_MS = 200;
export const TOPIC_NAME = 'acme-rotation-e2e';
export const BUS_NAME = 'acme-rotation-e2e';
export const FUNCTION_NAME = 'acme-rotation';

export interface E2eStack {
  stack: LocalStack;
  topicArn: string;
  busName: string;
  /** Function environment with NOTIFICATION_TOPIC_ARN and EVENT_BUS_NAME (plus `env`). */
  notifyingLambda(env?: Record<string, string>): LocalLambda;
}

/** Starts the local stack with an SNS topic and an EventBridge bus for the notices. */
export async function startE2eStack(): Promise<E2eStack> {
  if (!existsSync(DEFAULT_BUNDLE_PATH)) {
    throw new Error(`${DEFAULT_BUNDLE_PATH} is missing: run \`npm run build\` first (npm run test:e2e does).`);
  }
  const stack = await startLocalStack({ route53ChangeDelayMs: ROUTE53_CHANGE_DELAY_MS });
  try {
    const topicArn = stack.aws.sns.createTopic(TOPIC_NAME);
    stack.aws.events.createEventBus(BUS_NAME);
    return {
      stack,
      topicArn,
      busName: BUS_NAME,
      notifyingLambda: (env = {}) =>
        stack.newLambda(
          { NOTIFICATION_TOPIC_ARN: topicArn, EVENT_BUS_NAME: BUS_NAME, ...env },
          { functionName: FUNCTION_NAME },
        ),
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

const RUN_ID = randomBytes(3).toString('hex');
let counter = 0;

/** A DNS label unique to this run and call, e.g. `apex-1a2b3c-4`. */
export function uniqueLabel(prefix: string): string {
  return `${prefix}-${RUN_ID}-${++counter}`;
}

/** A zone name unique to this run and call, e.g. `apex-1a2b3c-4.test`. */
export function uniqueZoneName(prefix: string): string {
  return `${uniqueLabel(prefix)}.test`;
}

/** A secret name unique to this run and call, e.g. `e2e/first-1a2b3c-5`. */
export function uniqueSecretName(prefix: string): string {
  return `e2e/${uniqueLabel(prefix)}`;
}

/**
 * A new hosted zone and a certificate secret for `<zone>` and `*.<zone>` in it, with `{}` as the
 * placeholder value; `spec` and `opts` add to what createCertificateSecret gets.
 */
export async function zoneCertificate(
  stack: LocalStack,
  prefix: string,
  spec: Omit<CertificateSpecInput, 'domains'> = {},
  opts: { extraTags?: Tag[] } = {},
) {
  const zoneName = uniqueZoneName(prefix);
  const zone = stack.aws.route53.createZone(zoneName);
  const domains = [zoneName, `*.${zoneName}`];
  const secret = await stack.createCertificateSecret(
    uniqueSecretName(prefix),
    { domains, ...spec },
    { placeholder: '{}', ...opts },
  );
  return { ...secret, domains, zoneName, zoneId: zone.id };
}

// ---------------------------------------------------------------- secret values

export interface StoredBundle {
  certificate: string;
  private_key: string;
  chain: string;
  fullchain: string;
  expiry: string;
  issued_at: string;
  domains: string[];
  serial: string;
  issuer: string;
  key_type: string;
  [field: string]: unknown;
}

export interface ParsedBundle {
  bundle: StoredBundle;
  cert: X509Certificate;
  /** The leaf's DNS SANs, in certificate order. */
  sans: string[];
  key: KeyObject;
  /** The key type, in the spec's vocabulary, of the private key. */
  keyType: string;
}

/** The key type of a key in the spec's vocabulary (ecdsa-p256, rsa-2048, …). */
export function keyTypeOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curves: Record<string, string> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384' };
    return curves[details.namedCurve ?? ''] ?? `ec-${details.namedCurve}`;
  }
  if (key.asymmetricKeyType === 'rsa') return `rsa-${details.modulusLength}`;
  return String(key.asymmetricKeyType);
}

export function dnsSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
}

/** Parses a secret value as a certificate bundle; fails the test when it is not one. */
export function parseStoredBundle(value: string | undefined): ParsedBundle {
  expect(value, 'secret value').toBeTypeOf('string');
  const bundle = JSON.parse(value as string) as StoredBundle;
  for (const field of ['certificate', 'private_key', 'chain', 'fullchain', 'expiry', 'issued_at', 'serial'] as const) {
    expect(bundle[field], `bundle field ${field}`).toBeTypeOf('string');
  }
  expect(bundle.private_key).toMatch(PKCS8_KEY_START); // PKCS#8
  const cert = new X509Certificate(bundle.certificate);
  const key = createPrivateKey(bundle.private_key);
  return { bundle, cert, sans: dnsSans(cert), key, keyType: keyTypeOf(key) };
}

/** Checks a bundle against its certificate: the facts the secret promises consumers. */
export function expectConsistentBundle(parsed: ParsedBundle, domains: string[], keyType: string): void {
  const { bundle, cert, key } = parsed;
  expect([...parsed.sans].sort()).toEqual([...domains].sort());
  expect(bundle.domains).toEqual(domains);
  expect(parsed.keyType).toBe(keyType);
  expect(keyTypeOf(cert.publicKey)).toBe(keyType);
  expect(bundle.key_type).toBe(keyType);
  expect(cert.checkPrivateKey(key), 'private_key belongs to the certificate').toBe(true);
  expect(bundle.serial).toBe(cert.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, ''));
  expect(bundle.expiry).toBe(new Date(cert.validTo).toISOString());
  expect(Number.isNaN(Date.parse(bundle.issued_at))).toBe(false);
  expect(bundle.fullchain).toBe(bundle.certificate + bundle.chain);
  // Issued by Pebble's intermediate: the chain's first certificate signed the leaf.
  const intermediate = new X509Certificate(bundle.chain);
  expect(cert.checkIssued(intermediate)).toBe(true);
  expect(cert.verify(intermediate.publicKey)).toBe(true);
  expect(intermediate.subject).toMatch(/Pebble Intermediate CA/);
  expect(bundle.issuer).toMatch(/Pebble Intermediate CA/);
}

/** The version ids holding a label (normally exactly one). */
export function versionsWith(stages: Record<string, string[]>, label: string): string[] {
  return Object.entries(stages)
    .filter(([, labels]) => labels.includes(label))
    .map(([id]) => id);
}

// ---------------------------------------------------------------- Route 53

export interface ChangeBatch {
  zoneId: string;
  actions: string[];
  names: string[];
  /** TXT values (unquoted) of every change in the batch. */
  values: string[];
  error?: string;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface XmlRecordSet {
  Name?: string;
  ResourceRecords?: { ResourceRecord?: { Value?: string } | { Value?: string }[] };
}

/** The ChangeResourceRecordSets calls the endpoint recorded for a zone (all zones when unset), in order. */
export function changeBatches(calls: CallRecord[], zoneId?: string): ChangeBatch[] {
  const out: ChangeBatch[] = [];
  for (const call of calls) {
    if (call.service !== 'route53' || call.operation !== 'ChangeResourceRecordSets') continue;
    const input = call.input as { path: string; body?: unknown };
    const id = /\/hostedzone\/([^/]+)\//.exec(input.path)?.[1] ?? '';
    if (zoneId !== undefined && id !== zoneId) continue;
    const body = input.body as {
      ChangeResourceRecordSetsRequest?: {
        ChangeBatch?: { Changes?: { Change?: unknown } };
      };
    };
    const changes = asArray(body.ChangeResourceRecordSetsRequest?.ChangeBatch?.Changes?.Change) as {
      Action?: string;
      ResourceRecordSet?: XmlRecordSet;
    }[];
    out.push({
      zoneId: id,
      actions: changes.map((c) => String(c.Action)),
      names: changes.map((c) => String(c.ResourceRecordSet?.Name).replace(/\.$/, '')),
      values: changes.flatMap((c) =>
        asArray(c.ResourceRecordSet?.ResourceRecords?.ResourceRecord).map((r) => String(r.Value).replace(/^"|"$/g, '')),
      ),
      ...(call.error !== undefined ? { error: call.error } : {}),
    });
  }
  return out;
}

/** Every TXT record set in a zone's API view. */
export function txtRecordsIn(stack: LocalStack, zoneId: string): { name: string; values: string[] }[] {
  const zone = stack.aws.route53.zone(zoneId);
  if (!zone) throw new Error(`no zone ${zoneId}`);
  return zone.records.filter((r) => r.type === 'TXT').map((r) => ({ name: r.name, values: [...r.values] }));
}

/** Calls made since `from` (an index into `calls`), by "service:operation". */
export function callsSince(calls: CallRecord[], from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls.slice(from)) {
    const key = `${c.service}:${c.operation}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------- notices

export interface Notice {
  status: string;
  domains: string[];
  secret_name: string;
  [field: string]: unknown;
}

export interface Notices {
  sns: { subject: string | undefined; message: Notice; raw: string }[];
  events: { detailType: string; source: string; busName: string; resources: string[]; detail: Notice; raw: string }[];
}

/** SNS messages and EventBridge events about one secret (by name), in order. */
export function noticesFor(stack: LocalStack, secretName: string): Notices {
  const sns = stack.aws.sns.messages
    .map((m) => ({ subject: m.Subject, message: JSON.parse(m.Message) as Notice, raw: m.Message }))
    .filter((m) => m.message.secret_name === secretName);
  const events = stack.aws.events.entries
    .map((e) => ({
      detailType: e.DetailType,
      source: e.Source,
      busName: e.EventBusName,
      resources: e.Resources ?? [],
      detail: JSON.parse(e.Detail) as Notice,
      raw: e.Detail,
    }))
    .filter((e) => e.detail.secret_name === secretName);
  return { sns, events };
}

/** Nothing that carries key material: SNS messages, EventBridge events, the functions' logs. */
export function expectNoKeyMaterial(stack: LocalStack, lambdas: LocalLambda[]): void {
  const texts = [
    ...stack.aws.sns.messages.flatMap((m) => [m.Message, m.Subject ?? '']),
    ...stack.aws.events.entries.map((e) => e.Detail),
    ...lambdas.flatMap((l) => l.logs),
  ];
  expect(texts.length).toBeGreaterThan(0);
  const leaks = texts.filter((t) => t.includes('PRIVATE KEY'));
  expect(leaks).toEqual([]);
}

// ---------------------------------------------------------------- a gate in front of the endpoint

export interface GateProxy {
  /** Use as the function's AWS_ENDPOINT_URL. */
  url: string;
  /** How many requests the gate held back so far. */
  held: number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of the local AWS endpoint that holds back the JSON-protocol requests
 * matching `hold` until `count` of them have arrived (or `maxWaitMs` passed), then forwards them
 * all at once and lets everything through from then on — so that several functions reach the
 * same point before any of them goes on.
 */
export async function startGateProxy(opts: {
  target: string;
  hold: (target: string, input: Record<string, unknown>) => boolean;
  count: number;
  maxWaitMs: number;
}): Promise<GateProxy> {
  const waiting: (() => void)[] = [];
  const sockets = new Set<Socket>();
  let timer: NodeJS.Timeout | undefined;
  let heldCount = 0;
  let open = false;
  const releaseAll = () => {
    clearTimeout(timer);
    open = true;
    for (const release of waiting.splice(0)) release();
  };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const upstream = httpRequest(
      new URL(req.url ?? '/', opts.target),
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = req.headers['x-amz-target'];
      let input: Record<string, unknown> = {};
      try {
        input =
          typeof target === 'string' ? (JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>) : {};
      } catch {
        input = {};
      }
      if (!open && typeof target === 'string' && opts.hold(target, input)) {
        heldCount++;
        waiting.push(() => forward(req, body, res));
        if (waiting.length >= opts.count) releaseAll();
        else timer ??= setTimeout(releaseAll, opts.maxWaitMs);
        return;
      }
      forward(req, body, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    get held() {
      return heldCount;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        releaseAll();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
