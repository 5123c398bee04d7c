/**
 * The fault matrix: for each step and each external call the rotation makes — Secrets
 * Manager reads and writes, Route 53 lookups, change, GetChange and clean-up, the DNS
 * propagation check, the CA's new-order / authorization / challenge / order poll / finalize /
 * download, and the success notice — inject
 *   - `error`: the call fails (a 5xx / SERVFAIL / CA problem) for the whole first attempt;
 *   - `hang`: the call never answers for the whole first attempt (past any deadline);
 *   - `crash`: the function process dies during the call (after the service acted on it);
 * then remove the fault and retry as Secrets Manager does (same token, the steps again).
 *
 * Every cell must end either `recovered` (the first attempt still succeeded: the SDK's or our
 * retries, or a best-effort call) or `failed → retried` (a clean failure: a failure event naming
 * the step, AWSCURRENT untouched, our TXT values removed — then the retry succeeded). A crash
 * sends no event (the process is gone) and ends `crashed → retried`. EXPECTED below is the
 * table; each test file runs one column of it. After every cell the robustness invariants (invariants.ts) hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retryRotation, rotate, type RotationStep } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import type { CaProxy } from '../local/ca-proxy.js';
import { BUS_NAME, TOPIC_NAME, noticesFor, uniqueSecretName, uniqueZoneName } from './helpers.js';
import { challengeTxtLeft, expectInvariants, snapshotSecret } from './invariants.js';

export type Mode = 'error' | 'hang' | 'crash';
export type Outcome = 'recovered' | 'failed → retried' | 'crashed → retried';

/** The function settings of the matrix: short bounds so hangs end in seconds. */
export const MATRIX_ENV = {
  API_TIMEOUT_SECONDS: '1',
  DNS_PROPAGATION_TIMEOUT_SECONDS: '3',
  ACME_TIMEOUT_SECONDS: '5',
};
/** Function timeout: 20 s are the clean-up reserve, so waits get 10 s. */
export const MATRIX_TIMEOUT_MS = 30_000;

export interface MatrixStack {
  stack: LocalStack & { ca: CaProxy };
  topicArn: string;
  accountArn: string;
  lambda: LocalLambda;
}

export interface Cell {
  /** The external call, e.g. `secretsmanager:PutSecretValue`. */
  call: string;
  /** The step during which the fault is armed. */
  step: RotationStep;
  /** Arms the fault; returns its removal. `kill` ends the function process (crash mode). */
  arm(m: MatrixStack, mode: Mode, kill: () => void, zoneId: string): () => void;
}

const R53_PREFIX = 'route53:';

function awsCell(
  call: string,
  step: RotationStep,
  match?: (input: unknown, zoneId: string) => boolean,
  errorCode = 'InternalFailure',
): Cell {
  const [service, operation] = call.split(':') as ['secretsmanager' | 'route53' | 'sns', string];
  return {
    call,
    step,
    arm: (m, mode, kill, zoneId) =>
      m.stack.aws.addFault({
        service,
        operation,
        ...(match ? { match: (input: unknown) => match(input, zoneId) } : {}),
        times: mode === 'crash' ? 1 : Infinity,
        action:
          mode === 'error'
            ? { type: 'error', error: { code: errorCode, message: `injected ${errorCode}`, status: 500 } }
            : mode === 'hang'
              ? { type: 'hang' }
              : { type: 'applyThenHang' },
        ...(mode === 'crash' ? { onHit: kill } : {}),
      }),
  };
}

function caCell(operation: 'newOrder' | 'authz' | 'challenge' | 'order' | 'finalize' | 'certificate'): Cell {
  return {
    call: `ca:${operation}`,
    step: 'createSecret',
    arm: (m, mode, kill) =>
      m.stack.ca.addFault({
        operation,
        times: mode === 'crash' ? 1 : Infinity,
        action:
          mode === 'error'
            ? {
                type: 'problem',
                problem: {
                  status: 500,
                  type: 'urn:ietf:params:acme:error:serverInternal',
                  detail: `injected failure of ${operation}`,
                },
              }
            : mode === 'hang'
              ? { type: 'hang' }
              : { type: 'applyThenHang' },
        ...(mode === 'crash' ? { onHit: () => kill() } : {}),
      }),
  };
}

const inZone = (input: unknown, zoneId: string): boolean => JSON.stringify(input).includes(zoneId);
const isDelete = (input: unknown): boolean => JSON.stringify(input).includes('"DELETE"');

