import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import { startLocalAws, type LocalAws } from './aws/server.js';
import { retryRotation, rotate } from './driver.js';
import { LocalLambda } from './lambda.js';

/** A tiny bundle: behaviour chosen by event.action. */
const FAKE_BUNDLE = `
const loadedAt = Date.now();
let calls = 0;
export async function handler(event, context) {
  calls++;
  switch (event.action) {
    case 'echo':
      console.log('echo ' + JSON.stringify(event));
      return {
        pid: process.pid,
        calls,
        loadedAt,
        functionName: context.functionName,
        awsRequestId: context.awsRequestId,
        remaining: context.getRemainingTimeInMillis(),
        secret: process.env.LAMBDA_RUNNER_TEST_PARENT_ONLY ?? null,
        given: process.env.GIVEN ?? null,
        extraCa: process.env.NODE_EXTRA_CA_CERTS ?? null,
        envKeys: Object.keys(process.env).sort(),
      };
    case 'throw': {
      const err = new Error('the step failed');
      err.name = 'AcmeError';
      throw err;
    }
    case 'hang':
      await new Promise(() => setInterval(() => {}, 1000));
      return null;
    case 'sleep':
      await new Promise((r) => setTimeout(r, event.ms));
      return 'slept';
    case 'exit':
      process.exit(3);
    default:
      return null;
  }
}
`;

