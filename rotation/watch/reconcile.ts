/**
 * The renewal watch's reconciliation of ACM targets: AWSCURRENT is the truth, and every ARN in a
 * certificate secret's `acme:acm-certificate-arns` converges on it. Once per run, for each such
 * secret: read AWSCURRENT's bundle, DescribeCertificate each ARN, and re-import wherever the serial
 * differs — a target that refused in finishSecret, one fixed since, an ARN or region added to the
 * tag after the last renewal. The same rules as finishSecret's delivery apply (rotation/acm/
 * deliver.ts): an ARN holding the serial is left alone, what ACM would refuse (key algorithm,
 * CloudFront keys, the KU/EKU re-import rule) is named and not tried, and each refusal is reported
 * on its own (DeliveryFailed notice, event, AcmDeliveryFailures metric).
 *
 * Paced within ACM's request rates, which are per account and region (ACM User Guide, "Quotas":
 * DescribeCertificate 10/s, ImportCertificate 1/s), at 80 % of each so the rotation function's own
 * calls fit beside them; bounded by the run's Deadline: what is not reached is counted as
 * `unfinished` and looked at by the next run.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { deliverToTarget, type AcmCalls } from '../acm/deliver.js';
import { parseAcmArn, accountOfArn } from '../certificate/acm-arns.js';
import { deliveryFailedEvent, deliveryReporter } from '../acm/report.js';
import type { acmSessions } from '../acm/session.js';
import type { DeliveryFailedEvent } from '../aws/notify.js';
import { SecretsAdapter } from '../aws/secrets.js';
import { normaliseSerial, parseBundle } from '../certificate/bundle.js';
import type { Deadline } from '../lib/deadline.js';
import type { Logger } from '../lib/log.js';
import {
  METRICS,
  metricLine,
  metricNames,
  stdoutMetricSink,
  type MetricNames,
  type MetricSink,
} from '../lib/metrics.js';
import { parseSpec } from '../certificate/spec.js';

/**
 * An ARN whose serial has differed from AWSCURRENT's for longer than this, counted from
 * AWSCURRENT's version CreatedDate, is lagging (the `AcmTargetsLagging` metric an alarm watches).
 *
 * Six hours: finishSecret delivers within a minute of the promotion, and the watch, running hourly,
 * has then re-delivered five or six times — a target still behind is not throttling or a brief
 * outage but a cause someone must fix (deleted, the KU/EKU rule, permissions, quota). Waiting
 * longer eats the margin the fix needs: AWS asks for re-imports at least 24 h before expiry because
 * CloudFront may take hours to pick one up, and the shortest lifetime in use (Let's Encrypt
 * `shortlived`, 160 h, renewed at half its life) leaves 80 h from renewal to expiry — 6 h of lag
 * still leaves two days for a person after CloudFront's 24 h. Sooner would page on a renewal whose
 * delivery is merely waiting for the next hourly run.
 */
export const ACM_LAG_THRESHOLD_MS = 6 * 3_600_000;

/** Pace of DescribeCertificate per account and region: 8 a second (ACM allows 10). */
export const DESCRIBE_INTERVAL_MS = 125;
/** Pace of ImportCertificate per account and region: 0.8 a second (ACM allows 1). */
export const IMPORT_INTERVAL_MS = 1_250;
/** A call is started only with this much of the run's time left (one request's timeout and its retries). */
export const MIN_CALL_MS = 15_000;

/** A certificate secret as the watch lists it (ListedSecret fits). */
export interface ReconcileSecret {
  arn: string;
  name: string;
  tags: ReadonlyArray<{ Key?: string; Value?: string }>;
}

/** AWSCURRENT of a secret, as GetSecretValue answers it. */
export interface CurrentVersion {
  versionId: string;
  /** SecretString; undefined for a binary value. */
  value: string | undefined;
  createdDate?: Date;
}

