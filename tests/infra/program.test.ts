/**
 * The program as Pulumi runs it (infra/index.ts): stack config and mocks are set BEFORE the
 * program is imported, as the Pulumi engine would have them; its exports are the stack outputs.
 */
import { fileURLToPath } from 'node:url';

import * as pulumi from '@pulumi/pulumi';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { BUNDLE_DIR_ENV, WATCH_BUNDLE_DIR_ENV } from '../../infra/bundle.js';
import { ACCOUNT, AwsMocks, acmArnOf, PROJECT, REGION, STACK, baseConfig, settle, valueOf } from './mocks.js';

const FIXTURE_BUNDLE = fileURLToPath(new URL('./fixtures/bundle', import.meta.url));
const FIXTURE_WATCH_BUNDLE = fileURLToPath(new URL('./fixtures/watch-bundle', import.meta.url));
const mocks = new AwsMocks();

/** Config first, then the program, as the engine does; one mock monitor for the whole file. */
async function runProgram(config: Record<string, string>): Promise<Record<string, unknown>> {
  pulumi.runtime.setAllConfig(config);
  return (await import('../../infra/index.js')) as Record<string, unknown>;
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(mocks, PROJECT, STACK, false);
});

beforeEach(() => {
  mocks.reset();
  vi.resetModules();
  // Deploy fixture bundles: the tests must not rebuild dist/ (it is the lead's working copy).
  vi.stubEnv(BUNDLE_DIR_ENV, FIXTURE_BUNDLE);
  vi.stubEnv(WATCH_BUNDLE_DIR_ENV, FIXTURE_WATCH_BUNDLE);
});

afterEach(async () => {
  await settle(mocks);
  vi.unstubAllEnvs();
});

describe('stack outputs', () => {
  it("exports each certificate's secret ARN and name, the functions' names, the topic ARN and the dashboard", async () => {
    const program = await runProgram(
      baseConfig({
        'acme-rotation:certificates': [
          { name: 'web', domains: ['example.com', '*.example.com'] },
          { name: 'api', domains: ['api.example.org'], profile: 'shortlived' },
        ],
      }),
    );
    expect(Object.keys(program).sort()).toEqual([
      'accountSecretArn',
      'certificates',
      'dashboardName',
      'dashboardUrl',
      'functionName',
      'route53Roles',
      'topicArn',
      'watchFunctionName',
    ]);
    expect(await valueOf(program.watchFunctionName as pulumi.Output<string>)).toBe('acme-rotation-dev-watch');
    expect(await valueOf(program.dashboardName as pulumi.Output<string>)).toBe('acme-rotation-dev-certificates');
    expect(await valueOf(program.dashboardUrl as pulumi.Output<string>)).toBe(
      `https://console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards:name=acme-rotation-dev-certificates`,
    );
    expect(await valueOf(program.functionName as pulumi.Output<string>)).toBe('acme-rotation-dev-rotation');
    expect(await valueOf(program.topicArn as pulumi.Output<string>)).toBe(
      `arn:aws:sns:${REGION}:${ACCOUNT}:acme-rotation-dev-notices`,
    );
    expect(await valueOf(program.accountSecretArn as pulumi.Output<string>)).toBe(
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acme-rotation-dev/acme-account-AbCdEf`,
    );
    const certs = await valueOf(pulumi.output(program.certificates as Record<string, unknown>));
    expect(certs).toEqual({
      web: {
        secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:certs/web-AbCdEf`,
        secretName: 'certs/web',
        hostedZoneIds: ['Z0EXAMPLECOM000000001'],
        schedule: expect.stringMatching(/^every 30 days/),
        acmArns: {},
      },
      api: {
        secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:certs/api-AbCdEf`,
        secretName: 'certs/api',
        hostedZoneIds: ['Z0EXAMPLEORG000000003'],
        schedule: expect.stringMatching(/^every 4 days: 2\/3 of 160 hours/),
        acmArns: {},
      },
    });
    await settle(mocks);
    const fn = mocks.one('aws:lambda/function:Function', 'acme-rotation-rotation');
    expect(await (fn.inputs.code as pulumi.asset.FileArchive).path).toBe(FIXTURE_BUNDLE);
    const watch = mocks.one('aws:lambda/function:Function', 'acme-rotation-watch');
    expect(await (watch.inputs.code as pulumi.asset.FileArchive).path).toBe(FIXTURE_WATCH_BUNDLE);
  });

  it("exports each certificate's ACM certificates by region, to wire listeners and distributions", async () => {
    const existing = `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
    const program = await runProgram(
      baseConfig({
        'acme-rotation:certificates': [
          { name: 'web', domains: ['example.com'], acm: { regions: ['us-east-1'], arns: [existing] } },
        ],
      }),
    );
    const certs = (await valueOf(pulumi.output(program.certificates as Record<string, unknown>))) as Record<
      string,
      { acmArns: Record<string, string> }
    >;
    expect(certs.web?.acmArns).toEqual({
      'eu-west-1': existing,
      'us-east-1': acmArnOf('acme-rotation-cert-web-acm-us-east-1', 'us-east-1'),
    });
    // Exported once the watch function waited for the first certificate behind both ARNs.
    await settle(mocks);
    const wait = mocks.one('aws:lambda/invocation:Invocation', 'acme-rotation-cert-web-first-certificate');
    expect(wait.inputs.functionName).toBe('acme-rotation-dev-watch-await');
    expect(
      String((wait.inputs.triggers as Record<string, string>).acmCertificateArns)
        .split(',')
        .sort(),
    ).toEqual(Object.values(certs.web?.acmArns ?? {}).sort());
  });

  it('exports no account secret for an ephemeral account', async () => {
    const program = await runProgram(baseConfig({ 'acme-rotation:account': 'ephemeral' }));
    expect(program.accountSecretArn).toBeUndefined();
  });

  it('passes the EAB key from the secret config to the account secret', async () => {
    await runProgram(baseConfig({ 'acme-rotation:eabKid': 'kid-7', 'acme-rotation:eabHmacKey': 'aGVsbG8' }));
    await settle(mocks);
    const version = mocks.one('aws:secretsmanager/secretVersion:SecretVersion', 'acme-rotation-acme-account-eab');
    const secret = version.inputs.secretString as { value: string };
    expect(JSON.parse(secret.value)).toEqual({ eab: { kid: 'kid-7', hmac_key: 'aGVsbG8' } });
  });
});

describe('an invalid configuration', () => {
  it('fails before any resource is declared, listing every problem by key', async () => {
    const config = baseConfig({
      'acme-rotation:ca': 'ftp://ca.example',
      'acme-rotation:certificates': [{ name: 'web', domains: ['exa mple.com'] }],
      'acme-rotation:logRetentionDays': '10',
    });
    delete config['aws:ignoreTags'];
    const err = await runProgram(config).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(err?.message).toMatch(/^invalid stack configuration \(4 problems\):/);
    expect(err?.message).toContain('aws:ignoreTags: is not set');
    expect(err?.message).toContain('acme-rotation:ca: "ftp://ca.example" must use https');
    expect(err?.message).toContain('acme-rotation:certificates[0].domains[0]: domain name "exa mple.com" is invalid');
    expect(err?.message).toContain('acme-rotation:logRetentionDays: "10" is not one of');
    await settle(mocks);
    expect(mocks.resources).toEqual([]);
    expect(mocks.calls).toEqual([]);
  });
});
