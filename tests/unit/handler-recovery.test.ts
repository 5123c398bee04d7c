import { describe, expect, it } from 'vitest';
import { createHandler, type Services } from '../../rotation/handler.js';
import { ConfigError } from '../../rotation/errors.js';
import type { FailureEvent } from '../../rotation/aws/notify.js';
import { bundleFor, makeWorld, OLD, SECRET_ARN, SECRET_NAME, TOKEN } from './fakes.js';

describe('handler: getting unstuck and saying which secret failed', () => {
  it('refuses a pending bundle that no longer matches the tags, naming the difference and the way out', async () => {
    // createSecret stored a bundle for example.com; then the spec gained www.example.com.
    const w = makeWorld({
      domains: ['example.com', 'www.example.com'],
      versions: {
        [OLD]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSCURRENT'] },
        [TOKEN]: { value: JSON.stringify(bundleFor(['example.com'])), stages: ['AWSPENDING'] },
      },
    });
    const err = await w.invoke('createSecret').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(`secret "${SECRET_NAME}": the pending certificate (version ${TOKEN})`);
    expect(err?.message).toContain('missing www.example.com');
    expect(err?.message).toContain(`aws secretsmanager cancel-rotate-secret --secret-id ${SECRET_NAME}`);
    expect(w.caRequests()).toBe(0);
    expect(w.sm.stages(SECRET_ARN)[OLD]).toEqual(['AWSCURRENT']);
  });

  it('sends the RotationToken with PutSecretValue (assumed-role and cross-account rotation)', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    await w.handler(
      { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN, RotationToken: 'rot-token-1' },
      { getRemainingTimeInMillis: () => 900_000 },
    );
    expect(w.sm.puts().map((p) => p.RotationToken)).toEqual(['rot-token-1']);
    expect(w.log.raw.join('\n')).not.toContain('rot-token-1');
  });

  it('prefixes errors that do not name the secret with the secret and the step', async () => {
    const w = makeWorld({ domains: ['example.com'] });
    w.onPropagation = () => {
      throw new Error('resolver exploded');
    };
    const err = await w.invoke('createSecret').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`secret "${SECRET_NAME}" createSecret: resolver exploded`);
  });

  it('reports a broken configuration as a failed step through the init-failure reporter', async () => {
    const reported: FailureEvent[] = [];
    const handler = createHandler(
      (): Services => {
        throw new ConfigError('ACME_DIRECTORY_URL is not set');
      },
      async (e) => {
        reported.push(e);
      },
    );
    await expect(handler({ Step: 'createSecret', SecretId: 'certs/a', ClientRequestToken: TOKEN })).rejects.toThrow(
      'secret "certs/a" createSecret: ACME_DIRECTORY_URL is not set',
    );
    expect(reported).toEqual([
      expect.objectContaining({
        status: 'failed',
        step: 'createSecret',
        secret_name: 'certs/a',
        error_code: 'InvalidConfig',
        version_id: TOKEN,
      }),
    ]);
  });
});
