/**
 * The local ACM, driven through the real SDK v3 ACMClient over HTTP: imports land in the region
 * the client signs for, re-imports keep the ARN, and every refusal the real service makes comes
 * back with its error name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import {
  ACMClient,
  AddTagsToCertificateCommand,
  DescribeCertificateCommand,
  GetCertificateCommand,
  ImportCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  type ImportCertificateCommandInput,
} from '@aws-sdk/client-acm';
import { startLocalAws, type LocalAws, type LocalAwsOptions } from './aws/server.js';
import { AcmService } from './aws/acm.js';
import { inProcessHandler } from './aws/in-process.js';
import {
  CLIENT_AUTH,
  SERVER_AUTH,
  issueCertificate,
  keyPem,
  makeIntermediateCa,
  makeLeaf,
  makeRootCa,
  pooledKey,
  type TestCa,
  type TestLeaf,
} from '../helpers/certs.js';

const ACCOUNT = '123456789012';
const DAY = 86_400_000;

let aws: LocalAws;
let root: TestCa;
let intermediate: TestCa;
const clients: ACMClient[] = [];

function acmClient(target: LocalAws, region: string): ACMClient {
  const client = new ACMClient({
    endpoint: target.url,
    region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

/** The SDK error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/** The ImportCertificate input for a leaf issued by the shared intermediate. */
function importInput(
  leaf: TestLeaf,
  extra: Partial<ImportCertificateCommandInput> = {},
): ImportCertificateCommandInput {
  return {
    Certificate: text(leaf.certPem),
    PrivateKey: text(leaf.keyPem),
    CertificateChain: text(intermediate.certPem),
    ...extra,
  };
}

/** A leaf with a key of any algorithm (also ones the KeyType list lacks) and a chosen serial. */
function leafWith(
  key: KeyObject,
  opts: { serial?: Buffer; notBefore?: Date; notAfter?: Date; eku?: string[]; keyUsage?: number | null } = {},
) {
  const now = Date.now();
  const issued = issueCertificate({
    subjectCn: 'www.example.com',
    subjectO: '',
    key,
    issuer: intermediate,
    notBefore: opts.notBefore ?? new Date(now - 3_600_000),
    notAfter: opts.notAfter ?? new Date(now + 30 * DAY),
    ca: false,
    ...(opts.keyUsage === null ? {} : { keyUsage: opts.keyUsage ?? 0x80 }),
    eku: opts.eku,
    dnsNames: ['www.example.com'],
    ...(opts.serial ? { serial: opts.serial } : {}),
  });
  return { cert: issued.cert, certPem: issued.pem, key, keyPem: keyPem(key) };
}

beforeAll(async () => {
  aws = await startLocalAws();
  root = makeRootCa();
  intermediate = makeIntermediateCa(root);
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await aws.stop();
});

