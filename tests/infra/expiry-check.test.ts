import { describe, expect, it } from 'vitest';

import { assess, runCheck, type CheckConfig, type SecretFacts } from '../../infra/expiry-check/check.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();
const inHours = (h: number) => new Date(NOW.getTime() + h * 3_600_000).toISOString();
const cert = { secretName: 'certs/web', maxAgeHours: 816, minHoursLeft: 24 };

function facts(tags: Record<string, string>, createdHoursAgo = 1000): SecretFacts {
  return {
    createdDate: new Date(hoursAgo(createdHoursAgo)),
    tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

describe('assessing one certificate', () => {
  it('is ok when recently issued and far from expiry', () => {
    expect(assess(cert, facts({ ExpirationDate: inHours(1500), IssuedAt: hoursAgo(100) }), NOW)).toEqual({
      secretName: 'certs/web',
      status: 'ok',
      reason: 'ok',
      hoursLeft: 1500,
      ageHours: 100,
    });
  });

  it('is at risk when overdue for renewal, even with plenty of time left', () => {
    expect(assess(cert, facts({ ExpirationDate: inHours(1000), IssuedAt: hoursAgo(817) }), NOW)).toMatchObject({
      status: 'at-risk',
      reason: 'not renewed for 817 h (overdue after 816 h)',
    });
  });

  it('is at risk within a day of expiry, and after it', () => {
    expect(assess(cert, facts({ ExpirationDate: inHours(23.5), IssuedAt: hoursAgo(10) }), NOW)).toMatchObject({
      status: 'at-risk',
      reason: 'expires in 23.5 h',
    });
    expect(assess(cert, facts({ ExpirationDate: hoursAgo(2) }), NOW)).toMatchObject({
      status: 'at-risk',
      reason: 'expired 2 h ago',
    });
  });

  it('uses the certificate own threshold for day-long certificates', () => {
    const daily = { secretName: 'certs/daily', maxAgeHours: 20, minHoursLeft: 4 };
    expect(assess(daily, facts({ ExpirationDate: inHours(10), IssuedAt: hoursAgo(14) }), NOW).status).toBe('ok');
    expect(assess(daily, facts({ ExpirationDate: inHours(3), IssuedAt: hoursAgo(21) }), NOW)).toMatchObject({
      status: 'at-risk',
      reason: 'expires in 3 h',
    });
  });

  it('gives a new secret a day for its first certificate', () => {
    expect(assess(cert, facts({}, 3), NOW)).toEqual({
      secretName: 'certs/web',
      status: 'pending',
      reason: 'waiting for the first certificate',
      ageHours: 3,
    });
    expect(assess(cert, facts({ ExpirationDate: 'garbage' }, 30), NOW)).toMatchObject({
      status: 'at-risk',
      reason: 'no certificate: the secret has no ExpirationDate tag 30 h after it was created',
    });
  });

  it('is at risk when the secret cannot be described', () => {
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    expect(assess(cert, denied, NOW)).toEqual({
      secretName: 'certs/web',
      status: 'at-risk',
      reason: 'cannot describe the secret: AccessDeniedException: not authorized',
    });
  });
});

describe('a check run', () => {
  const config: CheckConfig = {
    namespace: 'AcmeRotation',
    dimensions: { Stack: 'acme-rotation/dev' },
    certificates: [
      { secretName: 'certs/ok', maxAgeHours: 816, minHoursLeft: 24 },
      { secretName: 'certs/late', maxAgeHours: 128, minHoursLeft: 24 },
      { secretName: 'certs/new', maxAgeHours: 816, minHoursLeft: 24 },
      { secretName: 'certs/gone', maxAgeHours: 816, minHoursLeft: 24 },
    ],
  };
  const secrets: Record<string, SecretFacts> = {
    'certs/ok': facts({ ExpirationDate: inHours(2000), IssuedAt: hoursAgo(10) }),
    'certs/late': facts({ ExpirationDate: inHours(20), IssuedAt: hoursAgo(140) }),
    'certs/new': facts({}, 1),
  };

  it('writes one line per certificate at risk and one metrics line in Embedded Metric Format', async () => {
    const lines: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await runCheck({
      config,
      now: NOW,
      concurrency: 2,
      write: (l) => lines.push(l),
      describe: async (name) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        const found = secrets[name];
        if (!found)
          throw Object.assign(new Error(`Secrets Manager can't find ${name}`), { name: 'ResourceNotFoundException' });
        return found;
      },
    });
    expect(maxInFlight).toBe(2);
    expect(result.checked).toBe(4);
    expect(result.atRisk.map((a) => [a.secretName, a.reason])).toEqual([
      ['certs/late', 'expires in 20 h'],
      ['certs/gone', "cannot describe the secret: ResourceNotFoundException: Secrets Manager can't find certs/gone"],
    ]);
    expect(result.minHoursLeft).toBe(20);

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.slice(0, 2).map((l) => [l.level, l.message, l.secretName])).toEqual([
      ['warn', 'certificate at risk', 'certs/late'],
      ['warn', 'certificate at risk', 'certs/gone'],
    ]);
    expect(parsed[2]).toEqual({
      _aws: {
        Timestamp: NOW.getTime(),
        CloudWatchMetrics: [
          {
            Namespace: 'AcmeRotation',
            Dimensions: [['Stack']],
            Metrics: [
              { Name: 'CertificatesAtRisk', Unit: 'Count' },
              { Name: 'MinHoursToExpiry', Unit: 'None' },
            ],
          },
        ],
      },
      Stack: 'acme-rotation/dev',
      level: 'info',
      message: 'expiry check',
      CertificatesAtRisk: 2,
      MinHoursToExpiry: 20,
      checked: 4,
      pending: 1,
    });
    for (const line of lines) expect(line).not.toContain('\n');
  });

  it('reports zero at risk (an OK datapoint) when all is well', async () => {
    const lines: string[] = [];
    await runCheck({
      config: { ...config, certificates: [config.certificates[0]!] },
      now: NOW,
      write: (l) => lines.push(l),
      describe: async () => secrets['certs/ok']!,
    });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ CertificatesAtRisk: 0, MinHoursToExpiry: 2000 });
  });
});