describe('LocalLambda', () => {
  let dir: string;
  let bundlePath: string;
  const lambdas: LocalLambda[] = [];
  const make = (opts: Partial<ConstructorParameters<typeof LocalLambda>[0]> = {}) => {
    const l = new LocalLambda({ bundlePath, env: { GIVEN: 'yes' }, functionName: 'test-fn', ...opts });
    lambdas.push(l);
    return l;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lambda-runner-'));
    bundlePath = join(dir, 'index.mjs');
    await writeFile(bundlePath, FAKE_BUNDLE);
    process.env.LAMBDA_RUNNER_TEST_PARENT_ONLY = 'parent-secret';
  });
  afterEach(async () => {
    await Promise.all(lambdas.splice(0).map((l) => l.stop()));
  });
  afterAll(async () => {
    delete process.env.LAMBDA_RUNNER_TEST_PARENT_ONLY;
    await rm(dir, { recursive: true, force: true });
  });

  it('reuses a warm container and passes a Lambda-like context', async () => {
    const lambda = make({ timeoutMs: 60_000 });
    const a = await lambda.invoke({ action: 'echo', n: 1 });
    const b = await lambda.invoke({ action: 'echo', n: 2 });
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    const ra = a.result as Record<string, unknown>;
    const rb = b.result as Record<string, unknown>;
    expect(lambda.coldStarts).toBe(1);
    expect(rb.pid).toBe(ra.pid);
    expect(rb.loadedAt).toBe(ra.loadedAt);
    expect(rb.calls).toBe(2);
    expect(ra.functionName).toBe('test-fn');
    expect(ra.awsRequestId).not.toBe(rb.awsRequestId);
    expect(ra.remaining).toBeGreaterThan(50_000);
    expect(ra.remaining).toBeLessThanOrEqual(60_000);
    expect(lambda.logs).toContain('echo {"action":"echo","n":1}');
    expect(lambda.logs).toContain('echo {"action":"echo","n":2}');
  });

  it('isolates the environment: minimal env plus the given variables only', async () => {
    const lambda = make({ env: { GIVEN: 'yes', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' } });
    const r = await lambda.invoke({ action: 'echo' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const result = r.result as Record<string, unknown>;
    expect(result.secret).toBeNull();
    expect(result.given).toBe('yes');
    expect(result.extraCa).toBe('/nonexistent/ca.pem');
    expect(result.envKeys).toEqual(
      expect.not.arrayContaining(['LAMBDA_RUNNER_TEST_PARENT_ONLY', 'NODE_OPTIONS', 'VITEST']),
    );
  });

  it('propagates handler errors with name and message and keeps the container warm', async () => {
    const lambda = make();
    const r = await lambda.invoke({ action: 'throw' });
    expect(r).toMatchObject({ ok: false, error: { name: 'AcmeError', message: 'the step failed' } });
    expect(r.ok === false && r.crashed).toBeFalsy();
    expect(lambda.logs.some((l) => l.includes('Invoke Error') && l.includes('AcmeError'))).toBe(true);
    const again = await lambda.invoke({ action: 'echo' });
    expect(again.ok).toBe(true);
    expect(lambda.coldStarts).toBe(1);
  });

  it('kill() ends the pending invocation as crashed, and the next invoke cold-starts', async () => {
    const lambda = make();
    const first = await lambda.invoke({ action: 'echo' });
    const pid = lambda.pid;
    expect(first.ok).toBe(true);
    const pending = lambda.invoke({ action: 'hang' });
    setTimeout(() => lambda.kill(), 200);
    const r = await pending;
    expect(r).toMatchObject({ ok: false, crashed: true, error: { name: 'Runtime.ExitError' } });
    expect(r.ok === false && r.error.message).toMatch(/signal: killed/);
    expect(pid).toBeDefined();
    expect(() => process.kill(pid as number, 0)).toThrow();

    const next = await lambda.invoke({ action: 'echo' });
    expect(next.ok).toBe(true);
    expect(lambda.coldStarts).toBe(2);
    expect(lambda.pid).not.toBe(pid);
  });

  it('reports a process exit during an invocation as a crash', async () => {
    const lambda = make();
    const r = await lambda.invoke({ action: 'exit' });
    expect(r).toMatchObject({ ok: false, crashed: true });
    expect(r.ok === false && r.error.message).toMatch(/exit status 3/);
  });

  it('times out an invocation past timeoutMs, kills the container, then cold-starts', async () => {
    const lambda = make({ timeoutMs: 300 });
    const r = await lambda.invoke({ action: 'sleep', ms: 5_000 });
    expect(r).toMatchObject({ ok: false, timedOut: true, error: { name: 'Sandbox.Timedout' } });
    expect(r.durationMs).toBeGreaterThanOrEqual(300);
    expect(r.durationMs).toBeLessThan(3_000);
    const next = await lambda.invoke({ action: 'sleep', ms: 10 });
    expect(next).toMatchObject({ ok: true, result: 'slept' });
    expect(lambda.coldStarts).toBe(2);
  });

  it('reports a bundle without a handler as an init error', async () => {
    const bad = join(dir, 'bad.mjs');
    await writeFile(bad, 'export const notAHandler = 1;\n');
    const lambda = make({ bundlePath: bad });
    const r = await lambda.invoke({});
    expect(r).toMatchObject({ ok: false, error: { name: 'Runtime.HandlerNotFound' } });
  });

  it('serves concurrent invokes one at a time', async () => {
    const lambda = make();
    const [a, b] = await Promise.all([lambda.invoke({ action: 'sleep', ms: 100 }), lambda.invoke({ action: 'echo' })]);
    expect(a.ok && b.ok).toBe(true);
    expect(lambda.coldStarts).toBe(1);
  });

  it('stop() ends the container', async () => {
    const lambda = make();
    await lambda.invoke({ action: 'echo' });
    const pid = lambda.pid as number;
    await lambda.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(lambda.invoke({ action: 'echo' })).rejects.toThrow(/stopped/);
  });
});

/** Records every event; fails the step named in FAIL_STEP for the first FAIL_TIMES calls. */
const RECORDING_BUNDLE = `
let failures = 0;
export const seen = [];
export async function handler(event) {
  console.log('EVENT ' + JSON.stringify(event));
  if (event.Step === process.env.FAIL_STEP && failures < Number(process.env.FAIL_TIMES ?? '0')) {
    failures++;
    const err = new Error('planned failure ' + failures);
    err.name = 'PlannedError';
    throw err;
  }
  return null;
}
`;

describe('rotation driver', () => {
  let dir: string;
  let bundlePath: string;
  let aws: LocalAws;
  let sm: SecretsManagerClient;
  const lambdas: LocalLambda[] = [];
  const make = (env: Record<string, string> = {}) => {
    const l = new LocalLambda({ bundlePath, env });
    lambdas.push(l);
    return l;
  };
  const events = (l: LocalLambda) =>
    l.logs.filter((x) => x.startsWith('EVENT ')).map((x) => JSON.parse(x.slice(6)) as Record<string, string>);

  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    dir = await mkdtemp(join(tmpdir(), 'driver-'));
    bundlePath = join(dir, 'index.mjs');
    await writeFile(bundlePath, RECORDING_BUNDLE);
    aws = await startLocalAws();
    sm = new SecretsManagerClient({
      endpoint: aws.url,
      region: aws.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  afterEach(async () => {
    await Promise.all(lambdas.splice(0).map((l) => l.stop()));
  });
  afterAll(async () => {
    sm?.destroy();
    await aws?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the stub and runs the four steps in order with the token', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'driver/a', SecretString: '{}' }));
    const lambda = make();
    const steps: string[] = [];
    const run = await rotate({ client: sm, lambda, secretId: 'driver/a', onStep: (r) => steps.push(r.step) });
    expect(run.succeeded).toBe(true);
    expect(run.lastError).toBeUndefined();
    expect(steps).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    expect(events(lambda)).toEqual(
      steps.map((Step) => ({ Step, SecretId: 'driver/a', ClientRequestToken: run.token })),
    );
    // RotateSecret made the value-less AWSPENDING stub with the token as its version id.
    expect(aws.secrets.stagesOf(created.ARN as string)[run.token]).toEqual(['AWSPENDING']);
    expect(aws.countCalls('secretsmanager', 'RotateSecret')).toBe(1);
  });

  it('stops at the first failure and retries the whole sequence with the same token', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'driver/b', SecretString: '{}' }));
    const arn = created.ARN as string;
    const lambda = make({ FAIL_STEP: 'testSecret', FAIL_TIMES: '2' });
    const rotateCalls = aws.countCalls('secretsmanager', 'RotateSecret');
    const run = await rotate({ client: sm, lambda, secretId: arn, maxAttempts: 2 });
    expect(run.succeeded).toBe(false);
    expect(run.attempts.map((a) => a.map((s) => s.step))).toEqual([
      ['createSecret', 'setSecret', 'testSecret'],
      ['createSecret', 'setSecret', 'testSecret'],
    ]);
    expect(run.lastError).toEqual({ step: 'testSecret', name: 'PlannedError', message: 'planned failure 2' });
    expect(new Set(events(lambda).map((e) => e.ClientRequestToken))).toEqual(new Set([run.token]));
    expect(events(lambda).every((e) => e.SecretId === arn)).toBe(true);

    // Resuming with the token: no new RotateSecret, the sequence completes.
    const resumed = await retryRotation({ client: sm, lambda, secretId: arn, token: run.token });
    expect(resumed.succeeded).toBe(true);
    expect(resumed.token).toBe(run.token);
    expect(aws.countCalls('secretsmanager', 'RotateSecret')).toBe(rotateCalls + 1);
  });

  it('RotateImmediately=false runs only testSecret', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'driver/c', SecretString: '{"x":1}' }));
    const lambda = make();
    const run = await rotate({ client: sm, lambda, secretId: 'driver/c', rotateImmediately: false });
    expect(run.succeeded).toBe(true);
    expect(run.attempts).toHaveLength(1);
    expect(run.attempts[0]?.map((s) => s.step)).toEqual(['testSecret']);
    // The stub held the current value during the test; afterwards AWSPENDING is removed from it.
    expect(aws.secrets.get('driver/c')?.versions.get(run.token)?.value).toBe('{"x":1}');
    expect(aws.secrets.valueAt('driver/c', 'AWSPENDING')).toBeUndefined();
  });

  it('records a killed invocation as a crashed step', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'driver/d', SecretString: '{}' }));
    const hanging = join(dir, 'hang.mjs');
    await writeFile(
      hanging,
      'export async function handler(e) { if (e.Step === "createSecret") await new Promise(() => setInterval(() => {}, 1000)); return null; }\n',
    );
    const lambda = new LocalLambda({ bundlePath: hanging, env: {} });
    lambdas.push(lambda);
    const pending = rotate({ client: sm, lambda, secretId: 'driver/d' });
    setTimeout(() => lambda.kill(), 300);
    const run = await pending;
    expect(run.succeeded).toBe(false);
    expect(run.lastError?.step).toBe('createSecret');
    expect(run.attempts[0]?.[0]?.result).toMatchObject({ ok: false, crashed: true });
  });
});