describe('ImportCertificate (new) / DescribeCertificate / GetCertificate', () => {
  it('imports into the region the client signs for and describes the certificate as ACM does', async () => {
    const acm = acmClient(aws, 'eu-west-1');
    const serial = Buffer.from('0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex');
    const key = pooledKey('ecdsa-p256', 1);
    const leaf = leafWith(key, { serial, eku: [SERVER_AUTH, CLIENT_AUTH] });
    const before = Date.now();

    const { CertificateArn: arn } = await acm.send(new ImportCertificateCommand(importInput(leaf)));
    expect(arn).toMatch(/^arn:aws:acm:eu-west-1:123456789012:certificate\/[0-9a-f-]{36}$/);
    const call = aws.calls.find((c) => c.service === 'acm' && c.operation === 'ImportCertificate');
    expect(call?.region).toBe('eu-west-1');

    const { Certificate: d } = await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
    expect(d?.CertificateArn).toBe(arn);
    expect(d?.DomainName).toBe('www.example.com');
    expect(d?.SubjectAlternativeNames).toEqual(['www.example.com']);
    expect(d?.Serial).toBe('0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9');
    expect(d?.KeyAlgorithm).toBe('EC_prime256v1');
    expect(d?.Type).toBe('IMPORTED');
    expect(d?.Status).toBe('ISSUED');
    expect(d?.NotBefore?.getTime()).toBe(Date.parse(leaf.cert.validFrom));
    expect(d?.NotAfter?.getTime()).toBe(Date.parse(leaf.cert.validTo));
    expect(d?.ImportedAt?.getTime()).toBeGreaterThanOrEqual(before);
    expect(d?.ImportedAt?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(d?.Issuer).toBe('acme-rotation tests');
    expect(d?.InUseBy).toEqual([]);
    expect(d?.ExtendedKeyUsages).toEqual([
      { Name: 'TLS_WEB_SERVER_AUTHENTICATION', OID: SERVER_AUTH },
      { Name: 'TLS_WEB_CLIENT_AUTHENTICATION', OID: CLIENT_AUTH },
    ]);

    const got = await acm.send(new GetCertificateCommand({ CertificateArn: arn }));
    expect(got.Certificate).toBe(leaf.certPem);
    expect(got.CertificateChain).toBe(intermediate.certPem);

    const stored = aws.acm.certificate(arn!);
    expect(stored).toMatchObject({
      region: 'eu-west-1',
      certificatePem: leaf.certPem,
      chainPem: intermediate.certPem,
      privateKeyPem: leaf.keyPem,
      serial: '0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9',
      importCount: 1,
    });
    expect(aws.acm.certificates('eu-west-1').map((c) => c.arn)).toContain(arn);
    expect(aws.acm.certificates('us-east-1').map((c) => c.arn)).not.toContain(arn);
  });

  it('takes the key algorithm from the public key, for every algorithm ACM imports', async () => {
    const acm = acmClient(aws, 'us-east-1');
    const keys: Array<[KeyObject, string]> = [
      [generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey, 'RSA_1024'],
      [pooledKey('rsa-2048'), 'RSA_2048'],
      [pooledKey('rsa-3072'), 'RSA_3072'],
      [pooledKey('rsa-4096'), 'RSA_4096'],
      [pooledKey('ecdsa-p256'), 'EC_prime256v1'],
      [pooledKey('ecdsa-p384'), 'EC_secp384r1'],
      [generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, 'EC_secp521r1'],
    ];
    for (const [key, algorithm] of keys) {
      const leaf = leafWith(key, { eku: [SERVER_AUTH] });
      const { CertificateArn } = await acm.send(new ImportCertificateCommand(importInput(leaf)));
      const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn }));
      expect(Certificate?.KeyAlgorithm, algorithm).toBe(algorithm);
    }
  });

  it('imports without a chain, and Get then returns no chain', async () => {
    const acm = acmClient(aws, 'us-east-1');
    const leaf = makeLeaf(intermediate, { dnsNames: ['nochain.example.com'] });
    const { CertificateArn } = await acm.send(
      new ImportCertificateCommand({ Certificate: text(leaf.certPem), PrivateKey: text(leaf.keyPem) }),
    );
    const got = await acm.send(new GetCertificateCommand({ CertificateArn }));
    expect(got.Certificate).toBe(leaf.certPem);
    expect(got.CertificateChain).toBeUndefined();
  });

  it('keeps tags given with a new import and reports InUseBy set by the test', async () => {
    const acm = acmClient(aws, 'us-east-1');
    const leaf = makeLeaf(intermediate, { dnsNames: ['tags.example.com'] });
    const { CertificateArn } = await acm.send(
      new ImportCertificateCommand(importInput(leaf, { Tags: [{ Key: 'owner', Value: 'team' }] })),
    );
    await acm.send(new AddTagsToCertificateCommand({ CertificateArn, Tags: [{ Key: 'env', Value: 'prod' }] }));
    const tags = await acm.send(new ListTagsForCertificateCommand({ CertificateArn }));
    expect(tags.Tags).toEqual([
      { Key: 'owner', Value: 'team' },
      { Key: 'env', Value: 'prod' },
    ]);
    const err = await failure(
      acm.send(new AddTagsToCertificateCommand({ CertificateArn, Tags: [{ Key: 'aws:x', Value: '1' }] })),
    );
    expect(err.name).toBe('InvalidTagException');

    const distribution = `arn:aws:cloudfront::${ACCOUNT}:distribution/E123`;
    aws.acm.setInUseBy(CertificateArn!, [distribution]);
    const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn }));
    expect(Certificate?.InUseBy).toEqual([distribution]);
  });
});

