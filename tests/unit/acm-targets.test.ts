import { describe, expect, it } from 'vitest';
import { accountOfArn, parseAcmArn, targetProblem, type AcmArn } from '../../rotation/acm/arns.js';

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
    expect(targetProblem(target, imported, 'ecdsa-p384')).toBe(
      'its key algorithm is EC_prime256v1 and acme:key-type asks for ecdsa-p384 (EC_secp384r1); ACM re-import cannot ' +
        'change the algorithm: set acme:key-type to match, or import a new certificate and name its ARN',
    );
  });

  it('not an ACM-issued certificate', () => {
    expect(targetProblem(target, { ...imported, type: 'AMAZON_ISSUED' }, 'ecdsa-p256')).toMatch(
      /^it is an ACM-issued \(AMAZON_ISSUED\) certificate; only imported certificates can be re-imported/,
    );
  });

  it('not a key CloudFront refuses into a us-east-1 certificate CloudFront uses; elsewhere that is fine', () => {
    const distribution = 'arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL';
    const p384 = { type: 'IMPORTED', keyAlgorithm: 'EC_secp384r1', inUseBy: [distribution] };
    expect(targetProblem(target, p384, 'ecdsa-p384')).toBe(
      `CloudFront (${distribution}) uses it, and CloudFront does not accept ecdsa-p384 keys (it takes RSA or ECDSA P-256)`,
    );
    expect(targetProblem(eu, p384, 'ecdsa-p384')).toBeUndefined();
    const alb = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
    expect(targetProblem(target, { ...p384, inUseBy: [alb] }, 'ecdsa-p384')).toBeUndefined();
  });
});
