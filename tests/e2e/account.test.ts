/**
 * End-to-end: the persistent ACME account in ACME_ACCOUNT_SECRET_ID — created on first use in an
 * empty secret, reused by every later rotation, and created exactly once when two rotations race
 * on first use.
 */
import { createPrivateKey } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rotate } from '../local/driver.js';
import type { LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';
import {
  expectConsistentBundle,
  expectNoKeyMaterial,
  noticesFor,
  parseStoredBundle,
  startE2eStack,
  startGateProxy,
  uniqueSecretName,
  uniqueZoneName,
  type E2eStack,
} from './helpers.js';
import { PKCS8_KEY_HEADER } from '../helpers/pem-markers.js';

let e2e: E2eStack | undefined;
let stack: LocalStack;

beforeAll(async () => {
  e2e = await startE2eStack();
  stack = e2e.stack;
});

afterAll(async () => {
  await e2e?.stack.stop();
});

const NEW_ACCOUNT = /POST \/sign-me-up/;

/** A certificate secret for a fresh zone. */
async function certificateSecret(prefix: string) {
  const zoneName = uniqueZoneName(prefix);
  stack.aws.route53.createZone(zoneName);
  const domains = [zoneName, `*.${zoneName}`];
  const secret = await stack.createCertificateSecret(uniqueSecretName(prefix), { domains }, { placeholder: '{}' });
  return { ...secret, domains };
}

async function rotateOk(lambda: LocalLambda, secret: { arn: string; domains: string[] }) {
  const run = await rotate({ client: stack.sm, lambda, secretId: secret.arn });
  expect(run.lastError).toBeUndefined();
  expect(run.succeeded).toBe(true);
  expectConsistentBundle(
    parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')),
    secret.domains,
    'ecdsa-p256',
  );
  return run;
}

/** The account secret's versions (labelled or not) and its AWSCURRENT value, parsed. */
function accountState(arn: string) {
  const record = stack.aws.secrets.get(arn);
  if (!record) throw new Error(`no secret ${arn}`);
  const versions = [...record.versions.values()].map((v) => ({ id: v.id, stages: [...v.stages], value: v.value }));
  const raw = stack.aws.secrets.valueAt(arn, 'AWSCURRENT');
  const stored = raw === undefined ? undefined : (JSON.parse(raw) as Record<string, unknown>);
  return { versions, raw, stored };
}

function expectStoredAccount(stored: Record<string, unknown> | undefined): void {
  expect(stored).toMatchObject({
    private_key: expect.stringContaining(PKCS8_KEY_HEADER),
    account_url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\//),
    directory_url: stack.pebble.directoryUrl,
  });
  expect(createPrivateKey(String(stored?.private_key)).asymmetricKeyType).toBe('ec');
}

describe('persistent ACME account', () => {
  it('is created in an empty secret on first use and reused by another certificate', async () => {
    const account = await stack.createEmptySecret(uniqueSecretName('account'));
    const lambda = e2e!.notifyingLambda({ ACME_ACCOUNT_SECRET_ID: account.arn });
    expect(accountState(account.arn).versions).toEqual([]);

    const first = await certificateSecret('acct-first');
    await rotateOk(lambda, first);

    const created = accountState(account.arn);
    expect(created.versions).toHaveLength(1);
    expect(created.versions[0]?.stages).toEqual(['AWSCURRENT']);
    expectStoredAccount(created.stored);

    // Another certificate: same key, same version, and no new registration at the CA.
    const second = await certificateSecret('acct-second');
    const pebbleFrom = stack.pebble.logs.length;
    await rotateOk(lambda, second);

    expect(accountState(account.arn)).toEqual(created);
    expect(stack.pebble.logs.slice(pebbleFrom).filter((l) => NEW_ACCOUNT.test(l))).toEqual([]);
    expectNoKeyMaterial(stack, [lambda]);
  });

  it('is created exactly once when two rotations race on first use', async () => {
    const account = await stack.createEmptySecret(uniqueSecretName('account-race'));
    // Both functions' writes of the new account are held until both have read the (still empty)
    // secret and written: a real race, every time.
    const isAccountWrite = (target: string, input: Record<string, unknown>) =>
      target === 'secretsmanager.PutSecretValue' && input.SecretId === account.arn;
    const gate = await startGateProxy({ target: stack.aws.url, hold: isAccountWrite, count: 2, maxWaitMs: 10_000 });
    try {
      // Two sandboxes of the function, so the two rotations really run at the same time.
      const lambdas = [1, 2].map(() =>
        e2e!.notifyingLambda({ ACME_ACCOUNT_SECRET_ID: account.arn, AWS_ENDPOINT_URL: gate.url }),
      );
      const secrets = [await certificateSecret('race-a'), await certificateSecret('race-b')];

      const runs = await Promise.all(
        secrets.map((secret, i) =>
          rotate({ client: stack.sm, lambda: lambdas[i] as LocalLambda, secretId: secret.arn }),
        ),
      );

      for (const [i, run] of runs.entries()) {
        expect(run.lastError).toBeUndefined();
        expect(run.succeeded).toBe(true);
        const secret = secrets[i] as (typeof secrets)[number];
        expectConsistentBundle(
          parseStoredBundle(stack.aws.secrets.valueAt(secret.arn, 'AWSCURRENT')),
          secret.domains,
          'ecdsa-p256',
        );
        expect(noticesFor(stack, secret.name).events.map((e) => e.detail.status)).toEqual(['success']);
      }

      // The race happened: two writes of the account, one refused; neither rotation saw it.
      expect(gate.held).toBe(2);
      const writes = stack.aws.calls.filter(
        (c) => c.operation === 'PutSecretValue' && (c.input as { SecretId?: string }).SecretId === account.arn,
      );
      expect(writes.map((c) => c.error ?? 'ok').sort()).toEqual(['ResourceExistsException', 'ok']);

      const state = accountState(account.arn);
      expect(state.versions).toHaveLength(1);
      expect(state.versions[0]?.stages).toEqual(['AWSCURRENT']);
      expectStoredAccount(state.stored);
      for (const lambda of lambdas) {
        expect(lambda.logs.filter((l) => /"level":"(error|warn)"/.test(l))).toEqual([]);
      }
    } finally {
      await gate.stop();
    }
  });
});