describe('ImportCertificate (re-import)', () => {
  it('keeps the ARN, replaces the certificate and its serial, counts the import', async () => {
    const acm = acmClient(aws, 'ap-southeast-2');
    const first = makeLeaf(intermediate, { dnsNames: ['re.example.com'] });
    const { CertificateArn: arn } = await acm.send(new ImportCertificateCommand(importInput(first)));
    const d1 = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;

    const second = makeLeaf(intermediate, { dnsNames: ['re.example.com', 'www.re.example.com'] });
    const out = await acm.send(new ImportCertificateCommand(importInput(second, { CertificateArn: arn })));
    expect(out.CertificateArn).toBe(arn);

    const d2 = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
    expect(d2?.Serial).not.toBe(d1?.Serial);
    expect(d2?.Serial).toBe(aws.acm.certificate(arn!)?.serial);
    expect(d2?.Serial?.replace(/:/g, '')).toBe(second.cert.serialNumber.toLowerCase());
    expect(d2?.SubjectAlternativeNames).toEqual(['re.example.com', 'www.re.example.com']);
    expect(d2?.CreatedAt?.getTime()).toBe(d1?.CreatedAt?.getTime());
    expect(d2?.ImportedAt?.getTime()).toBeGreaterThanOrEqual(d1!.ImportedAt!.getTime());
    expect((await acm.send(new GetCertificateCommand({ CertificateArn: arn }))).Certificate).toBe(second.certPem);
    expect(aws.acm.certificate(arn!)?.importCount).toBe(2);
    expect(aws.acm.certificates('ap-southeast-2')).toHaveLength(1);
  });

  it('may drop client authentication from the extended key usages', async () => {
    const acm = acmClient(aws, 'us-east-1');
    const key = pooledKey('ecdsa-p256', 2);
    const { CertificateArn } = await acm.send(
      new ImportCertificateCommand(importInput(leafWith(key, { eku: [SERVER_AUTH, CLIENT_AUTH] }))),
    );
    await acm.send(
      new ImportCertificateCommand(importInput(leafWith(key, { eku: [SERVER_AUTH] }), { CertificateArn })),
    );
    const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn }));
    expect(Certificate?.ExtendedKeyUsages).toEqual([{ Name: 'TLS_WEB_SERVER_AUTHENTICATION', OID: SERVER_AUTH }]);
  });
});