export interface ReconcileDeps {
  /** AWSCURRENT of a secret; undefined when it has none (currentVersionReader makes one). */
  readCurrent: (secretArn: string) => Promise<CurrentVersion | undefined>;
  /** ACM, one client per region: `acmSessions(clientConfig).open({ deadline })` (rotation/acm/session.ts). */
  acm: AcmCalls;
  /** The DeliveryFailed notice and event: Notifier.publish. */
  publish: (event: DeliveryFailedEvent) => Promise<void>;
  /** Where EMF metric lines go (stdoutMetricSink in the Lambda). */
  metrics: MetricSink;
  logger: Logger;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** The run's time: no call starts with less than MIN_CALL_MS of it left. */
  deadline: Deadline;
  metricNames?: MetricNames;
  /** Secrets looked at at once (the pace per region holds whatever this is). Default 4. */
  concurrency?: number;
  lagThresholdMs?: number;
}

export interface ReconcileSummary {
  /** Secrets that name ARNs and hold a certificate. */
  secrets: number;
  /** ARNs looked at (DescribeCertificate answered or refused). */
  checked: number;
  /** ARNs the certificate was imported into by this run. */
  delivered: number;
  /** ARNs that did not take it (each reported). */
  failed: number;
  /** ARNs still behind AWSCURRENT for longer than the lag threshold after this run. */
  lagging: number;
  /** ARNs not reached before the run's time ran out (the next run looks at them). */
  unfinished: number;
}

/** GetSecretValue(AWSCURRENT) giving the version id, value and CreatedDate the reconciliation needs. */
export function currentVersionReader(client: SecretsManagerClient): ReconcileDeps['readCurrent'] {
  const secrets = new SecretsAdapter(client);
  return async (secretArn) => {
    const current = await secrets.findVersion(secretArn, { stage: 'AWSCURRENT' });
    if (!current?.versionId) return undefined;
    return {
      versionId: current.versionId,
      value: current.value,
      ...(current.createdDate ? { createdDate: current.createdDate } : {}),
    };
  };
}

/**
 * The ports of a Lambda run, from the clients the watch keeps per container: its Secrets Manager
 * client, its ACM sessions (`acmSessions(sdkClientConfig(…))`, made once), a Notifier built like
 * the rotation function's (NOTIFICATION_TOPIC_ARN, EVENT_BUS_NAME), and the run's deadline.
 */
export function lambdaReconcileDeps(opts: {
  secretsClient: SecretsManagerClient;
  acmSessions: ReturnType<typeof acmSessions>;
  notifier: { publish: (event: DeliveryFailedEvent) => Promise<void> };
  logger: Logger;
  deadline: Deadline;
}): ReconcileDeps {
  return {
    readCurrent: currentVersionReader(opts.secretsClient),
    acm: opts.acmSessions.open({ deadline: opts.deadline }),
    publish: (event) => opts.notifier.publish(event),
    metrics: stdoutMetricSink,
    logger: opts.logger,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    deadline: opts.deadline,
  };
}

/** Slots per key (region and operation), each `interval` after the last: a pace, not a burst limit. */
function pacer(now: () => Date, sleep: (ms: number) => Promise<void>) {
  const next = new Map<string, number>();
  return async (key: string, intervalMs: number): Promise<void> => {
    const t = now().getTime();
    const at = Math.max(t, next.get(key) ?? 0);
    next.set(key, at + intervalMs);
    if (at > t) await sleep(at - t);
  };
}

/**
 * Re-deliver AWSCURRENT to every ARN that does not hold it, for each secret of `secrets` that
 * names ARNs. Never throws for one secret or target: each problem is logged or reported, and the
 * others go on.
 */