export const CELLS: Cell[] = [
  awsCell('secretsmanager:DescribeSecret', 'createSecret'),
  awsCell('secretsmanager:GetSecretValue', 'createSecret', undefined, 'InternalServiceError'),
  awsCell('secretsmanager:TagResource', 'createSecret', undefined, 'InternalServiceError'),
  awsCell('secretsmanager:PutSecretValue', 'createSecret', undefined, 'InternalServiceError'),
  awsCell('secretsmanager:UntagResource', 'createSecret', undefined, 'InternalServiceError'),
  awsCell('secretsmanager:GetSecretValue', 'testSecret', undefined, 'InternalServiceError'),
  awsCell('secretsmanager:UpdateSecretVersionStage', 'finishSecret', undefined, 'InternalServiceError'),
  awsCell(`${R53_PREFIX}ListHostedZonesByName`, 'createSecret'),
  awsCell(`${R53_PREFIX}ListResourceRecordSets`, 'createSecret', inZone),
  awsCell(`${R53_PREFIX}ChangeResourceRecordSets`, 'createSecret', (i, z) => inZone(i, z) && !isDelete(i)),
  awsCell(`${R53_PREFIX}GetChange`, 'createSecret'),
  {
    ...awsCell(`${R53_PREFIX}ChangeResourceRecordSets`, 'createSecret', (i, z) => inZone(i, z) && isDelete(i)),
    call: 'route53:ChangeResourceRecordSets (clean-up)',
  },
  {
    call: 'dns:TXT (propagation check)',
    step: 'createSecret',
    arm: (m, mode, kill) =>
      m.stack.dns.addFault({
        type: 'TXT',
        name: /^_acme-challenge\./,
        times: mode === 'crash' ? 1 : Infinity,
        action: mode === 'error' ? 'servfail' : 'drop',
        ...(mode === 'crash' ? { onHit: () => kill() } : {}),
      }),
  },
  caCell('newOrder'),
  caCell('authz'),
  caCell('challenge'),
  caCell('order'),
  caCell('finalize'),
  caCell('certificate'),
  awsCell('sns:Publish', 'finishSecret'),
];

/**
 * How each cell ends, by mode. The tests fail on any difference, in either direction.
 * - Every failure is clean: one failure event naming the step, AWSCURRENT untouched (or, when
 *   only the clean-up failed, the new certificate already promoted and finishSecret failing so
 *   that Secrets Manager retries the clean-up), TXT values removed or recorded for the retry.
 * - A persistent error or hang fails the attempt (the SDK's and our retries run out within it);
 *   the success notice is best-effort and never fails a rotation.
 * - A crash after the service acted (the change applied, the value stored, the order created)
 *   is finished or undone by the retry: in-flight tags name the TXT values to remove, a stored
 *   AWSPENDING value is reused, a promotion is completed.
 * (secretsmanager:GetSecretValue is listed once: its two cells, createSecret and testSecret,
 * end the same way.)
 */
export const EXPECTED: Record<string, Record<Mode, Outcome>> = {
  'secretsmanager:DescribeSecret': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'secretsmanager:GetSecretValue': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'secretsmanager:TagResource': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'secretsmanager:PutSecretValue': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'secretsmanager:UntagResource': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'secretsmanager:UpdateSecretVersionStage': {
    error: 'failed → retried',
    hang: 'failed → retried',
    crash: 'crashed → retried',
  },
  'route53:ListHostedZonesByName': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'route53:ListResourceRecordSets': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'route53:ChangeResourceRecordSets': {
    error: 'failed → retried',
    hang: 'failed → retried',
    crash: 'crashed → retried',
  },
  'route53:GetChange': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'route53:ChangeResourceRecordSets (clean-up)': {
    error: 'failed → retried',
    hang: 'failed → retried',
    crash: 'crashed → retried',
  },
  'dns:TXT (propagation check)': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:newOrder': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:authz': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:challenge': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:order': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:finalize': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'ca:certificate': { error: 'failed → retried', hang: 'failed → retried', crash: 'crashed → retried' },
  'sns:Publish': { error: 'recovered', hang: 'recovered', crash: 'crashed → retried' },
};

