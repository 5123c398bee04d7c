import { describe, expect, it } from 'vitest';
import { AcmeCa } from '../../rotation/acme/ca.js';
import { generatePrivateKey } from '../../rotation/acme/keys.js';
import { AcmeError } from '../../rotation/errors.js';

describe('AcmeCa', () => {
  it('reports a CA that does not answer as unreachable, with the network cause', async () => {
    const ca = new AcmeCa('https://127.0.0.1:1/dir', {
      accountKeyPem: await generatePrivateKey('ecdsa-p256'),
      fresh: true,
      persisted: false,
    });
    const err = await ca.register(undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AcmeError);
    expect((err as AcmeError).code).toBe('AcmeUnreachable');
    expect((err as AcmeError).message).toContain(
      'could not reach the CA at https://127.0.0.1:1/dir during newAccount: ECONNREFUSED',
    );
  });
});
