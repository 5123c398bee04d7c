import { describe, expect, it } from 'vitest';
import { accountOfArn, parseAcmArn, targetProblem, type AcmArn } from '../../rotation/certificate/acm-arns.js';
import { reimportUsageProblem, type HeldUsages, type UsageProblem } from '../../rotation/acm/usages.js';
import { AcmService } from '../local/aws/acm.js';
import { CLIENT_AUTH, SERVER_AUTH, issueCertificate, keyPem, pooledKey } from '../helpers/certs.js';

const ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const target = parseAcmArn(ARN) as AcmArn;
const eu = parseAcmArn(ARN.replace('us-east-1', 'eu-west-1')) as AcmArn;

describe('ACM certificate ARNs', () => {
  it('parses the parts, the region where the certificate lives among them', () => {
    expect(target).toEqual({
      arn: ARN,
      partition: 'aws',
      region: 'us-east-1',
      account: '123456789012',
      id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    });
    expect(parseAcmArn(ARN.replace('aws', 'aws-us-gov').replace('us-east-1', 'us-gov-west-1'))).toMatchObject({
      partition: 'aws-us-gov',
      region: 'us-gov-west-1',
    });
  });

  it('refuses what is not one, saying what one looks like', () => {
    for (const bad of [
      'arn:aws:acm:us-east-1:123456789012:certificate/nope',
      'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      'arn:aws:acm:us-east-1:12345:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      'arn:aws:acm:useast1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    ]) {
      expect(parseAcmArn(bad)).toMatch(
        /^an ACM certificate ARN looks like arn:aws:acm:us-east-1:123456789012:certificate\//,
      );
    }
  });

  it('reads the account of a secret ARN', () => {
    expect(accountOfArn('arn:aws:secretsmanager:eu-west-1:210987654321:secret:certs/web-AbCdEf')).toBe('210987654321');
    expect(accountOfArn('certs/web')).toBeUndefined();
  });
});

describe('what an ACM certificate can take by re-import', () => {
  const imported = { type: 'IMPORTED', keyAlgorithm: 'EC_prime256v1', inUseBy: [] };

  it('the same key algorithm, into an imported certificate', () => {
    expect(targetProblem(target, imported, 'ecdsa-p256')).toBeUndefined();
    expect(targetProblem(target, { ...imported, keyAlgorithm: 'RSA_2048' }, 'rsa-2048')).toBeUndefined();
  });

  it('not another key algorithm: re-import cannot change it', () => {
    expect(targetProblem(target, imported, 'ecdsa-p384')).toEqual({
      problem:
        'its key algorithm is EC_prime256v1 and acme:key-type asks for ecdsa-p384 (EC_secp384r1); ACM re-import cannot ' +
        'change the algorithm',
      remedy: 'set acme:key-type to match, or import a new certificate and name its ARN',
    });
  });

  it('not an ACM-issued certificate', () => {
    expect(targetProblem(target, { ...imported, type: 'AMAZON_ISSUED' }, 'ecdsa-p256')?.problem).toMatch(
      /^it is an ACM-issued \(AMAZON_ISSUED\) certificate; only imported certificates can be re-imported/,
    );
  });

  it('not a key CloudFront refuses into a us-east-1 certificate CloudFront uses; elsewhere that is fine', () => {
    const distribution = 'arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL';
    const p384 = { type: 'IMPORTED', keyAlgorithm: 'EC_secp384r1', inUseBy: [distribution] };
    expect(targetProblem(target, p384, 'ecdsa-p384')?.problem).toBe(
      `CloudFront (${distribution}) uses it, and CloudFront does not accept ecdsa-p384 keys (it takes RSA or ECDSA P-256)`,
    );
    expect(targetProblem(eu, p384, 'ecdsa-p384')).toBeUndefined();
    const alb = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
    expect(targetProblem(target, { ...p384, inUseBy: [alb] }, 'ecdsa-p384')).toBeUndefined();
  });
});

describe("ACM's KeyUsage / ExtendedKeyUsage re-import rule, named before ImportCertificate is tried", () => {
  const HOUR = 3_600_000;
  const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
  const DS = 0x80; // digitalSignature
  const KE = 0x20; // keyEncipherment

  /** A self-signed certificate with exactly these KU bits (undefined: no KU) and EKUs (undefined: no EKU). */
  function cert(keyType: 'ecdsa-p256' | 'rsa-2048', ku: number | undefined, eku: string[] | undefined, n = 0) {
    const key = pooledKey(keyType, n);
    const issued = issueCertificate({
      subjectCn: 'placeholder.example.com',
      key,
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + 24 * HOUR),
      dnsNames: ['placeholder.example.com'],
      ...(ku !== undefined ? { keyUsage: ku } : {}),
      ...(eku !== undefined ? { eku } : {}),
    });
    return { pem: issued.pem, cert: issued.cert, keyPem: keyPem(key) };
  }

  const b64 = (text: string) => Buffer.from(text).toString('base64');

  /** What the local ACM model (its own KU reader) says of importing `held` and re-importing `next`. */
  function modelVerdict(held: ReturnType<typeof cert>, next: ReturnType<typeof cert>) {
    const acm = new AcmService();
    const { CertificateArn } = acm.handle(
      'ImportCertificate',
      { Certificate: b64(held.pem), PrivateKey: b64(held.keyPem) },
      'us-east-1',
    ) as { CertificateArn: string };
    const described = (acm.handle('DescribeCertificate', { CertificateArn }, 'us-east-1') as { Certificate: Described })
      .Certificate;
    let refusal: string | undefined;
    try {
      acm.handle(
        'ImportCertificate',
        { CertificateArn, Certificate: b64(next.pem), PrivateKey: b64(next.keyPem) },
        'us-east-1',
      );
    } catch (err) {
      refusal = (err as Error).message;
    }
    return { described, refusal };
  }

  interface Described {
    KeyUsages: { Name: string }[];
    ExtendedKeyUsages: { Name: string; OID: string }[];
  }

  const heldOf = (d: Described): HeldUsages => ({
    keyUsages: d.KeyUsages.map((k) => k.Name),
    extendedKeyUsages: d.ExtendedKeyUsages.map((e) => ({ name: e.Name, oid: e.OID })),
  });

  const cases: Array<{
    name: string;
    keyType: 'ecdsa-p256' | 'rsa-2048';
    held: [number | undefined, string[] | undefined];
    next: [number | undefined, string[] | undefined];
    expected: Pick<UsageProblem, 'extension' | 'kind' | 'values'> | undefined;
  }> = [
    {
      name: 'a placeholder without EKU cannot take a serverAuth certificate (the extension would be added)',
      keyType: 'ecdsa-p256',
      held: [DS, undefined],
      next: [DS, [SERVER_AUTH]],
      expected: { extension: 'ExtendedKeyUsage', kind: 'added', values: ['TLS_WEB_SERVER_AUTHENTICATION'] },
    },
    {
      name: 'a certificate without KU cannot take one with KU',
      keyType: 'ecdsa-p256',
      held: [undefined, [SERVER_AUTH]],
      next: [DS, [SERVER_AUTH]],
      expected: { extension: 'KeyUsage', kind: 'added', values: ['DIGITAL_SIGNATURE'] },
    },
    {
      name: "RSA: keyEncipherment (Let's Encrypt classic) cannot be dropped (tlsserver)",
      keyType: 'rsa-2048',
      held: [DS | KE, [SERVER_AUTH]],
      next: [DS, [SERVER_AUTH]],
      expected: { extension: 'KeyUsage', kind: 'removed', values: ['KEY_ENCIPHERMENT'] },
    },
    {
      name: 'ECDSA: keyEncipherment may be dropped',
      keyType: 'ecdsa-p256',
      held: [DS | KE, [SERVER_AUTH]],
      next: [DS, [SERVER_AUTH]],
      expected: undefined,
    },
    {
      name: 'clientAuth may be dropped',
      keyType: 'rsa-2048',
      held: [DS | KE, [SERVER_AUTH, CLIENT_AUTH]],
      next: [DS | KE, [SERVER_AUTH]],
      expected: undefined,
    },
    {
      name: 'another EKU may not be dropped',
      keyType: 'ecdsa-p256',
      held: [DS, [SERVER_AUTH, CODE_SIGNING]],
      next: [DS, [SERVER_AUTH]],
      expected: { extension: 'ExtendedKeyUsage', kind: 'removed', values: ['CODE_SIGNING'] },
    },
    {
      name: 'values may be added to extensions present',
      keyType: 'rsa-2048',
      held: [DS, [SERVER_AUTH]],
      next: [DS | KE, [SERVER_AUTH, CLIENT_AUTH]],
      expected: undefined,
    },
    {
      name: 'a placeholder with KU digitalSignature and EKU serverAuth takes a CA certificate',
      keyType: 'ecdsa-p256',
      held: [DS, [SERVER_AUTH]],
      next: [DS, [SERVER_AUTH]],
      expected: undefined,
    },
  ];

  for (const c of cases) {
    it(`${c.name} — and the local ACM model agrees`, () => {
      const held = cert(c.keyType, ...c.held, 0);
      const next = cert(c.keyType, ...c.next, 1);
      const { described, refusal } = modelVerdict(held, next);
      const found = reimportUsageProblem(heldOf(described), next.cert, c.keyType.startsWith('ecdsa'));
      if (c.expected === undefined) {
        expect(found).toBeUndefined();
        expect(refusal).toBeUndefined();
      } else {
        expect(found).toMatchObject(c.expected);
        expect(found?.remedy).toMatch(/import the new certificate as a new ACM certificate/);
        expect(refusal).toMatch(
          c.expected.kind === 'added' ? /cannot add an? \w+ extension/ : /cannot remove existing/,
        );
        expect(refusal).toContain(c.expected.extension);
      }
    });
  }

  it('names the extension and the values in the problem, and the profile remedy for a removed value', () => {
    const held = cert('rsa-2048', DS | KE, [SERVER_AUTH], 0);
    const next = cert('rsa-2048', DS, [SERVER_AUTH], 1);
    const problem = reimportUsageProblem(heldOf(modelVerdict(held, next).described), next.cert, false);
    expect(problem?.problem).toBe(
      'the certificate it holds has KeyUsage KEY_ENCIPHERMENT and the new one does not; ACM cannot remove a KeyUsage value by re-import',
    );
    expect(problem?.remedy).toMatch(
      /^issue with a profile \(acme:profile\) or CA whose certificates keep KEY_ENCIPHERMENT, or /,
    );
  });
});
