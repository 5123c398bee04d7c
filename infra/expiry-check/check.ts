/**
 * The expiry check: a small scheduled function that reads each certificate secret's status tags
 * (`ExpirationDate`, `IssuedAt`, written by the rotation after each promotion; readable without
 * decrypting) and reports, as CloudWatch metrics in Embedded Metric Format, how many certificates
 * are at risk. The alarm on that metric is the last line of defence: it fires whatever the cause
 * (rotation disabled, function broken, permissions changed, Secrets Manager never invoking it).
 *
 * A certificate is at risk when
 * - it expires within `minHoursLeft` (24 h; less for certificates that live only a day or so), or
 * - it is older than its schedule's interval plus grace (the renewal is overdue), or
 * - it has no certificate a day after the secret was created (the first issuance failed), or
 * - its secret cannot be described.
 */

export interface CheckedCertificate {
  secretName: string;
  /** Age after which the certificate is overdue for renewal (schedule interval + grace). */
  maxAgeHours: number;
  /** Fewer hours left than this is a risk whatever the age. */
  minHoursLeft: number;
}

export interface CheckConfig {
  namespace: string;
  /** Metric dimensions, e.g. { Stack: 'acme-rotation/dev' }. */
  dimensions: Record<string, string>;
  certificates: CheckedCertificate[];
}

export interface SecretFacts {
  createdDate?: Date;
  tags: ReadonlyArray<{ Key?: string; Value?: string }>;
}

export type Describe = (secretName: string) => Promise<SecretFacts>;

export interface Assessment {
  secretName: string;
  status: 'ok' | 'pending' | 'at-risk';
  reason: string;
  hoursLeft?: number;
  ageHours?: number;
}

/** A new secret gets this long for its first certificate before it counts as at risk. */
export const FIRST_ISSUANCE_GRACE_HOURS = 24;

const HOUR_MS = 3_600_000;

function tag(facts: SecretFacts, key: string): string | undefined {
  return facts.tags.find((t) => t.Key === key)?.Value;
}

function date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const round = (n: number): number => Math.round(n * 10) / 10;

export function assess(cert: CheckedCertificate, facts: SecretFacts | Error, now: Date): Assessment {
  const { secretName } = cert;
  if (facts instanceof Error) {
    return { secretName, status: 'at-risk', reason: `cannot describe the secret: ${facts.name}: ${facts.message}` };
  }
  const expiry = date(tag(facts, 'ExpirationDate'));
  if (!expiry) {
    const created = facts.createdDate;
    const ageHours = created ? (now.getTime() - created.getTime()) / HOUR_MS : undefined;
    if (ageHours !== undefined && ageHours < FIRST_ISSUANCE_GRACE_HOURS) {
      return { secretName, status: 'pending', reason: 'waiting for the first certificate', ageHours: round(ageHours) };
    }
    return {
      secretName,
      status: 'at-risk',
      reason:
        `no certificate: the secret has no ExpirationDate tag ${ageHours === undefined ? '' : `${round(ageHours)} h after it was created`}`.trim(),
    };
  }
  const hoursLeft = (expiry.getTime() - now.getTime()) / HOUR_MS;
  const issued = date(tag(facts, 'IssuedAt'));
  const ageHours = issued ? (now.getTime() - issued.getTime()) / HOUR_MS : undefined;
  const base = {
    secretName,
    hoursLeft: round(hoursLeft),
    ...(ageHours !== undefined ? { ageHours: round(ageHours) } : {}),
  };
  if (hoursLeft < cert.minHoursLeft) {
    return {
      ...base,
      status: 'at-risk',
      reason: hoursLeft <= 0 ? `expired ${round(-hoursLeft)} h ago` : `expires in ${round(hoursLeft)} h`,
    };
  }
  if (ageHours !== undefined && ageHours > cert.maxAgeHours) {
    return {
      ...base,
      status: 'at-risk',
      reason: `not renewed for ${round(ageHours)} h (overdue after ${cert.maxAgeHours} h)`,
    };
  }
  return { ...base, status: 'ok', reason: 'ok' };
}

/** Runs `fn` over `items` with at most `limit` in flight (DescribeSecret is cheap but not free). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  return out;
}

export interface CheckResult {
  checked: number;
  atRisk: Assessment[];
  minHoursLeft?: number;
}

/** Checks every certificate, writes one log line per problem and the metrics (EMF) line. */
export async function runCheck(opts: {
  config: CheckConfig;
  describe: Describe;
  now?: Date;
  write: (line: string) => void;
  concurrency?: number;
}): Promise<CheckResult> {
  const { config, describe, write } = opts;
  const now = opts.now ?? new Date();
  const results = await mapLimit(config.certificates, opts.concurrency ?? 8, async (cert) => {
    let facts: SecretFacts | Error;
    try {
      facts = await describe(cert.secretName);
    } catch (err) {
      facts = err instanceof Error ? err : new Error(String(err));
    }
    return assess(cert, facts, now);
  });

  const atRisk = results.filter((r) => r.status === 'at-risk');
  for (const r of atRisk) {
    write(JSON.stringify({ timestamp: now.toISOString(), level: 'warn', message: 'certificate at risk', ...r }));
  }
  const lefts = results.map((r) => r.hoursLeft).filter((h): h is number => h !== undefined);
  const minLeft = lefts.length > 0 ? Math.min(...lefts) : undefined;

  const metrics = [{ Name: 'CertificatesAtRisk', Unit: 'Count' }];
  if (minLeft !== undefined) metrics.push({ Name: 'MinHoursToExpiry', Unit: 'None' });
  write(
    JSON.stringify({
      _aws: {
        Timestamp: now.getTime(),
        CloudWatchMetrics: [
          { Namespace: config.namespace, Dimensions: [Object.keys(config.dimensions)], Metrics: metrics },
        ],
      },
      ...config.dimensions,
      level: 'info',
      message: 'expiry check',
      CertificatesAtRisk: atRisk.length,
      ...(minLeft !== undefined ? { MinHoursToExpiry: minLeft } : {}),
      checked: results.length,
      pending: results.filter((r) => r.status === 'pending').length,
    }),
  );
  return { checked: results.length, atRisk, ...(minLeft !== undefined ? { minHoursLeft: minLeft } : {}) };
}
