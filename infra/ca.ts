/**
 * The ACME CA and its accounts: `ca` (or `cas`, the CAs to fall back through, in order) and a
 * private CA's roots the functions trust (`caRootsPem`), checked; and the account secrets of
 * persistent accounts: created empty (the rotation function writes the account key on first use),
 * one per CA, opened to the rotation role by a resource policy, holding the CA's External Account
 * Binding credentials when configured.
 */
import { X509Certificate } from 'node:crypto';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { splitPemCertificates } from '../rotation/certificate/bundle.js';
import { CA_NAME_RE, directoryUrlProblem, isProfileName } from '../rotation/certificate/rules.js';
import { MAX_CAS } from '../rotation/config/config.js';
import { allow, policyDocument, policyJson, type PolicyDocument } from './iam.js';
import { LETS_ENCRYPT_DIRECTORIES } from './schedules.js';
import { isPending, isRecord, optionalString, parseJson, quote, type Problems } from './settings.js';

// The settings.

/** `production` / `staging` / an https directory URL; undefined when invalid (reported under `key`). */
export function directoryUrl(p: Problems, raw: string | undefined, key = 'ca'): string | undefined {
  const value = optionalString(raw) ?? 'production';
  if (value === 'production' || value === 'staging') return LETS_ENCRYPT_DIRECTORIES[value];
  switch (directoryUrlProblem(value)) {
    case 'not-a-url':
      p.add(
        key,
        `${quote(value)} is neither production, staging nor a URL (an ACME directory like https://acme.example/directory)`,
      );
      return undefined;
    case 'not-https':
      p.add(key, `${quote(value)} must use https (RFC 8555 requires TLS)`);
      return undefined;
    default:
      return value;
  }
}

/** One CA of the ordered list the function falls back through (ACME_CAS). */
export interface CaSetting {
  /** ACME_CAS `name`: the `acme:ca` tag and the notices name the CA by it; default the directory's host. */
  name: string;
  directoryUrl: string;
  profile?: string;
  preferredChain?: string;
  /** External Account Binding key id (its HMAC key stays in the args: a secret). */
  eabKid?: string;
  /** Its ACME account secret (persistent accounts): the first CA's is `<namePrefix>/acme-account`. */
  accountSecretName: string;
}

const CA_ENTRY_KEYS = ['ca', 'name', 'profile', 'preferredChain', 'eabKid', 'eabHmacKey'] as const;
const BASE64URL_RE = /^[A-Za-z0-9_-]+={0,2}$/;

/** The account secret of the CA at `index`: the first keeps the one-CA name, so adding CAs moves nothing. */
export function caAccountSecretName(namePrefix: string, index: number, caName: string): string {
  return index === 0
    ? `${namePrefix}/acme-account`
    : `${namePrefix}/acme-account-${caName.replace(/[^A-Za-z0-9_+=.@-]/g, '-')}`;
}

/**
 * `cas`: the CAs to fall back through, in order, each `{ca, name?, profile?, preferredChain?,
 * eabKid?, eabHmacKey?}` (`ca` as the one-CA setting: production, staging or a URL). Undefined
 * when not given or invalid (reported).
 */
