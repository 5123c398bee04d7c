/**
 * The deployment's waiter, run by the renewal watch function when the stack invokes it with
 * `{"acmeRotationAwait": {"secretIds": [...], "timeoutSeconds": N}}` (an aws.lambda.Invocation,
 * infra/watch.ts): it returns once every secret's AWSCURRENT holds a
 * certificate bundle and every ACM certificate named in its `acme:acm-certificate-arns` tags holds
 * that certificate's serial — the moment the stack's ACM ARNs may be handed to a listener or a
 * distribution, as aws.acm.CertificateValidation hands out an ACM-issued one.
 *
 * It only reads, except for an ARN that lags behind AWSCURRENT (added to a stack whose certificate
 * already exists, or one whose delivery failed): when the deployment gives it a `reconcile`
 * port it re-imports AWSCURRENT there at once, paced, instead of waiting for the watch's next run.
 *
 * Bounded by the request's timeout and the invocation's remaining time, whichever ends first. It
 * fails at once when waiting cannot help (rotation not enabled, a value the rotation never
 * replaces, tags the rotation rejects), and on timeout with what it last saw of each secret: the
 * rotation's last failure when the secret carries it (ROTATION_FAILURE_TAG), whether a rotation is
 * pending, which ARNs lag, and where the rotation reports its failures.
 */
import { ROTATION_FAILURE_TAG } from '../certificate/tags.js';
import { normaliseSerial } from '../certificate/bundle.js';
import { classifyCurrentValue } from '../certificate/current-value.js';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { parseSpec } from '../certificate/spec.js';

/** The event's key: any other event is the scheduled watch's. */
export const AWAIT_EVENT_KEY = 'acmeRotationAwait';
/** Lambda's longest invocation: a request may not ask for more. */
export const MAX_AWAIT_SECONDS = 900;
/** Kept back from the invocation's time, so the waiter reports instead of being killed. */
export const AWAIT_REPORT_RESERVE_MS = 10_000;
/** Polling starts fast (a rotation already done answers at once) and slows to this. */
const FIRST_POLL_MS = 2_000;
const MAX_POLL_MS = 15_000;
/** A lagging ARN is re-imported at most this often (ACM imports at about one a second per account). */
const RECONCILE_EVERY_MS = 60_000;

export interface AwaitRequest {
  secretIds: string[];
  timeoutSeconds: number;
}

/** A waiter request that is not one the deployment sends. */
export class AwaitRequestError extends Error {
  constructor(message: string) {
    super(
      `${AWAIT_EVENT_KEY}: ${message}; expected {"${AWAIT_EVENT_KEY}": {"secretIds": ["<secret ARN or name>", …], "timeoutSeconds": 1–${MAX_AWAIT_SECONDS}}}`,
    );
    this.name = 'AwaitRequestError';
  }
}

