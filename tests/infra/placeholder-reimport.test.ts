/**
 * The component's own ACM placeholder against ACM's re-import rules, for ECDSA and RSA keys.
 *
 * The placeholder's @pulumi/tls inputs are captured from AcmeRotation itself under Pulumi mocks
 * (never retyped here), rendered into a real certificate by an independent implementation —
 * OpenSSL's `req -x509`, each tls `allowedUses` value mapped to its OpenSSL extension name —
 * imported into the local ACM model (tests/local/aws/acm.ts, ACM's import and re-import checks),
 * and then a real certificate issued by Pebble is re-imported over it, as the first rotation does.
 *
 * ACM ("Reimport a certificate"): a KeyUsage or ExtendedKeyUsage extension the imported
 * certificate lacked cannot be added, and a value it had cannot be removed — except EKU
 * clientAuth, and KU keyEncipherment on ECDSA keys. So the placeholder's KU values must be a
 * subset of every later certificate's (checked here on OpenSSL's reading of both), and its EKU
 * must exist and hold only serverAuth (the local ACM model enforces that part). Let's Encrypt's
 * `tlsserver` profile drops RSA keyEncipherment, which `classic` keeps: an RSA certificate of
 * that shape is re-imported over the placeholder too.
 */
import { type KeyType } from '../../rotation/certificate/key-types.js';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as pulumi from '@pulumi/pulumi';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AcmeRotation } from '../../infra/component.js';
import { loadStackArgs } from '../../infra/validate.js';
import { issueCertificate, keyPem, makeRootCa, SERVER_AUTH } from '../helpers/certs.js';
import { AcmService } from '../local/aws/acm.js';
import { startPebble, type Pebble } from '../local/pebble.js';
import { AwsMocks, PROJECT, STACK, baseConfig, settle } from './mocks.js';

const TLS_KEY = 'tls:index/privateKey:PrivateKey';
const TLS_CERT = 'tls:index/selfSignedCert:SelfSignedCert';
const REGION = 'us-east-1';
const DOMAINS = ['example.com', '*.example.com'];
const OLD_ALLOWED_USES = ['digital_signature'];

/** The tls provider's allowedUses values and the OpenSSL extension each becomes. */
const KEY_USAGE: Record<string, string> = {
  digital_signature: 'digitalSignature',
  content_commitment: 'nonRepudiation',
  key_encipherment: 'keyEncipherment',
  data_encipherment: 'dataEncipherment',
  key_agreement: 'keyAgreement',
  cert_signing: 'keyCertSign',
  crl_signing: 'cRLSign',
  encipher_only: 'encipherOnly',
  decipher_only: 'decipherOnly',
};
const EXTENDED_KEY_USAGE: Record<string, string> = {
  any_extended: 'anyExtendedKeyUsage',
  server_auth: 'serverAuth',
  client_auth: 'clientAuth',
  code_signing: 'codeSigning',
  email_protection: 'emailProtection',
  timestamping: 'timeStamping',
  ocsp_signing: 'OCSPSigning',
};
/** KeyUsage names as `openssl x509 -text` prints them. */
const KU_TEXT: Record<string, string> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
};

interface PlaceholderInputs {
  key: Record<string, unknown>;
  cert: Record<string, unknown>;
}

const mocks = new AwsMocks();
let work: string;
let pebble: Pebble;

beforeAll(async () => {
  pulumi.runtime.setAllConfig({ 'aws:ignoreTags': baseConfig()['aws:ignoreTags'] as string });
  await pulumi.runtime.setMocks(mocks, PROJECT, STACK, false);
  work = mkdtempSync(join(tmpdir(), 'acme-placeholder-'));
  // Pebble validates every challenge: this test is about the certificate Pebble signs, not DNS.
  pebble = await startPebble({ dnsServer: '127.0.0.1:1', env: { PEBBLE_VA_ALWAYS_VALID: '1' } });
  acme.axios.defaults.httpsAgent = new Agent({ ca: pebble.listenerCaPem });
});