export function caList(
  p: Problems,
  given: unknown,
  opts: { namePrefix: string; persistentAccount: boolean; accountKey: string },
): CaSetting[] | undefined {
  if (given === undefined || given === null) return undefined;
  const value = typeof given === 'string' ? parseJson(given) : given;
  if (!Array.isArray(value) || value.length === 0) {
    p.add(
      'cas',
      `expected a non-empty list of CAs like [{"ca": "production"}, {"ca": "https://…/directory", "eabKid": "…"}], got ${quote(value)}`,
    );
    return undefined;
  }
  if (value.length > MAX_CAS) {
    p.add('cas', `lists ${value.length} CAs; at most ${MAX_CAS} (each one that fails costs the rotation time)`);
    return undefined;
  }
  const start = p.list.length;
  const out: CaSetting[] = [];
  value.forEach((item: unknown, i) => {
    const at = `cas[${i}]`;
    if (!isRecord(item)) {
      p.add(at, `expected {"ca": "production" | "staging" | "https://…/directory", …}, got ${quote(item)}`);
      return;
    }
    for (const key of Object.keys(item)) {
      if (!(CA_ENTRY_KEYS as readonly string[]).includes(key))
        p.add(`${at}.${key}`, `is not a CA setting (${CA_ENTRY_KEYS.join(', ')})`);
    }
    const str = (key: (typeof CA_ENTRY_KEYS)[number]): string | undefined => {
      const v = item[key];
      if (v === undefined || v === null || isPending(v)) return undefined;
      if (typeof v !== 'string') {
        p.add(`${at}.${key}`, `expected text, got ${quote(v)}`);
        return undefined;
      }
      return optionalString(v);
    };
    if (str('ca') === undefined) p.add(`${at}.ca`, "is required: production, staging or the CA's ACME directory URL");
    const url = directoryUrl(p, str('ca'), `${at}.ca`);
    if (!url) return;
    const name = str('name') ?? new URL(url).host;
    if (!CA_NAME_RE.test(name)) {
      p.add(
        `${at}.name`,
        `${quote(name)}: 1 to 63 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
      );
    }
    const profile = str('profile');
    if (profile !== undefined && !isProfileName(profile)) {
      p.add(`${at}.profile`, `${quote(profile)} is not a profile name (1 to 64 letters, digits, ".", "_" or "-")`);
    }
    const eabKid = str('eabKid');
    const hmac = item.eabHmacKey;
    const hmacGiven = hmac !== undefined && hmac !== null;
    if ((eabKid === undefined) !== !hmacGiven) {
      p.add(
        `${at}.${eabKid === undefined ? 'eabKid' : 'eabHmacKey'}`,
        'External Account Binding needs both eabKid and eabHmacKey',
      );
    }
    if (typeof hmac === 'string' && !BASE64URL_RE.test(hmac.trim())) {
      p.add(`${at}.eabHmacKey`, 'is not a base64url HMAC key as issued by the CA (set it as a secret)');
    }
    if (eabKid !== undefined && !opts.persistentAccount) {
      p.add(
        `${at}.eabKid`,
        `External Account Binding needs ${opts.accountKey}=persistent (the credentials live in the account secret)`,
      );
    }
    const preferredChain = str('preferredChain');
    out.push({
      name,
      directoryUrl: url,
      ...(profile ? { profile } : {}),
      ...(preferredChain ? { preferredChain } : {}),
      ...(eabKid ? { eabKid } : {}),
      accountSecretName: caAccountSecretName(opts.namePrefix, i, name),
    });
  });
  for (const key of ['name', 'directoryUrl'] as const) {
    const seen = new Map<string, number>();
    out.forEach((ca, i) => {
      const folded = ca[key].toLowerCase();
      const first = seen.get(folded);
      if (first !== undefined)
        p.add(
          `cas[${i}]`,
          `has the same ${key === 'name' ? 'name' : 'directory'} as cas[${first}] (${quote(ca[key])})`,
        );
      else seen.set(folded, i);
    });
  }
  return p.list.length > start ? undefined : out;
}

/**
 * A private CA's root certificates (PEM): every block must be a CA certificate, so a leaf or a key
 * pasted by mistake is caught at `pulumi preview`, not in the first rotation's testSecret.
 */
export function caRoots(p: Problems, raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/PRIVATE KEY-----/.test(raw)) {
    p.add('caRootsPem', "holds a private key: give only the CA's root certificate(s)");
    return undefined;
  }
  const blocks = splitPemCertificates(raw);
  if (blocks.length === 0) {
    p.add('caRootsPem', 'holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)');
    return undefined;
  }
  for (const [i, pem] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      p.add('caRootsPem', `certificate ${i + 1} does not parse as X.509`);
      return undefined;
    }
    if (!cert.ca) {
      const name = cert.subject ? cert.subject.replace(/\n/g, ', ') : (cert.subjectAltName ?? 'no name');
      p.add('caRootsPem', `certificate ${i + 1} (${name}) is not a CA certificate`);
    }
  }
  return blocks.join('');
}

// The account secrets.

export const ACCOUNT_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
];

/** Resource policy of the ACME account secret: the rotation reads it and stores a new account. */
export function accountSecretPolicy(args: { secretArn: string; rotationRoleArn: string }): PolicyDocument {
  return policyDocument([
    allow('RotationUsesAcmeAccount', ACCOUNT_SECRET_ACTIONS, args.secretArn, {
      principal: { AWS: args.rotationRoleArn },
    }),
  ]);
}

export const ACME_ACCOUNT_TYPE = 'acme-rotation:index:AcmeAccount';

export interface AcmeAccountArgs {
  secretName: string;
  /** `namespace/stack`, for the description. */
  stackLabel: string;
  kmsKeyArn?: pulumi.Input<string>;
  recoveryWindowDays: number;
  rotationRoleArn: pulumi.Input<string>;
  /** External Account Binding: the key id and the HMAC key (a secret Output); both or neither. */
  eab?: { kid: string; hmacKey: pulumi.Input<string> };
  /**
   * The account secrets of the CAs after the first (`cas`), in order: one account per CA, never
   * shared (a CA's account key means nothing to another CA).
   */
  fallbacks?: { secretName: string; caName: string; eab?: { kid: string; hmacKey: pulumi.Input<string> } }[];
  tags: Record<string, string>;
}

export class AcmeAccount extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly secretPolicy: aws.secretsmanager.SecretPolicy;
  readonly eabVersion: aws.secretsmanager.SecretVersion | undefined;
  /** The account secrets of the CAs after the first, in `cas` order. */
  readonly fallbackSecrets: aws.secretsmanager.Secret[];
  /** What a rotation must wait for: the account secret usable by the function. */
  readonly ready: pulumi.Resource[];

  /** Named like AcmeRotation: its resources are <name>-acme-account (-policy, -eab), then <name>-acme-account-<n>, … */
  constructor(name: string, args: AcmeAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ACME_ACCOUNT_TYPE, name, {}, opts);
    const child = { parent: this };

    const one = (
      id: string,
      secretName: string,
      what: string,
      eab: { kid: string; hmacKey: pulumi.Input<string> } | undefined,
    ) => {
      const secret = new aws.secretsmanager.Secret(
        id,
        {
          name: secretName,
          description: `acme-rotation ${args.stackLabel}: ACME account key${what} (written by the rotation function on first use)`,
          ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
          recoveryWindowInDays: args.recoveryWindowDays,
          tags: args.tags,
        },
        child,
      );
      const secretPolicy = new aws.secretsmanager.SecretPolicy(
        `${id}-policy`,
        {
          secretArn: secret.arn,
          policy: pulumi
            .all([secret.arn, args.rotationRoleArn])
            .apply(([secretArn, roleArn]) => policyJson(accountSecretPolicy({ secretArn, rotationRoleArn: roleArn }))),
          blockPublicPolicy: true,
        },
        child,
      );
      // The CA's EAB credentials, where the function looks for them. Safe to write again: the
      // function keeps the registered account in its own version (one id per directory URL) and
      // only uses EAB to register a new account.
      const eabVersion = eab
        ? new aws.secretsmanager.SecretVersion(
            `${id}-eab`,
            {
              secretId: secret.id,
              secretString: pulumi
                .secret(eab.hmacKey)
                .apply((hmacKey) => JSON.stringify({ eab: { kid: eab.kid, hmac_key: hmacKey } })),
            },
            child,
          )
        : undefined;
      return { secret, secretPolicy, eabVersion };
    };

    const first = one(`${name}-acme-account`, args.secretName, '', args.eab);
    this.secret = first.secret;
    this.secretPolicy = first.secretPolicy;
    this.eabVersion = first.eabVersion;
    const more = (args.fallbacks ?? []).map((f, i) =>
      one(`${name}-acme-account-${i + 1}`, f.secretName, ` for CA ${f.caName}`, f.eab),
    );
    this.fallbackSecrets = more.map((m) => m.secret);
    this.ready = [first, ...more].flatMap((m) => [m.secretPolicy, ...(m.eabVersion ? [m.eabVersion] : [])]);

    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