export async function startMatrixStack(): Promise<MatrixStack> {
  const stack = await startLocalStack({ route53ChangeDelayMs: 100, caProxy: true });
  try {
    const topicArn = stack.aws.sns.createTopic(TOPIC_NAME);
    stack.aws.events.createEventBus(BUS_NAME);
    const account = await stack.createEmptySecret(uniqueSecretName('matrix-account'));
    const lambda = stack.newLambda(
      {
        ...MATRIX_ENV,
        ACME_ACCOUNT_SECRET_ID: account.arn,
        NOTIFICATION_TOPIC_ARN: topicArn,
        EVENT_BUS_NAME: BUS_NAME,
      },
      { timeoutMs: MATRIX_TIMEOUT_MS },
    );
    // Register the ACME account once, so every cell meets the order flow, not registration.
    const zoneName = uniqueZoneName('warm');
    stack.aws.route53.createZone(zoneName);
    const warm = await stack.createCertificateSecret(uniqueSecretName('warm'), { domains: [zoneName] });
    const run = await rotate({ client: stack.sm, lambda, secretId: warm.arn });
    if (!run.succeeded) throw new Error(`warm-up rotation failed: ${JSON.stringify(run.lastError)}`);
    return { stack, topicArn, accountArn: account.arn, lambda };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

export interface CellResult {
  outcome: Outcome;
  /** The step that failed in the first attempt. */
  failedStep?: string;
  firstError?: string;
}

/** Runs one cell: fresh certificate, fault armed at its step, first attempt, fault removed, retry. */
export async function runCell(m: MatrixStack, cell: Cell, mode: Mode): Promise<CellResult> {
  const { stack, lambda } = m;
  const zoneName = uniqueZoneName('cell');
  const zone = stack.aws.route53.createZone(zoneName);
  const domains = [zoneName, `*.${zoneName}`];
  const secret = await stack.createCertificateSecret(uniqueSecretName('cell'), { domains }, { placeholder: '{}' });
  const before = snapshotSecret(stack, secret.arn, domains);
  const account = { arn: m.accountArn, value: stack.aws.secrets.valueAt(m.accountArn, 'AWSCURRENT') };

  let remove: (() => void) | undefined;
  let first;
  try {
    first = await rotate({
      client: stack.sm,
      lambda,
      secretId: secret.arn,
      onStepStart: (step, attempt) => {
        if (step === cell.step && attempt === 1 && !remove) remove = cell.arm(m, mode, () => lambda.kill(), zone.id);
      },
    });
  } finally {
    remove?.();
  }
  expect(remove, `${cell.call}: the fault was armed`).toBeDefined();

  let outcome: Outcome;
  const failures = noticesFor(stack, secret.name).events.filter((e) => e.detail.status === 'failed');
  if (first.succeeded) {
    outcome = 'recovered';
    expect(failures).toEqual([]);
  } else {
    const crashed = first.attempts[0]?.some((a) => !a.result.ok && a.result.crashed) ?? false;
    outcome = crashed ? 'crashed → retried' : 'failed → retried';
    // AWSCURRENT untouched by the failed attempt.
    expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: false, zoneIds: [], account });
    // The rotation has not ended (Secrets Manager retries it). TXT values still in the zone —
    // a crash, or a clean-up the fault made impossible — must be recorded in the secret's
    // in-flight tags, so that the retry can remove them.
    const recorded = Object.entries(stack.aws.secrets.tagsOf(secret.arn))
      .filter(([key]) => key.startsWith('acme-rotation:inflight'))
      .flatMap(([, value]) => value.split(' '));
    for (const left of challengeTxtLeft(stack, [zone.id])) {
      for (const value of left.values)
        expect(recorded, `${left.name} ${value} is recorded`).toContain(value.replace(/^"|"$/g, ''));
    }
    if (!crashed) {
      // One failure event, for the step that failed (a clean-up failure surfaces at finishSecret).
      const failedStep = first.lastError?.step;
      expect(failures.map((e) => [e.detail.step, e.detail.status])).toEqual([[failedStep, 'failed']]);
      expect(String(failures[0]?.detail.error)).toContain(`secret "${secret.name}" ${failedStep}:`);
    }
    const retry = await retryRotation({ client: stack.sm, lambda, secretId: secret.arn, token: first.token });
    expect(retry.lastError, `${cell.call}/${mode}: retry`).toBeUndefined();
    expect(retry.succeeded).toBe(true);
  }
  expect(challengeTxtLeft(stack, [zone.id])).toEqual([]);
  expectInvariants(stack, { secrets: [before], lambdas: [lambda], finished: true, zoneIds: [zone.id], account });
  expect(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')).not.toBe(before.current); // a new certificate
  return {
    outcome,
    ...(first.lastError ? { failedStep: first.lastError.step, firstError: first.lastError.message } : {}),
  };
}

/** One column of the matrix as a test file: a stack, every cell in turn, the table printed at the end. */
export function defineMatrixColumn(mode: Mode): void {
  let m: MatrixStack | undefined;
  const table: string[] = [];

  beforeAll(async () => {
    m = await startMatrixStack();
  }, 60_000);

  afterAll(async () => {
    console.log(`fault matrix, ${mode}:\n${table.join('\n')}`);
    await m?.stack.stop();
  });

  describe(`fault matrix: ${mode}`, () => {
    for (const cell of CELLS) {
      it(`${cell.call} during ${cell.step}`, async () => {
        const result = await runCell(m!, cell, mode);
        table.push(
          `| ${cell.call} | ${cell.step} | ${result.outcome} | ${result.failedStep ?? ''} | ${result.firstError ?? ''} |`,
        );
        expect(result.outcome).toBe(EXPECTED[cell.call]?.[mode]);
      });
    }
  });
}
