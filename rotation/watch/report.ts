/**
 * What a run reports: one log line per certificate, and the summary as one Embedded Metric Format
 * line (CloudWatch reads the metrics from it).
 */
import { METRICS, metricLine } from '../lib/metrics.js';
import {
  CA_DOWN_AFTER,
  type Item,
  type Run,
  type Status,
  type WatchConfig,
  type WatchDeps,
  type WatchSummary,
} from './model.js';

const days = (hours: number): number => Math.round((hours / 24) * 10) / 10;

export function report(
  items: Item[],
  deps: WatchDeps,
  hop: number,
  run: Run,
  stats: { inFlight: number; maxInFlightSeen: number; notExamined: number },
  error: string | undefined,
): WatchSummary {
  let minHours: number | undefined;
  for (const item of items) {
    const a = item.assessment;
    if (a) minHours = minHours === undefined ? a.hoursLeft : Math.min(minHours, a.hoursLeft);
    const line = {
      secretName: item.secret.name,
      status: item.status ?? 'ok',
      ...(a ? { daysLeft: days(a.hoursLeft), renewAt: a.renewAt.toISOString(), basis: a.basis } : {}),
      ...(item.state.window
        ? { windowStart: item.state.window.start.toISOString(), windowEnd: item.state.window.end.toISOString() }
        : {}),
      ...(item.state.explanation ? { explanationUrl: item.state.explanation } : {}),
      ...(item.reason ? { reason: item.reason } : {}),
      ...(item.atRisk ? { atRisk: item.atRisk } : {}),
      ...(item.ariError ? { ariError: item.ariError } : {}),
      ...(item.tagError ? { tagError: item.tagError } : {}),
      ...(item.failedRotation
        ? {
            failedRotation: {
              versionId: item.failedRotation.versionId,
              pendingSince: item.failedRotation.createdAt.toISOString(),
              cleared: item.failedRotation.cleared,
            },
          }
        : {}),
    };
    if (item.atRisk) deps.logger.warn('certificate', line);
    else deps.logger.info('certificate', line);
  }
  const count = (s: Status): number => items.filter((i) => i.status === s).length;
  return {
    checked: items.length,
    due: items.filter((i) => i.assessment?.verdict === 'due').length,
    started: count('started'),
    deferred: count('deferred'),
    skipped: count('skipped'),
    failed: items.filter((i) => i.status === 'due').length,
    atRisk: items.filter((i) => i.atRisk).length,
    ariErrors: items.filter((i) => i.ariError).length,
    continuation: hop,
    continued: false,
    ...(minHours !== undefined ? { minHoursToExpiry: minHours } : {}),
    inFlight: stats.inFlight,
    maxInFlightSeen: stats.maxInFlightSeen,
    failedRotations: items.filter((i) => i.failedRotation).length,
    failedRotationsCleared: items.filter((i) => i.failedRotation?.cleared).length,
    caDown: [...run.caFailures].filter(([, h]) => h.count >= CA_DOWN_AFTER).map(([url]) => url),
    notExamined: stats.notExamined,
    tagWrites: run.gate.taken,
    tagErrors: items.filter((i) => i.tagError).length,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The summary as one JSON line in Embedded Metric Format (CloudWatch reads the metrics from it). */
export function summaryLine(s: WatchSummary, config: WatchConfig, now: Date): string {
  return metricLine(
    { namespace: config.metricNamespace, stack: config.metricStack },
    [
      { name: METRICS.certificatesAtRisk, value: s.atRisk },
      { name: METRICS.renewalsDue, value: s.due },
      { name: METRICS.renewalsStarted, value: s.started },
      { name: METRICS.renewalsDeferred, value: s.deferred },
      { name: METRICS.ariErrors, value: s.ariErrors },
      { name: METRICS.rotationsInFlight, value: s.inFlight },
      { name: METRICS.failedRotations, value: s.failedRotations },
      ...(s.minHoursToExpiry !== undefined
        ? [{ name: METRICS.minHoursToExpiry, value: s.minHoursToExpiry, unit: 'None' as const }]
        : []),
    ],
    { fields: { ...s }, now, message: 'watch summary' },
  );
}
