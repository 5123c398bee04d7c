/**
 * CloudWatch metrics as Embedded Metric Format lines: one JSON line on stdout that CloudWatch Logs
 * turns into metrics, so neither function needs PutMetricData (no client to load, no call to
 * fail, no IAM action).
 *
 * Both functions name their metrics the same way: namespace `METRIC_NAMESPACE` (the watch also
 * reads `WATCH_METRIC_NAMESPACE`), dimension `Stack` from `METRIC_STACK` (`WATCH_METRIC_STACK`),
 * plus per-metric dimensions such as `CertificateArn` or `Ca`.
 */
import { redactDeep } from './log.js';

export type MetricUnit = 'Count' | 'None' | 'Seconds';

export interface MetricNames {
  namespace: string;
  stack: string;
}

type Env = Record<string, string | undefined>;

/**
 * Every metric the programs publish, by name: the watch's run summary and ACM reconciliation, the
 * function's per-CA lines and refused deliveries. The stack's alarms and dashboard name them from
 * here, so a renamed metric cannot leave an alarm watching nothing.
 */
export const METRICS = {
  certificatesAtRisk: 'CertificatesAtRisk',
  renewalsDue: 'RenewalsDue',
  renewalsStarted: 'RenewalsStarted',
  renewalsDeferred: 'RenewalsDeferred',
  ariErrors: 'AriErrors',
  rotationsInFlight: 'RotationsInFlight',
  failedRotations: 'FailedRotations',
  minHoursToExpiry: 'MinHoursToExpiry',
  acmTargetsChecked: 'AcmTargetsChecked',
  acmTargetsDelivered: 'AcmTargetsDelivered',
  acmTargetsFailed: 'AcmTargetsFailed',
  acmTargetsLagging: 'AcmTargetsLagging',
  /** Per target (dimension CertificateArn). */
  acmDeliveryFailures: 'AcmDeliveryFailures',
  /** Per CA (dimension Ca). */
  certificatesIssued: 'CertificatesIssued',
  /** Per CA fallen away from (dimension Ca). */
  caFallbacks: 'CaFallbacks',
} as const;

export const DEFAULT_METRIC_NAMESPACE = 'AcmeRotation';
export const DEFAULT_METRIC_STACK = 'acme-rotation';

/** The namespace and Stack dimension from the environment (the watch's own names first). */
export function metricNames(env: Env = process.env): MetricNames {
  return {
    namespace: env.WATCH_METRIC_NAMESPACE?.trim() || env.METRIC_NAMESPACE?.trim() || DEFAULT_METRIC_NAMESPACE,
    stack: env.WATCH_METRIC_STACK?.trim() || env.METRIC_STACK?.trim() || DEFAULT_METRIC_STACK,
  };
}

export interface MetricPoint {
  name: string;
  value: number;
  unit?: MetricUnit;
}

/**
 * One EMF line. `dimensions` are added to `Stack` as one dimension set; `fields` ride along as
 * log fields (redacted like every log line, so nothing key-shaped can leave through a metric).
 */
export function metricLine(
  names: MetricNames,
  points: MetricPoint[],
  opts: { dimensions?: Record<string, string>; fields?: Record<string, unknown>; now?: Date; message?: string } = {},
): string {
  const now = opts.now ?? new Date();
  const dims = opts.dimensions ?? {};
  const values: Record<string, number> = {};
  for (const p of points) values[p.name] = p.value;
  return JSON.stringify(
    redactDeep({
      ...opts.fields,
      _aws: {
        Timestamp: now.getTime(),
        CloudWatchMetrics: [
          {
            Namespace: names.namespace,
            Dimensions: [['Stack', ...Object.keys(dims)]],
            Metrics: points.map((p) => ({ Name: p.name, Unit: p.unit ?? 'Count' })),
          },
        ],
      },
      Stack: names.stack,
      ...dims,
      ...values,
      timestamp: now.toISOString(),
      level: 'info',
      message: opts.message ?? 'metric',
    }),
  );
}

/** Where EMF lines go: stdout, as is (a logger would wrap them and CloudWatch would not read them). */
export type MetricSink = (line: string) => void;
export const stdoutMetricSink: MetricSink = (line) => {
  process.stdout.write(line + '\n');
};
