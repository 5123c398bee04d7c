/**
 * ACM: the certificates one certificate is deployed to: new ones, created here once with a
 * placeholder, and existing imported ones named by ARN. The rotation re-imports every new
 * certificate into each of them (their ARNs go into the secret's `acme:acm-certificate-arns`
 * tags), so the ARN a listener or a distribution uses never changes.
 *
 * The placeholder is a self-signed certificate for the certificate's names, made at deploy time
 * with a key of the certificate's own key type: ACM re-import cannot change a certificate's key
 * algorithm, so a placeholder of another type would make every rotation refuse the target. After
 * creation the rotation owns the body, chain and key (`ignoreChanges`): a later `pulumi up` must
 * never put the placeholder back over a real certificate. The first rotation, started by the same
 * `pulumi up`, replaces it; the ARNs the stack hands out resolve only after that (watch.ts, the
 * first certificate), so no listener or distribution of the same program is ever given the
 * placeholder.
 *
 * Here: the `acm` setting of a certificate, the AcmCertificates component (declared before the
 * rotation role: its policy names these ARNs), and the grant on exactly those ARNs that the
 * rotation and the watch both hold.
 */
import { type KeyType } from '../rotation/certificate/key-types.js';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';

import { parseAcmArn } from '../rotation/certificate/acm-arns.js';
import type { PolicyStatement } from './iam.js';
import type { AwsContext } from './lambda.js';
import { isRecord, quote, stringList, type AcmTarget, type CertificateSettings, type Problems } from './settings.js';

// The setting.

/** The fields of a certificate's `acm` setting. */
export const ACM_FIELDS = ['regions', 'arns'] as const;

/** An AWS region name: us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2. */
export const AWS_REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The partition of a region (for the length of ARNs not known before deploy time). */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * A certificate's `acm` setting: `{regions: [us-east-1, …]}` (new ACM certificates, one per
 * region) and/or `{arns: [arn:aws:acm:…]}` (existing imported ones). At most one target per
 * region: the stack exports them as a map region → ARN, and one ACM certificate serves every
 * load balancer or distribution of its region. Whether an ARN is of the stack's account is known
 * only at deploy time (checked there).
 */
export function acmTargets(p: Problems, at: string, value: unknown): AcmTarget[] {
  const key = `${at}.acm`;
  if (!isRecord(value)) {
    p.add(key, `expected an object like {regions: [us-east-1]} or {arns: [arn:aws:acm:…]}, got ${quote(value)}`);
    return [];
  }
  for (const field of Object.keys(value)) {
    if (!(ACM_FIELDS as readonly string[]).includes(field)) {
      p.add(`${key}.${field}`, `is not an acm field (known: ${ACM_FIELDS.join(', ')})`);
    }
  }
  const targets: AcmTarget[] = [];
  const byRegion = new Map<string, string>();
  const claim = (region: string, where: string): boolean => {
    const first = byRegion.get(region);
    if (first !== undefined) {
      p.add(
        where,
        `is a second ACM certificate in ${region} (${first} is one): one certificate per region serves every listener and distribution there`,
      );
      return false;
    }
    byRegion.set(region, where.slice(at.length + 1));
    return true;
  };
  if (value.regions !== undefined) {
    const list = stringList(p, `${key}.regions`, value.regions, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const region = item.toLowerCase();
      if (!AWS_REGION_RE.test(region)) {
        p.add(`${key}.regions[${i}]`, `${quote(item)} is not an AWS region name (like us-east-1)`);
      } else if (claim(region, `${key}.regions[${i}]`)) targets.push({ region });
    });
  }
  if (value.arns !== undefined) {
    const list = stringList(p, `${key}.arns`, value.arns, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const parsed = parseAcmArn(item);
      if (typeof parsed === 'string') p.add(`${key}.arns[${i}]`, `${quote(item)} is not one: ${parsed}`);
      else if (claim(parsed.region, `${key}.arns[${i}]`)) targets.push({ region: parsed.region, arn: parsed.arn });
    });
  }
  if (value.regions === undefined && value.arns === undefined) {
    p.add(key, 'needs regions (new ACM certificates) or arns (existing imported ones), or both');
  }
  return targets;
}