/** The first certificate did not arrive in every place in time, or cannot arrive at all. */
export class AwaitFailedError extends Error {
  constructor(message: string) {
    super(message);
    // Set by hand: the bundle is minified, and the name is what Lambda reports as errorType.
    this.name = 'AwaitFailedError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `event` is a waiter request (well-formed or not); the scheduled watch's events are not. */
export function isAwaitEvent(event: unknown): boolean {
  return isRecord(event) && AWAIT_EVENT_KEY in event;
}

/** The request in a waiter event; throws AwaitRequestError when it is malformed. */
export function parseAwaitRequest(event: unknown): AwaitRequest {
  const body = isRecord(event) ? event[AWAIT_EVENT_KEY] : undefined;
  if (!isRecord(body)) throw new AwaitRequestError('the request is not an object');
  const { secretIds, timeoutSeconds } = body;
  if (!Array.isArray(secretIds) || secretIds.length === 0) {
    throw new AwaitRequestError('secretIds must be a non-empty list');
  }
  if (!secretIds.every((id): id is string => typeof id === 'string' && id.trim() !== '')) {
    throw new AwaitRequestError('every secretIds entry must be a secret ARN or name');
  }
  if (
    typeof timeoutSeconds !== 'number' ||
    !Number.isInteger(timeoutSeconds) ||
    timeoutSeconds < 1 ||
    timeoutSeconds > MAX_AWAIT_SECONDS
  ) {
    throw new AwaitRequestError(
      `timeoutSeconds ${JSON.stringify(timeoutSeconds)} is not a whole number from 1 to ${MAX_AWAIT_SECONDS}`,
    );
  }
  return { secretIds: [...new Set(secretIds.map((id) => id.trim()))], timeoutSeconds };
}

/** What the waiter reads of a secret (DescribeSecret). */
export interface AwaitedSecretState {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** Version id → staging labels. */
  versions: Record<string, string[]>;
  tags: { Key?: string; Value?: string }[];
}

export interface AwaitPorts {
  describeSecret(secretId: string): Promise<AwaitedSecretState>;
  /** AWSCURRENT's SecretString; undefined when the secret has no current version yet. */
  currentValue(secretArn: string): Promise<string | undefined>;
  /** The serial ACM holds under `arn` (its own format: hex bytes joined by ':'), if any. */
  acmSerial(arn: string): Promise<string | undefined>;
  /**
   * Re-import the secret's AWSCURRENT into the ARNs whose serial differs (the watch's
   * reconciliation); absent = wait for the rotation's or the watch's own delivery.
   */
  reconcile?: (secret: AwaitedSecretState, laggingArns: string[]) => Promise<void>;
  logger: Logger;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Milliseconds left in this invocation. */
  timeLeftMs(): number;
  /** The rotation function's log group, named in the failure message; undefined = not known. */
  rotationLogGroup?: string;
}

/** One secret, ready: its certificate's serial is in AWSCURRENT and in every ACM ARN. */
export interface AwaitedCertificate {
  secretArn: string;
  secretName: string;
  serial: string;
  expiry: string;
  acmCertificateArns: string[];
}

export interface AwaitSummary {
  awaited: AwaitedCertificate[];
  elapsedMs: number;
}

type Observation =
  | { state: 'ready'; certificate: AwaitedCertificate }
  | { state: 'waiting'; secretName: string; reason: string }
  | { state: 'hopeless'; secretName: string; reason: string };

/** What a secret's status says about its rotation, for a message. */
function rotationState(secret: AwaitedSecretState): string {
  const pending = Object.entries(secret.versions).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  );
  const failure = secret.tags.find((t) => t.Key === ROTATION_FAILURE_TAG)?.Value;
  const parts = [
    pending
      ? `a rotation is in progress or failed (AWSPENDING is version ${pending[0]})`
      : 'no rotation is pending (none started, or Secrets Manager has not retried a failed one yet)',
    failure ? `the rotation's last failure: ${failure}` : 'the secret records no rotation failure',
  ];
  return parts.join('; ');
}

class Waiter {
  private readonly lastReconcile = new Map<string, number>();

  constructor(private readonly ports: AwaitPorts) {}

  async observe(secretId: string): Promise<Observation> {
    const { ports } = this;
    let secret: AwaitedSecretState;
    try {
      secret = await ports.describeSecret(secretId);
    } catch (err) {
      return { state: 'waiting', secretName: secretId, reason: `DescribeSecret failed: ${errorMessage(err)}` };
    }
    const name = secret.name;
    if (!secret.rotationEnabled) {
      return {
        state: 'hopeless',
        secretName: name,
        reason: 'rotation is not enabled on the secret, so nothing will issue its certificate',
      };
    }
    let arns: string[];
    try {
      arns = parseSpec(name, secret.tags).acmCertificateArns;
    } catch (err) {
      return {
        state: 'hopeless',
        secretName: name,
        reason: `its tags are refused by the rotation: ${errorMessage(err)}`,
      };
    }
    let value: string | undefined;
    try {
      value = await ports.currentValue(secret.arn);
    } catch (err) {
      return { state: 'waiting', secretName: name, reason: `reading AWSCURRENT failed: ${errorMessage(err)}` };
    }
    const current = classifyCurrentValue(value);
    if (current.kind === 'foreign') {
      return {
        state: 'hopeless',
        secretName: name,
        reason: `AWSCURRENT holds ${current.description}, not a certificate bundle; the rotation never replaces such a value`,
      };
    }
    if (current.kind !== 'bundle') {
      const what =
        current.kind === 'empty' ? 'no certificate in AWSCURRENT yet' : `AWSCURRENT is damaged (${current.problem})`;
      return { state: 'waiting', secretName: name, reason: `${what}; ${rotationState(secret)}` };
    }
    const bundle = current.bundle;
    const serial = normaliseSerial(bundle.serial);
    const lagging: string[] = [];
    const why: string[] = [];
    await Promise.all(
      arns.map(async (arn) => {
        try {
          const held = await ports.acmSerial(arn);
          if (held === undefined || normaliseSerial(held) !== serial) {
            lagging.push(arn);
            why.push(`${arn} holds ${held ?? 'no certificate'}`);
          }
        } catch (err) {
          lagging.push(arn);
          why.push(`${arn}: ${errorMessage(err)}`);
        }
      }),
    );
    if (lagging.length === 0) {
      return {
        state: 'ready',
        certificate: {
          secretArn: secret.arn,
          secretName: name,
          serial,
          expiry: bundle.expiry,
          acmCertificateArns: arns,
        },
      };
    }
    lagging.sort();
    await this.reconcile(secret, lagging);
    return {
      state: 'waiting',
      secretName: name,
      reason: `AWSCURRENT holds serial ${serial}, which ${lagging.length} of ${arns.length} ACM certificate(s) do not: ${why.sort().join('; ')}`,
    };
  }