export async function reconcileAcmTargets(
  secrets: readonly ReconcileSecret[],
  deps: ReconcileDeps,
): Promise<ReconcileSummary> {
  const { logger } = deps;
  const names = deps.metricNames ?? metricNames();
  const threshold = deps.lagThresholdMs ?? ACM_LAG_THRESHOLD_MS;
  const summary: ReconcileSummary = { secrets: 0, checked: 0, delivered: 0, failed: 0, lagging: 0, unfinished: 0 };
  const report = deliveryReporter({
    publish: deps.publish,
    metrics: deps.metrics,
    logger,
    names,
    now: deps.now,
  });
  const pace = pacer(deps.now, deps.sleep);
  // Set once a call was not started for lack of time: the run stops there, and what it was doing
  // is left unreported (not refused: not tried) for the next run.
  let ranOut = false;
  const inTime = () => {
    if (deps.deadline.remainingMs() < MIN_CALL_MS) {
      ranOut = true;
      throw new Error('the run has no time left for another ACM call');
    }
  };
  const regionOf = (arn: string) => {
    const parsed = parseAcmArn(arn);
    return typeof parsed === 'string' ? 'unknown' : parsed.region;
  };
  const acm: AcmCalls = {
    describe: async (arn) => {
      inTime();
      await pace(`${regionOf(arn)}:describe`, DESCRIBE_INTERVAL_MS);
      inTime();
      return deps.acm.describe(arn);
    },
    import: async (arn, pem) => {
      inTime();
      await pace(`${regionOf(arn)}:import`, IMPORT_INTERVAL_MS);
      inTime();
      return deps.acm.import(arn, pem);
    },
  };

  const withArns = secrets.flatMap((secret) => {
    try {
      const spec = parseSpec(secret.name, secret.tags);
      return spec.acmCertificateArns.length > 0 ? [{ secret, arns: spec.acmCertificateArns }] : [];
    } catch (err) {
      logger.warn('not reconciling ACM targets: the spec tags are invalid', { secretName: secret.name, error: err });
      return [];
    }
  });

  const one = async ({ secret, arns }: (typeof withArns)[number]): Promise<void> => {
    const log = logger.child({ secretName: secret.name });
    if (ranOut || deps.deadline.remainingMs() < MIN_CALL_MS) {
      summary.unfinished += arns.length;
      return;
    }
    let current: CurrentVersion | undefined;
    try {
      current = await deps.readCurrent(secret.arn);
    } catch (err) {
      log.error('could not read AWSCURRENT to reconcile its ACM targets', { error: err });
      return;
    }
    const bundle = parseBundle(current?.value);
    if (!current || !bundle) {
      log.info('no certificate in AWSCURRENT yet: nothing to deliver to ACM');
      return;
    }
    summary.secrets++;
    const version = current.versionId;
    const ageMs = current.createdDate ? deps.now().getTime() - current.createdDate.getTime() : 0;
    const account = accountOfArn(secret.arn);
    for (const [i, arn] of arns.entries()) {
      const outcome = await deliverToTarget(acm, log, arn, bundle, {
        ...(account ? { account } : {}),
        // The serial to deliver must still be AWSCURRENT's: a rotation promoting a newer one
        // meanwhile delivers that one itself, and this import would overwrite it.
        stillCurrent: async () => (await deps.readCurrent(secret.arn))?.versionId === version,
      });
      if (ranOut) {
        summary.unfinished += arns.length - i;
        return;
      }
      summary.checked++;
      if (outcome.status === 'delivered') summary.delivered++;
      if (outcome.status === 'failed') {
        summary.failed++;
        await report(
          deliveryFailedEvent(
            {
              secretName: secret.name,
              secretArn: secret.arn,
              versionId: version,
              domains: bundle.domains,
              serial: normaliseSerial(bundle.serial),
            },
            outcome.failure,
            'reconciliation',
          ),
        );
        if (ageMs > threshold) {
          summary.lagging++;
          log.warn('ACM target lags behind AWSCURRENT', {
            acmCertificateArn: arn,
            behindHours: Math.round(ageMs / 360_000) / 10,
            thresholdHours: threshold / 3_600_000,
          });
        }
      }
    }
  };

  const queue = [...withArns];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) await one(next);
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 4, queue.length) }, worker));

  deps.metrics(
    metricLine(
      names,
      [
        { name: METRICS.acmTargetsChecked, value: summary.checked },
        { name: METRICS.acmTargetsDelivered, value: summary.delivered },
        { name: METRICS.acmTargetsFailed, value: summary.failed },
        { name: METRICS.acmTargetsLagging, value: summary.lagging },
      ],
      { now: deps.now(), message: 'ACM reconciliation', fields: { ...summary } },
    ),
  );
  logger.info('ACM targets reconciled', { ...summary, lagThresholdHours: threshold / 3_600_000 });
  return summary;
}