/**
 * ARNs as long as the real ones will be, for the tag budget and the rotation's parser: a new
 * certificate's ARN is known only once ACM creates it.
 */
export function probeAcmArns(targets: readonly AcmTarget[]): string[] {
  return targets.map(
    (t) =>
      t.arn ??
      `arn:${partitionOfRegion(t.region)}:acm:${t.region}:000000000000:certificate/00000000-0000-0000-0000-000000000000`,
  );
}

// The grant.

/** What the rotation does with an ACM certificate: check it can take the key, then re-import. */
export const ACM_TARGET_ACTIONS = ['acm:DescribeCertificate', 'acm:ImportCertificate'];

/**
 * Deployment to ACM, on exactly the certificates listed: no `acm:*`, no wildcard. Import into an
 * existing ARN needs no other action (no tags are set on re-import); without an ARN it would
 * create certificates, which the policy cannot allow since it names every resource.
 */
export function acmTargetStatement(arns: readonly string[]): PolicyStatement | undefined {
  const list = [...new Set(arns)].sort();
  if (list.length === 0) return undefined;
  return { Sid: 'DeliverToAcmCertificates', Effect: 'Allow', Action: [...ACM_TARGET_ACTIONS], Resource: list };
}

// The ACM certificates.

export const ACM_CERTIFICATES_TYPE = 'acme-rotation:index:AcmCertificates';

/**
 * The placeholder's validity. It is replaced by the first rotation; a long one keeps the tls
 * provider from planning a new placeholder on a later `pulumi up` (harmless, the ACM certificate
 * ignores it, but noise in every preview). No client trusts it either way: it is self-signed.
 */
export const PLACEHOLDER_VALIDITY_HOURS = 10 * 365 * 24;

/** The tls provider's key arguments for each key type (the same algorithm and size ACM will see). */
export function placeholderKeyArgs(keyType: KeyType): tls.PrivateKeyArgs {
  switch (keyType) {
    case 'ecdsa-p256':
      return { algorithm: 'ECDSA', ecdsaCurve: 'P256' };
    case 'ecdsa-p384':
      return { algorithm: 'ECDSA', ecdsaCurve: 'P384' };
    case 'rsa-2048':
      return { algorithm: 'RSA', rsaBits: 2048 };
    case 'rsa-3072':
      return { algorithm: 'RSA', rsaBits: 3072 };
    case 'rsa-4096':
      return { algorithm: 'RSA', rsaBits: 4096 };
  }
}

/**
 * The placeholder's KeyUsage and ExtendedKeyUsage, the same for every key type. ACM's re-import
 * cannot add either extension when the imported certificate lacks it, nor remove a value it has
 * (EKU clientAuth excepted, and KU keyEncipherment on ECDSA keys): the placeholder must hold both
 * extensions with only the values every CA's TLS server certificate carries.
 * - KU digitalSignature: every TLS server key signs (ECDHE, TLS 1.3).
 * - No KU keyEncipherment, for RSA keys above all: Let's Encrypt's `classic` profile adds it to
 *   RSA certificates (adding a value is allowed), its `tlsserver` profile leaves it out, and ACM
 *   refuses removing it from an RSA certificate. ECDSA keys never take it (RFC 5480).
 * - EKU serverAuth alone: clientAuth is gone from Let's Encrypt's certificates.
 */
export const PLACEHOLDER_ALLOWED_USES = ['digital_signature', 'server_auth'] as const;

/** The longest common name X.509 allows; a longer first name is only in the SANs. */
const MAX_COMMON_NAME = 64;

export interface AcmCertificatesArgs {
  certificate: CertificateSettings;
  aws: AwsContext;
  tags: Record<string, string>;
}