describe('what ACM refuses', () => {
  let acm: ACMClient;
  let existingArn: string;

  beforeAll(async () => {
    acm = acmClient(aws, 'us-west-2');
    const leaf = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'] });
    existingArn = (await acm.send(new ImportCertificateCommand(importInput(leaf)))).CertificateArn!;
  });

  async function refusal(input: ImportCertificateCommandInput): Promise<{ name: string; message: string }> {
    const before = aws.acm.certificates().map((c) => [c.arn, c.importCount]);
    const err = await failure(acm.send(new ImportCertificateCommand(input)));
    expect(err.$metadata?.httpStatusCode).toBe(400);
    // Nothing changed.
    expect(aws.acm.certificates().map((c) => [c.arn, c.importCount])).toEqual(before);
    return { name: err.name, message: err.message };
  }

  it('material that is not a PEM certificate', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const der = await refusal({ Certificate: leaf.cert.raw, PrivateKey: text(leaf.keyPem) });
    expect(der).toEqual({
      name: 'ValidationException',
      message: 'The certificate is not PEM-encoded or is not valid.',
    });
    const garbage = await refusal({
      Certificate: text('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n'),
      PrivateKey: text(leaf.keyPem),
    });
    expect(garbage.name).toBe('ValidationException');
  });

  it('a full chain in Certificate', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const r = await refusal({ Certificate: text(leaf.certPem + intermediate.certPem), PrivateKey: text(leaf.keyPem) });
    expect(r).toEqual({
      name: 'ValidationException',
      message:
        'The certificate field contains more than one certificate. You can specify only one certificate in this field.',
    });
  });

  it('a key that does not match the certificate', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const other = keyPem(pooledKey('ecdsa-p256', 3));
    const r = await refusal(importInput(leaf, { PrivateKey: text(other) }));
    expect(r.name).toBe('ValidationException');
    expect(r.message).toMatch(/does not match/);
  });

  it('an encrypted key, a key over 5 KB, a key that is not PEM', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const encrypted = leaf.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' });
    const enc = await refusal(importInput(leaf, { PrivateKey: text(encrypted.toString()) }));
    expect(enc.name).toBe('ValidationException');
    expect(enc.message).toMatch(/encrypted/);

    const big = await refusal(importInput(leaf, { PrivateKey: text(leaf.keyPem + '\n'.repeat(5_200)) }));
    expect(big).toEqual({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value at 'privateKey' failed to satisfy constraint: Member must have length less than or equal to 5120",
    });

    const der = leaf.key.export({ type: 'pkcs8', format: 'der' });
    expect((await refusal(importInput(leaf, { PrivateKey: der }))).name).toBe('ValidationException');
  });

  it('a key algorithm ACM does not support', async () => {
    for (const key of [
      generateKeyPairSync('ed25519').privateKey,
      generateKeyPairSync('rsa', { modulusLength: 1536 }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
    ]) {
      const r = await refusal(importInput(leafWith(key, { eku: [SERVER_AUTH] })));
      expect(r.name).toBe('ValidationException');
      expect(r.message).toMatch(/key algorithm is not supported/);
    }
  });

  it('a certificate outside its validity window', async () => {
    const key = pooledKey('ecdsa-p256', 4);
    const now = Date.now();
    const expired = leafWith(key, { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    expect((await refusal(importInput(expired))).message).toMatch(/expired/);
    const future = leafWith(key, { notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
    expect((await refusal(importInput(future))).message).toMatch(/not valid yet/);
  });

  it('a chain that does not certify the certificate, or that contains it', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const otherCa = makeIntermediateCa(makeRootCa());
    const wrong = await refusal(importInput(leaf, { CertificateChain: text(otherCa.certPem) }));
    expect(wrong.name).toBe('ValidationException');
    // Out of order: the root before the leaf's issuer.
    const reversed = await refusal(importInput(leaf, { CertificateChain: text(root.certPem + intermediate.certPem) }));
    expect(reversed.name).toBe('ValidationException');
    const withLeaf = await refusal(importInput(leaf, { CertificateChain: text(leaf.certPem + intermediate.certPem) }));
    expect(withLeaf.name).toBe('ValidationException');
    // In order, up to the root: accepted.
    const ok = await acm.send(
      new ImportCertificateCommand(importInput(leaf, { CertificateChain: text(intermediate.certPem + root.certPem) })),
    );
    expect(ok.CertificateArn).toMatch(/^arn:aws:acm:us-west-2:/);
  });

  it('re-import into an ARN that does not exist in this region and account', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['x.example.com'] });
    const missing = `arn:aws:acm:us-west-2:${ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000`;
    const r = await refusal(importInput(leaf, { CertificateArn: missing }));
    expect(r).toEqual({ name: 'ResourceNotFoundException', message: `Could not find certificate ${missing}.` });
    const d = await failure(acm.send(new DescribeCertificateCommand({ CertificateArn: missing })));
    expect(d.name).toBe('ResourceNotFoundException');
  });

  it('re-import that changes the key algorithm', async () => {
    const rsa = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'], key: pooledKey('rsa-2048') });
    const r = await refusal(importInput(rsa, { CertificateArn: existingArn }));
    expect(r.name).toBe('ValidationException');
    expect(r.message).toMatch(/key algorithm/);
    const p384 = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'], key: pooledKey('ecdsa-p384') });
    expect((await refusal(importInput(p384, { CertificateArn: existingArn }))).name).toBe('ValidationException');
  });

  it('re-import that drops an extended key usage, or adds the extension', async () => {
    const dropsServerAuth = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'], eku: [CLIENT_AUTH] });
    const r = await refusal(importInput(dropsServerAuth, { CertificateArn: existingArn }));
    expect(r.name).toBe('ValidationException');
    expect(r.message).toMatch(/TLS_WEB_SERVER_AUTHENTICATION/);

    const key = pooledKey('ecdsa-p256', 5);
    const { CertificateArn } = await acm.send(new ImportCertificateCommand(importInput(leafWith(key))));
    const adds = await refusal(importInput(leafWith(key, { eku: [SERVER_AUTH] }), { CertificateArn }));
    expect(adds.name).toBe('ValidationException');
  });

  it('re-import that drops a key usage (keyEncipherment only on ECDSA may go), or adds the extension', async () => {
    const DS = 0x80;
    const KE = 0x20;
    const rsa = pooledKey('rsa-2048', 2);
    const classic = await acm.send(new ImportCertificateCommand(importInput(leafWith(rsa, { keyUsage: DS | KE }))));
    const dropsKe = await refusal(
      importInput(leafWith(rsa, { keyUsage: DS }), { CertificateArn: classic.CertificateArn }),
    );
    expect(dropsKe).toEqual({
      name: 'ValidationException',
      message: 'You cannot remove existing KeyUsage values from the previously imported certificate: KEY_ENCIPHERMENT.',
    });
    const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn: classic.CertificateArn }));
    expect(Certificate?.KeyUsages).toEqual([{ Name: 'DIGITAL_SIGNATURE' }, { Name: 'KEY_ENCIPHERMENT' }]);

    const ec = pooledKey('ecdsa-p256', 6);
    const ecArn = (await acm.send(new ImportCertificateCommand(importInput(leafWith(ec, { keyUsage: DS | KE })))))
      .CertificateArn;
    await acm.send(
      new ImportCertificateCommand(importInput(leafWith(ec, { keyUsage: DS }), { CertificateArn: ecArn })),
    );
    expect((await acm.send(new DescribeCertificateCommand({ CertificateArn: ecArn }))).Certificate?.KeyUsages).toEqual([
      { Name: 'DIGITAL_SIGNATURE' },
    ]);

    const noKu = (await acm.send(new ImportCertificateCommand(importInput(leafWith(ec, { keyUsage: null })))))
      .CertificateArn;
    expect((await acm.send(new DescribeCertificateCommand({ CertificateArn: noKu }))).Certificate?.KeyUsages).toEqual(
      [],
    );
    expect(await refusal(importInput(leafWith(ec, { keyUsage: DS }), { CertificateArn: noKu }))).toEqual({
      name: 'ValidationException',
      message: 'You cannot add a KeyUsage extension that was not present in the previously imported certificate.',
    });
  });

  it('Tags together with CertificateArn, even an empty list', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'] });
    for (const Tags of [[{ Key: 'a', Value: 'b' }], []]) {
      const r = await refusal(importInput(leaf, { CertificateArn: existingArn, Tags }));
      expect(r).toEqual({ name: 'ValidationException', message: 'Tagging is not permitted on re-import.' });
    }
  });

  it('an ARN of another region or account than the request, and a malformed ARN', async () => {
    const leaf = makeLeaf(intermediate, { dnsNames: ['refuse.example.com'] });
    const east = acmClient(aws, 'us-east-1');
    const err = await failure(east.send(new DescribeCertificateCommand({ CertificateArn: existingArn })));
    expect(err.name).toBe('InvalidArnException');
    const imp = await failure(
      east.send(new ImportCertificateCommand(importInput(leaf, { CertificateArn: existingArn }))),
    );
    expect(imp.name).toBe('InvalidArnException');
    expect(aws.acm.certificate(existingArn)?.importCount).toBe(1);

    const otherAccount = existingArn.replace(`:${ACCOUNT}:`, ':210987654321:');
    expect((await refusal(importInput(leaf, { CertificateArn: otherAccount }))).name).toBe('InvalidArnException');
    expect((await refusal(importInput(leaf, { CertificateArn: 'not-an-arn-at-all-really' }))).name).toBe(
      'ValidationException',
    );
  });
});

