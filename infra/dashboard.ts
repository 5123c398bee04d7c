/**
 * The CloudWatch dashboard of a stack (pure; no Pulumi): what an operator would otherwise query.
 *
 * - per certificate, from the renewal watch's log lines (`{"message":"certificate", secretName,
 *   status, daysLeft, renewAt, …}`, one per certificate and run): the latest days left, next
 *   renewal and status;
 * - the watch's summary metrics (Embedded Metric Format, dimension Stack) over time;
 * - rotations succeeded and failed per hour, counted from the rotation function's closing log
 *   lines (`rotation finished`, `step failed`);
 * - delivery to ACM (the watch's reconciliation counts, and refusals per ARN) and issuance per CA
 *   (certificates issued and fallbacks away from each CA), from both functions' metrics.
 */
import { METRICS } from '../rotation/lib/metrics.js';

export interface DashboardArgs {
  region: string;
  /** The watch's metric namespace and its Stack dimension. */
  namespace: string;
  stackLabel: string;
  watchLogGroup: string;
  rotationLogGroup: string;
  /** The watch's longest gap between runs: the graphs' period and the default time range follow it. */
  watchGapSeconds: number;
}

export interface DashboardBody {
  start: string;
  periodOverride: 'inherit';
  widgets: Array<Record<string, unknown>>;
}

/** Widths on CloudWatch's 24-column grid. */
const FULL = 24;
const HALF = 12;

/** A log group name inside a Logs Insights SOURCE clause (single-quoted). */
function source(logGroup: string): string {
  if (logGroup.includes("'")) throw new Error(`log group name ${JSON.stringify(logGroup)} cannot be quoted`);
  return `SOURCE '${logGroup}'`;
}

/** Latest days left, next renewal and status per certificate secret, most urgent first. */
export function certificatesQuery(watchLogGroup: string): string {
  return [
    source(watchLogGroup),
    "filter message = 'certificate'",
    'stats latest(daysLeft) as daysLeft, latest(renewAt) as renewAt, latest(status) as status, ' +
      'max(@timestamp) as lastChecked by secretName',
    'sort daysLeft asc',
    // Logs Insights returns 1,000 rows unless told; a fleet may be larger.
    'limit 10000',
  ].join(' | ');
}

/** Rotations that finished and rotation steps that failed, per hour. */
export function rotationsQuery(rotationLogGroup: string): string {
  return [
    source(rotationLogGroup),
    "filter message = 'rotation finished' or message = 'step failed'",
    // strcontains is 1 or 0: the sums count each kind of line.
    "stats sum(strcontains(message, 'rotation finished')) as succeeded, " +
      "sum(strcontains(message, 'step failed')) as failed by bin(1h)",
  ].join(' | ');
}

/**
 * A metric-math SEARCH over one metric of this stack, one line per value of `dimension` (a CA, an
 * ACM ARN): their values are known only once the functions emit them.
 */
export function searchExpression(
  namespace: string,
  stackLabel: string,
  dimension: string,
  metricName: string,
  stat: string,
  period: number,
): string {
  const quoted = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;
  return `SEARCH('{${namespace},Stack,${dimension}} MetricName=${quoted(metricName)} Stack=${quoted(stackLabel)}', '${stat}', ${period})`;
}

/** The time range the dashboard opens with: a week, or four watch runs when they are further apart. */
export function dashboardStart(watchGapSeconds: number): string {
  const days = Math.max(7, Math.ceil((4 * watchGapSeconds) / 86_400));
  return `-P${days}D`;
}

export function dashboardBody(args: DashboardArgs): DashboardBody {
  const { region, namespace, stackLabel } = args;
  // A graph period of at least an hour, and never shorter than the gap between runs (a period
  // without a run would draw as a hole).
  const period = Math.max(3600, Math.ceil(args.watchGapSeconds / 3600) * 3600);
  const metric = (name: string, stat: string, label: string): unknown[] => [
    namespace,
    name,
    'Stack',
    stackLabel,
    { stat, label },
  ];
  const search = (dimension: string, name: string) =>
    searchExpression(namespace, stackLabel, dimension, name, 'Sum', period);
  /** A half-width time-series graph of metric lines at (x, y); `alarmAt` draws the alarm's line. */
  const graph = (x: number, y: number, title: string, metrics: unknown[], alarmAt?: number) => ({
    type: 'metric',
    x,
    y,
    width: HALF,
    height: 6,
    properties: {
      title,
      region,
      view: 'timeSeries',
      stacked: false,
      period,
      metrics,
      yAxis: { left: { min: 0, showUnits: false } },
      ...(alarmAt !== undefined ? { annotations: { horizontal: [{ label: 'alarm', value: alarmAt }] } } : {}),
    },
  });
  return {
    start: dashboardStart(args.watchGapSeconds),
    periodOverride: 'inherit',
    widgets: [
      {
        type: 'log',
        x: 0,
        y: 0,
        width: FULL,
        height: 8,
        properties: {
          title: 'Certificates: days left and next renewal (latest watch run)',
          region,
          view: 'table',
          query: certificatesQuery(args.watchLogGroup),
        },
      },
      // Due and deferred describe the fleet at each run (largest per period); started adds up.
      graph(0, 8, 'Renewal watch: renewals and renewal-information errors', [
        metric(METRICS.renewalsDue, 'Maximum', 'due'),
        metric(METRICS.renewalsStarted, 'Sum', 'started'),
        metric(METRICS.renewalsDeferred, 'Maximum', 'deferred (pacing)'),
        metric(METRICS.ariErrors, 'Maximum', 'renewal-information errors'),
      ]),
      graph(
        HALF,
        8,
        'Certificates at risk (the alarm fires at 1, and when the watch stops reporting)',
        [metric(METRICS.certificatesAtRisk, 'Maximum', 'at risk')],
        1,
      ),
      graph(
        0,
        20,
        'ACM delivery: targets behind AWSCURRENT (the alarm fires at 1), re-deliveries, refusals',
        [
          metric(METRICS.acmTargetsLagging, 'Maximum', 'lagging > 6 h'),
          metric(METRICS.acmTargetsDelivered, 'Sum', 're-delivered by the watch'),
          metric(METRICS.acmTargetsFailed, 'Sum', 'refused (watch)'),
          [{ expression: search('CertificateArn', METRICS.acmDeliveryFailures), label: 'refused', id: 'refused' }],
        ],
        1,
      ),
      graph(HALF, 20, 'Certificates issued per CA, and fallbacks away from a CA', [
        [{ expression: search('Ca', METRICS.certificatesIssued), label: 'issued', id: 'issued' }],
        [{ expression: search('Ca', METRICS.caFallbacks), label: 'fell back from', id: 'fallbacks' }],
      ]),
      {
        type: 'log',
        x: 0,
        y: 14,
        width: FULL,
        height: 6,
        properties: {
          title: 'Rotations succeeded and failed steps, per hour',
          region,
          view: 'timeSeries',
          stacked: false,
          query: rotationsQuery(args.rotationLogGroup),
        },
      },
    ],
  };
}

/** The console address of a dashboard, in the partition's console. */
export function dashboardUrl(partition: string, region: string, name: string): string {
  const host =
    partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : 'console.aws.amazon.com';
  return `https://${host}/cloudwatch/home?region=${region}#dashboards:name=${encodeURIComponent(name)}`;
}