export class AcmCertificates extends pulumi.ComponentResource {
  /** Present only when the certificate asks for new ACM certificates. */
  readonly placeholderKey: tls.PrivateKey | undefined;
  readonly placeholder: tls.SelfSignedCert | undefined;
  /** The ACM certificates created here, by region. */
  readonly created: Record<string, aws.acm.Certificate> = {};
  /** Every target's ARN, sorted (what the secret's tags and the rotation role's policy name). */
  readonly arns: pulumi.Output<string[]>;
  /** Region → ARN, for wiring listeners and distributions (`acmArns["us-east-1"]`). */
  readonly arnsByRegion: pulumi.Output<Record<string, string>>;

  /** Named like the certificate's secret: its resources are <name>-acm-key, <name>-acm-<region>, … */
  constructor(name: string, args: AcmCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ACM_CERTIFICATES_TYPE, name, {}, opts);
    const cert = args.certificate;
    const child = { parent: this };
    const fresh = cert.acm.filter((t) => t.arn === undefined);

    if (fresh.length > 0) {
      this.placeholderKey = new tls.PrivateKey(`${name}-acm-key`, placeholderKeyArgs(cert.keyType), child);
      const first = cert.domains[0] ?? '';
      this.placeholder = new tls.SelfSignedCert(
        `${name}-acm-placeholder`,
        {
          privateKeyPem: this.placeholderKey.privateKeyPem,
          subject: {
            ...(first.length <= MAX_COMMON_NAME ? { commonName: first } : {}),
            organization: 'acme-rotation placeholder',
          },
          dnsNames: cert.domains,
          validityPeriodHours: PLACEHOLDER_VALIDITY_HOURS,
          allowedUses: [...PLACEHOLDER_ALLOWED_USES],
        },
        child,
      );
      for (const { region } of fresh) {
        // The resource's own region (AWS provider 7): it keeps the stack's provider settings —
        // credentials, profile, assumed role, endpoints — which a second provider would not.
        this.created[region] = new aws.acm.Certificate(
          `${name}-acm-${region}`,
          {
            region,
            privateKey: this.placeholderKey.privateKeyPem,
            certificateBody: this.placeholder.certPem,
            tags: args.tags,
          },
          { ...child, ignoreChanges: ['certificateBody', 'certificateChain', 'privateKey'] },
        );
      }
    }

    const existing = cert.acm.filter((t): t is { region: string; arn: string } => t.arn !== undefined);
    const what = `certificate ${cert.name}`;
    const checkedExisting = pulumi.all([args.aws.partition, args.aws.accountId]).apply(([partition, account]) => {
      for (const t of existing) {
        const [, arnPartition, , , arnAccount] = t.arn.split(':');
        if (arnPartition !== partition || arnAccount !== account) {
          throw new Error(
            `${what}: the ACM certificate ${t.arn} is not in this stack's account ${account} (${partition}); ` +
              'the rotation can only re-import into certificates of its own account',
          );
        }
      }
      return existing;
    });
    const createdArns = Object.entries(this.created).map(([region, c]) => c.arn.apply((arn) => ({ region, arn })));
    const all = pulumi
      .all([checkedExisting, pulumi.all(createdArns)])
      .apply(([ext, made]): Array<{ region: string; arn: string }> => [...ext, ...made]);
    this.arns = all.apply((list) => list.map((t) => t.arn).sort());
    this.arnsByRegion = all.apply((list) =>
      Object.fromEntries([...list].sort((a, b) => a.region.localeCompare(b.region)).map((t) => [t.region, t.arn])),
    );

    this.registerOutputs({ arns: this.arns, arnsByRegion: this.arnsByRegion });
  }
}

/** Every ARN of these components' ACM certificates, de-duplicated and sorted (for a role's policy). */
export function allAcmArns(components: readonly AcmCertificates[]): pulumi.Output<string[]> {
  return pulumi.all(components.map((a) => a.arns)).apply((lists) => [...new Set(lists.flat())].sort());
}