describe('ListCertificates', () => {
  it('lists the region’s certificates, only RSA 1024/2048 unless keyTypes says otherwise', async () => {
    const local = await startLocalAws();
    try {
      const acm = acmClient(local, 'eu-central-1');
      const rsa = makeLeaf(intermediate, { dnsNames: ['rsa.example.com'], key: pooledKey('rsa-2048') });
      const ec = makeLeaf(intermediate, { dnsNames: ['ec.example.com'] });
      const rsaArn = (await acm.send(new ImportCertificateCommand(importInput(rsa)))).CertificateArn;
      const ecArn = (await acm.send(new ImportCertificateCommand(importInput(ec)))).CertificateArn;
      await acmClient(local, 'us-east-1').send(new ImportCertificateCommand(importInput(rsa)));

      const byDefault = await acm.send(new ListCertificatesCommand({}));
      expect(byDefault.CertificateSummaryList?.map((s) => s.CertificateArn)).toEqual([rsaArn]);

      const all = await acm.send(
        new ListCertificatesCommand({ Includes: { keyTypes: ['RSA_2048', 'EC_prime256v1'] }, MaxItems: 1 }),
      );
      expect(all.CertificateSummaryList?.map((s) => s.CertificateArn)).toEqual([rsaArn]);
      expect(all.NextToken).toBeDefined();
      const page2 = await acm.send(
        new ListCertificatesCommand({
          Includes: { keyTypes: ['RSA_2048', 'EC_prime256v1'] },
          MaxItems: 1,
          NextToken: all.NextToken,
        }),
      );
      expect(page2.CertificateSummaryList).toMatchObject([
        { CertificateArn: ecArn, DomainName: 'ec.example.com', KeyAlgorithm: 'EC_prime256v1', Type: 'IMPORTED' },
      ]);
      expect(page2.NextToken).toBeUndefined();
    } finally {
      await local.stop();
    }
  });
});