  /** Re-import into the lagging ARNs, at most once a minute per secret; its failure is only logged. */
  private async reconcile(secret: AwaitedSecretState, lagging: string[]): Promise<void> {
    const { reconcile, logger, now } = this.ports;
    if (!reconcile) return;
    const last = this.lastReconcile.get(secret.arn);
    if (last !== undefined && now() - last < RECONCILE_EVERY_MS) return;
    this.lastReconcile.set(secret.arn, now());
    try {
      await reconcile(secret, lagging);
    } catch (err) {
      logger.warn('reconciling ACM certificates failed; waiting for the next attempt', {
        secretName: secret.name,
        arns: lagging,
        error: errorMessage(err),
      });
    }
  }
}

/**
 * Wait until every requested secret's first certificate is in AWSCURRENT and in each of its ACM
 * certificates; throws AwaitFailedError when one cannot get there or the time is up.
 */
export async function awaitCertificates(request: AwaitRequest, ports: AwaitPorts): Promise<AwaitSummary> {
  const started = ports.now();
  const deadline = started + Math.min(request.timeoutSeconds * 1000, ports.timeLeftMs() - AWAIT_REPORT_RESERVE_MS);
  const waiter = new Waiter(ports);
  const ready = new Map<string, AwaitedCertificate>();
  let pending = [...request.secretIds];
  let last: Observation[] = [];
  for (let poll = 0; ; poll++) {
    last = await Promise.all(pending.map((id) => waiter.observe(id)));
    const hopeless = last.filter((o) => o.state === 'hopeless');
    if (hopeless.length > 0) {
      throw new AwaitFailedError(
        hopeless.map((o) => `secret ${JSON.stringify(o.secretName)}: ${o.reason}`).join('\n') +
          '\nFix it, then run `pulumi up` again.',
      );
    }
    pending.forEach((id, i) => {
      const o = last[i];
      if (o?.state === 'ready') ready.set(id, o.certificate);
    });
    pending = pending.filter((id) => !ready.has(id));
    if (pending.length === 0) break;
    const waitMs = Math.min(MAX_POLL_MS, FIRST_POLL_MS * 1.5 ** poll);
    if (ports.now() + waitMs > deadline) {
      throw new AwaitFailedError(timeoutMessage(request, ports, last, started));
    }
    ports.logger.info('waiting for the first certificate', {
      waiting: last.filter((o) => o.state === 'waiting').map((o) => ({ secretName: o.secretName, reason: o.reason })),
    });
    await ports.sleep(waitMs);
  }
  const summary = {
    awaited: request.secretIds.map((id) => ready.get(id) as AwaitedCertificate),
    elapsedMs: ports.now() - started,
  };
  ports.logger.info('every certificate is in AWSCURRENT and in its ACM certificates', {
    certificates: summary.awaited.map((c) => ({
      secretName: c.secretName,
      serial: c.serial,
      acm: c.acmCertificateArns.length,
    })),
    elapsedMs: summary.elapsedMs,
  });
  return summary;
}

function timeoutMessage(request: AwaitRequest, ports: AwaitPorts, last: Observation[], started: number): string {
  const seconds = Math.round((ports.now() - started) / 1000);
  const lines = last
    .filter((o): o is Extract<Observation, { state: 'waiting' }> => o.state === 'waiting')
    .map((o) => `secret ${JSON.stringify(o.secretName)}: ${o.reason}`);
  const where = ports.rotationLogGroup
    ? `the "step failed" lines in the log group ${ports.rotationLogGroup}`
    : 'the rotation function\'s "step failed" log lines';
  return (
    `no first certificate in every place after ${seconds} s (of ${request.timeoutSeconds} s asked):\n${lines.join('\n')}\n` +
    `Each failed rotation step sends a failure notice (the stack's topic and event bus) and writes ${where}. ` +
    "Fix the cause, then `aws secretsmanager rotate-secret --secret-id <secret>` (or wait for Secrets Manager's retry) " +
    'and run `pulumi up` again: the waiter resumes.'
  );
}