afterAll(async () => {
  await pebble?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The placeholder's tls inputs, as AcmeRotation declares them for a certificate of `keyType`. */
async function placeholderInputs(keyType: KeyType): Promise<PlaceholderInputs> {
  mocks.reset();
  const raw = baseConfig({
    'acme-rotation:certificates': [{ name: 'web', domains: DOMAINS, keyType, acm: { regions: [REGION] } }],
  });
  const ns = `${PROJECT}:`;
  const { args } = loadStackArgs({
    namespace: PROJECT,
    stack: STACK,
    get: (k) => raw[`${ns}${k}`],
    keys: Object.keys(raw)
      .filter((k) => k.startsWith(ns))
      .map((k) => k.slice(ns.length)),
    awsIgnoreTags: raw['aws:ignoreTags'],
  });
  new AcmeRotation('certs', { ...args, rotationBundleDir: '/repo/dist/rotation', watchBundleDir: '/repo/dist/watch' });
  await settle(mocks);
  const [key, ...moreKeys] = mocks.ofType(TLS_KEY);
  const [cert, ...moreCerts] = mocks.ofType(TLS_CERT);
  expect(moreKeys).toEqual([]);
  expect(moreCerts).toEqual([]);
  if (!key || !cert) throw new Error('AcmeRotation declared no placeholder');
  return { key: key.inputs, cert: cert.inputs };
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { cwd: work, encoding: 'utf8', ...(input ? { input } : {}) });
}

let files = 0;
function file(name: string, content: string): string {
  const path = join(work, `${++files}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** The certificate and key @pulumi/tls would make from these inputs, made by OpenSSL instead. */
function renderWithOpenssl(inputs: PlaceholderInputs, allowedUses?: string[]): { certPem: string; keyPem: string } {
  const { algorithm, ecdsaCurve, rsaBits, ...otherKeyInputs } = inputs.key;
  expect(otherKeyInputs, 'a key input this renderer does not map').toEqual({});
  const keyArgs =
    algorithm === 'ECDSA'
      ? ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${String(ecdsaCurve).replace('P', 'P-')}`]
      : algorithm === 'RSA'
        ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${String(rsaBits)}`]
        : undefined;
  if (!keyArgs) throw new Error(`key algorithm ${String(algorithm)} is not mapped`);
  const keyPath = join(work, `${++files}-key.pem`);
  openssl(['genpkey', ...keyArgs, '-out', keyPath]);

  // privateKeyPem is the key above; everything else the component gives must be mapped here.
  const { privateKeyPem, subject, dnsNames, validityPeriodHours, allowedUses: declared, ...rest } = inputs.cert;
  expect(privateKeyPem).toBeDefined();
  expect(rest, 'a certificate input this renderer does not map').toEqual({});
  const uses = allowedUses ?? (declared as string[]);
  const ku = uses.filter((u) => u in KEY_USAGE).map((u) => KEY_USAGE[u]);
  const eku = uses.filter((u) => u in EXTENDED_KEY_USAGE).map((u) => EXTENDED_KEY_USAGE[u]);
  expect(
    uses.filter((u) => !(u in KEY_USAGE) && !(u in EXTENDED_KEY_USAGE)),
    'unmapped allowedUses',
  ).toEqual([]);
  const { commonName, organization, ...otherSubject } = subject as Record<string, string>;
  expect(otherSubject, 'a subject field this renderer does not map').toEqual({});
  const dn = [commonName ? `/CN=${commonName}` : '', organization ? `/O=${organization}` : ''].join('');
  const hours = validityPeriodHours as number;
  expect(hours % 24).toBe(0);

  // No default extensions from the system's openssl.cnf: only what the inputs say (the tls
  // provider always writes basicConstraints; isCaCertificate unset = not a CA).
  const config = file('req.cnf', '[req]\ndistinguished_name = dn\nx509_extensions = none\n[dn]\n[none]\n');
  const certPath = join(work, `${++files}-cert.pem`);
  openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    config,
    '-key',
    keyPath,
    '-subj',
    dn,
    '-days',
    String(hours / 24),
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    `subjectAltName=${(dnsNames as string[]).map((n) => `DNS:${n}`).join(',')}`,
    ...(ku.length > 0 ? ['-addext', `keyUsage=critical,${ku.join(',')}`] : []),
    ...(eku.length > 0 ? ['-addext', `extendedKeyUsage=${eku.join(',')}`] : []),
    '-out',
    certPath,
  ]);
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}

/** A certificate for DOMAINS from Pebble, with a fresh key of `keyType`: leaf, chain and key. */
async function pebbleCertificate(keyType: KeyType): Promise<{ leaf: string; chain: string; key: string }> {
  const key =
    keyType === 'rsa-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const pem = keyPem(key);
  const [, csr] = await acme.crypto.createCsr({ altNames: DOMAINS }, pem);
  const client = new acme.Client({
    directoryUrl: pebble.directoryUrl,
    accountKey: await acme.crypto.createPrivateEcdsaKey(),
    backoffMin: 20,
    backoffMax: 200,
  });
  const fullchain = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ['dns-01'],
    skipChallengeVerification: true,
    challengeCreateFn: async () => undefined,
    challengeRemoveFn: async () => undefined,
  });
  const [leaf, ...chain] = fullchain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
  if (!leaf) throw new Error('Pebble returned no certificate');
  return { leaf, chain: chain.join(''), key: pem };
}

/** A certificate shaped like Let's Encrypt's `tlsserver` RSA leaf: KU digitalSignature only, EKU serverAuth. */
function tlsserverShapedRsa(): { leaf: string; chain: string; key: string } {
  const ca = makeRootCa();
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const now = Date.now();
  const leaf = issueCertificate({
    subjectO: '',
    key,
    issuer: ca,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 45 * 86_400_000),
    ca: false,
    keyUsage: 0x80,
    eku: [SERVER_AUTH],
    dnsNames: DOMAINS,
  });
  return { leaf: leaf.pem, chain: ca.certPem, key: keyPem(key) };
}

/** KeyUsage values as OpenSSL reads them from the certificate (an independent parser). */
function keyUsages(pem: string): string[] {
  const text = openssl(['x509', '-noout', '-ext', 'keyUsage'], pem);
  const line = text.split('\n').find((l) => /^\s+\S/.test(l)) ?? '';
  return line
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((v) => KU_TEXT[v] ?? v)
    .sort();
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

function importInto(acm: AcmService, material: { leaf: string; chain?: string; key: string }, arn?: string): string {
  const out = acm.handle(
    'ImportCertificate',
    {
      ...(arn ? { CertificateArn: arn } : {}),
      Certificate: b64(material.leaf),
      PrivateKey: b64(material.key),
      ...(material.chain ? { CertificateChain: b64(material.chain) } : {}),
    },
    REGION,
  ) as { CertificateArn: string };
  return out.CertificateArn;
}

describe.each<[KeyType]>([['ecdsa-p256'], ['rsa-2048']])('the ACM placeholder of a %s certificate', (keyType) => {
  const ecdsa = keyType.startsWith('ecdsa');

  it('takes a re-import of a certificate Pebble issued, under the same ARN', async () => {
    const inputs = await placeholderInputs(keyType);
    const placeholder = renderWithOpenssl(inputs);
    const acm = new AcmService();
    const arn = importInto(acm, { leaf: placeholder.certPem, key: placeholder.keyPem });
    expect(acm.certificate(arn)?.extendedKeyUsageOids).toEqual([SERVER_AUTH]);

    const issued = await pebbleCertificate(keyType);
    expect(importInto(acm, issued, arn)).toBe(arn);
    const held = acm.certificate(arn);
    expect(held?.importCount).toBe(2);
    expect(held?.certificatePem).toBe(issued.leaf);
    const serial = new X509Certificate(issued.leaf).serialNumber.toLowerCase();
    expect(held?.serial.replace(/:/g, '')).toBe(serial.length % 2 === 1 ? `0${serial}` : serial);

    // The KU rule (values may be added, never removed; keyEncipherment may go on ECDSA keys).
    const before = keyUsages(placeholder.certPem);
    expect(before).toContain('digitalSignature');
    const after = new Set(keyUsages(issued.leaf));
    expect(before.filter((v) => !after.has(v) && !(ecdsa && v === 'keyEncipherment'))).toEqual([]);
  });

  it("keeps to what Let's Encrypt's tlsserver profile issues too (no RSA keyEncipherment)", async () => {
    const inputs = await placeholderInputs(keyType);
    const placeholder = renderWithOpenssl(inputs);
    expect(keyUsages(placeholder.certPem)).not.toContain('keyEncipherment');
    if (ecdsa) return;
    const acm = new AcmService();
    const arn = importInto(acm, { leaf: placeholder.certPem, key: placeholder.keyPem });
    const tlsserver = tlsserverShapedRsa();
    expect(keyUsages(tlsserver.leaf)).toEqual(['digitalSignature']);
    expect(importInto(acm, tlsserver, arn)).toBe(arn);

    // With keyEncipherment the RSA placeholder would refuse it: ACM keeps every KU value on RSA.
    const declared = inputs.cert.allowedUses as string[];
    const withEncipherment = renderWithOpenssl(inputs, [...declared, 'key_encipherment']);
    const other = importInto(acm, { leaf: withEncipherment.certPem, key: withEncipherment.keyPem });
    expect(() => importInto(acm, tlsserverShapedRsa(), other)).toThrow(/cannot remove existing KeyUsage values/);
  });

  it('would refuse that re-import with a key-usage-only placeholder (no EKU extension)', async () => {
    const placeholder = renderWithOpenssl(await placeholderInputs(keyType), OLD_ALLOWED_USES);
    const acm = new AcmService();
    const arn = importInto(acm, { leaf: placeholder.certPem, key: placeholder.keyPem });
    const issued = await pebbleCertificate(keyType);
    expect(() => importInto(acm, issued, arn)).toThrow(/cannot add an ExtendedKeyUsage extension/);
    expect(acm.certificate(arn)?.importCount).toBe(1);
  });
});