describe('quotas, throttling and faults', () => {
  async function withAws(options: LocalAwsOptions, run: (local: LocalAws) => Promise<void>): Promise<void> {
    const local = await startLocalAws(options);
    try {
      await run(local);
    } finally {
      await local.stop();
    }
  }

  it('refuses new imports beyond the certificates quota and imports beyond the yearly quota', async () => {
    let clock = Date.now();
    await withAws({ acmLimits: { maxCertificates: 2, importsPerYear: 4 }, now: () => clock }, async (local) => {
      const acm = acmClient(local, 'us-east-1');
      const long = () =>
        leafWith(pooledKey('ecdsa-p256', 6), { eku: [SERVER_AUTH], notAfter: new Date(clock + 800 * DAY) });
      const a = (await acm.send(new ImportCertificateCommand(importInput(long())))).CertificateArn;
      await acm.send(new ImportCertificateCommand(importInput(long())));
      const third = await failure(acm.send(new ImportCertificateCommand(importInput(long()))));
      expect(third.name).toBe('LimitExceededException');
      // The quota is per region.
      await acmClient(local, 'eu-west-1').send(new ImportCertificateCommand(importInput(long())));

      // Re-imports count toward the yearly quota only.
      await acm.send(new ImportCertificateCommand(importInput(long(), { CertificateArn: a })));
      await acm.send(new ImportCertificateCommand(importInput(long(), { CertificateArn: a })));
      const fifth = await failure(acm.send(new ImportCertificateCommand(importInput(long(), { CertificateArn: a }))));
      expect(fifth.name).toBe('LimitExceededException');
      expect(fifth.message).toMatch(/365 days/);

      clock += 366 * DAY;
      await acm.send(new ImportCertificateCommand(importInput(long(), { CertificateArn: a })));
      expect(local.acm.certificate(a!)?.importCount).toBe(4);
    });
  });

  it('throttles imports past the rate limit, per region, with ThrottlingException', async () => {
    let clock = Date.now();
    await withAws({ acmImportRateLimitPerSecond: 1, now: () => clock }, async (local) => {
      const acm = acmClient(local, 'us-east-1');
      const leaf = makeLeaf(intermediate, { dnsNames: ['rate.example.com'] });
      const { CertificateArn } = await acm.send(new ImportCertificateCommand(importInput(leaf)));
      const err = await failure(acm.send(new ImportCertificateCommand(importInput(leaf))));
      expect(err.name).toBe('ThrottlingException');
      expect(err.message).toBe('Rate exceeded');
      // Reads are not limited; another region has its own bucket.
      await acm.send(new DescribeCertificateCommand({ CertificateArn }));
      await acmClient(local, 'eu-west-1').send(new ImportCertificateCommand(importInput(leaf)));
      clock += 1_000;
      await acm.send(new ImportCertificateCommand(importInput(leaf, { CertificateArn })));
      expect(local.acm.certificates().length).toBe(2);
      expect(local.calls.filter((c) => c.error === 'ThrottlingException')).toHaveLength(1);
    });
  });

  it('injects faults: an error instead of the import, and a lost response after it', async () => {
    await withAws({}, async (local) => {
      const acm = acmClient(local, 'us-east-1');
      const leaf = makeLeaf(intermediate, { dnsNames: ['fault.example.com'] });
      local.addFault({
        service: 'acm',
        operation: 'ImportCertificate',
        action: { type: 'error', error: { code: 'InternalFailure', message: 'boom', status: 500 } },
      });
      const err = await failure(acm.send(new ImportCertificateCommand(importInput(leaf))));
      expect(err.name).toBe('InternalFailure');
      expect(err.$metadata?.httpStatusCode).toBe(500);
      expect(local.acm.certificates()).toHaveLength(0);

      const { CertificateArn } = await acm.send(new ImportCertificateCommand(importInput(leaf)));
      local.addFault({
        service: 'acm',
        operation: 'ImportCertificate',
        match: (input) => (input as { CertificateArn?: string }).CertificateArn === CertificateArn,
        action: { type: 'applyThenError', error: { code: 'ThrottlingException', message: 'Rate exceeded' } },
      });
      const second = makeLeaf(intermediate, { dnsNames: ['fault.example.com'] });
      const lost = await failure(acm.send(new ImportCertificateCommand(importInput(second, { CertificateArn }))));
      expect(lost.name).toBe('ThrottlingException');
      expect(local.acm.certificate(CertificateArn!)?.certificatePem).toBe(second.certPem);
      expect(local.acm.certificate(CertificateArn!)?.importCount).toBe(2);
    });
  });
});

describe('unsigned requests', () => {
  it('refuses a request without a SigV4 credential scope: ACM cannot tell its region', async () => {
    const res = await fetch(aws.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'CertificateManager.ListCertificates',
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(aws.calls.at(-1)).toMatchObject({ service: 'acm', operation: 'ListCertificates' });
    expect(aws.calls.at(-1)?.region).toBeUndefined();
  });
});

describe('in process', () => {
  it('answers an ACMClient from the model, in the region the client signs for', async () => {
    const service = new AcmService();
    const acm = new ACMClient({
      region: 'sa-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: inProcessHandler({ acm: service }),
      maxAttempts: 1,
    });
    clients.push(acm);
    const leaf = makeLeaf(intermediate, { dnsNames: ['inproc.example.com'] });
    const { CertificateArn } = await acm.send(new ImportCertificateCommand(importInput(leaf)));
    expect(CertificateArn).toMatch(/^arn:aws:acm:sa-east-1:123456789012:certificate\//);
    expect(service.certificates('sa-east-1')).toHaveLength(1);
    const err = await failure(
      acm.send(
        new DescribeCertificateCommand({
          CertificateArn: `arn:aws:acm:sa-east-1:${ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000`,
        }),
      ),
    );
    expect(err.name).toBe('ResourceNotFoundException');
    expect(new X509Certificate(service.certificate(CertificateArn!)!.certificatePem).serialNumber).toBe(
      leaf.cert.serialNumber,
    );
  });
});
