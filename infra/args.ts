/**
 * The arguments of `new AcmeRotation(name, args)`: the stack configuration's keys, typed. The
 * stack route (infra/index.ts) turns its Pulumi config into this same object, and both are
 * validated by one validator (./validate.ts) with the same messages, each naming its field.
 *
 * Fields typed `pulumi.Input` accept another resource's output (a zone's id, a topic's ARN, a
 * key's ARN, a bus): plain values are validated like the stack's; Outputs are taken as given
 * (they are known only at deploy time, where AWS checks them).
 */
import { type KeyType } from '../rotation/certificate/key-types.js';
import type * as pulumi from '@pulumi/pulumi';

/** Where a certificate is deployed to ACM: new certificates by region and/or existing ones by ARN. */
export interface AcmArgs {
  /** New ACM certificates, one per region, created once with a placeholder and re-imported by every rotation. */
  regions?: string[];
  /** Existing imported ACM certificates of the deployment's account (at most one per region). */
  arns?: string[];
}

export interface CertificateArgs<Name extends string = string> {
  /** Names the secret (`<secretNamePrefix><name>`) and its resources. Never rename: a new name is a new secret. */
  name: Name;
  /** The DNS names (wildcards allowed; at most 100). */
  domains: string[];
  /** ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-3072, rsa-4096. */
  keyType?: KeyType;
  /** The CA's ACME profile (Let's Encrypt: classic, tlsserver, shortlived). */
  profile?: string;
  /**
   * The zones of the names (and of CNAME targets); unset = matched against `hostedZones`. An
   * Output (e.g. `zone.zoneId`) is taken as a zone id of the deployment's account.
   */
  hostedZoneIds?: pulumi.Input<string>[];
  /** Record-name patterns the names' `_acme-challenge` CNAMEs point to (needs hostedZoneIds). */
  cnameTargets?: string[];
  /** When to renew: `30d`, `12h`, `rate(20 days)`, `cron(…)`; unset = derived from the lifetime. */
  schedule?: string;
  /** The certificate's lifetime (`90d`, `160h`), for CAs whose lifetime is not built in. */
  lifetime?: string;
  /** The secret's description. */
  description?: string;
  /** Deploy every new certificate to ACM (the output `certificates.<name>.acmArns` maps region → ARN). */
  acm?: AcmArgs;
}

/**
 * A hosted zone in another AWS account: never looked up; the function assumes `roleArn` for
 * every Route 53 call about it.
 */
export interface HostedZoneArgs {
  /** The zone's id (Z…). */
  id: string;
  /** The role in the zone's account the rotation function assumes (the `route53Roles` output says what it needs). */
  roleArn: string;
  /** sts:ExternalId sent with every AssumeRole (one for all roles). */
  externalId?: string;
  /** The zone's name, to match certificates' names against it (otherwise certificates list its id). */
  name?: string;
}

/** One CA of `cas`. */
export interface CaArgs {
  /** `production` or `staging` (Let's Encrypt), or the CA's ACME directory URL (https). */
  ca: string;
  /** Its name in notices, metrics and the `acme:ca` tag; default the directory's host. */
  name?: string;
  /** The ACME profile ordered from it when a certificate names none. */
  profile?: string;
  /** The chain to keep when it offers several (its root's or top issuer's common name). */
  preferredChain?: string;
  /** External Account Binding (ZeroSSL, Google Trust Services, AWS's ACME): the key id, with eabHmacKey. */
  eabKid?: string;
  /** External Account Binding: the HMAC key (base64url). Pass a secret. */
  eabHmacKey?: pulumi.Input<string>;
}

/** Every setting, as the stack configuration has it (docs/DEPLOY.md describes each). */
export interface AcmeRotationArgs<Name extends string = string> {
  /** The certificates: one secret each, renewed by the rotation function. */
  certificates: CertificateArgs<Name>[];
  /**
   * Zones the function may write challenges in: names (public zones, looked up at deploy time),
   * ids (`Z…`, or an Output such as `zone.zoneId`), or zones of other accounts with their role.
   */
  hostedZones?: Array<pulumi.Input<string> | HostedZoneArgs>;
  /** `production` (default) or `staging` (Let's Encrypt), or any ACME directory URL (https). */
  ca?: string;
  /**
   * The CAs to fall back through, in order (ACME_CAS), instead of the one `ca`: the next is asked
   * when one fails on its own terms (unreachable, 5xx, rate-limited past the deadline, an order
   * never valid). Each gets its own account secret. docs/DEPLOY.md shows Let's Encrypt with ZeroSSL.
   */
  cas?: CaArgs[];
  /** Every certificate's lifetime (`90d`), for a CA whose lifetime is not built in. */
  certificateLifetime?: string;
  /** The ACME account's contact address. */
  email?: string;
  /** `persistent` (default: one account key kept in a secret) or `ephemeral` (a new account per rotation). */
  account?: 'persistent' | 'ephemeral';
  /** External Account Binding: the CA's key id (with eabHmacKey; needs account persistent). */
  eabKid?: string;
  /** External Account Binding: the CA's HMAC key (base64url). Pass a secret, e.g. `config.requireSecret(…)`. */
  eabHmacKey?: pulumi.Input<string>;
  /** An e-mail address subscribed to the notices topic. */
  notificationEmail?: string;
  /**
   * An existing SNS topic for the notices, instead of the one this component creates. Its policy
   * is yours: it must let EventBridge (events.amazonaws.com) and CloudWatch alarms
   * (cloudwatch.amazonaws.com) of this account publish (docs/DEPLOY.md).
   */
  notificationTopicArn?: pulumi.Input<string>;
  /** An EventBridge bus (name or ARN) the function publishes Certificate Renewed / Renewal Failed events to. */
  eventBus?: pulumi.Input<string>;
  /** A CloudWatch Logs retention (default 90). */
  logRetentionDays?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** A customer managed KMS key (ARN, not an alias) for the secrets. */
  kmsKeyArn?: pulumi.Input<string>;
  /** Prefix of the certificate secrets' names (default `certs/`). */
  secretNamePrefix?: string;
  /** 0 (delete at once) or 7-30 days (default 30). */
  secretRecoveryWindowDays?: number;
  /**
   * Prefix of named resources (function, roles, log groups, alarms, rules); default
   * `acme-rotation-<stack>`. Two AcmeRotation components in one stack need different ones.
   */
  namePrefix?: string;
  /** The rotation function's memory (default 512). */
  memoryMb?: number;
  /** DNS resolvers to check propagation with (default: the zone's authoritative servers). */
  dnsResolvers?: string | string[];
  dnsPropagationTimeoutSeconds?: number;
  acmeTimeoutSeconds?: number;
  /** When the CA offers several chains, the one ending at this root's common name. */
  preferredChain?: string;
  /** An operator's cap on a certificate's lifetime; unset = the CA decides. */
  maxCertificateLifetimeDays?: number;
  /** A private CA's root certificate(s), PEM: shipped with the functions and trusted. */
  caRootsPem?: string;
  /** When the renewal watch runs: `rate(N minutes|hours)` or a daily `cron(…)` (default `rate(1 hour)`). */
  watchSchedule?: string;
  /** Renewals the watch keeps in flight at once (1-500). */
  watchMaxConcurrentRotations?: number;
  /** Tags of every resource. */
  tags?: Record<string, string>;

  /**
   * When these args were read from Pulumi configuration: its namespace. Problems are then
   * reported under the config keys (`<namespace>:certificates[0].domains`), as the stack does.
   */
  configNamespace?: string;
  /** A prebuilt rotation bundle directory to deploy instead of the package's dist/rotation. */
  rotationBundleDir?: string;
  /** A prebuilt watch bundle directory to deploy instead of the package's dist/watch. */
  watchBundleDir?: string;
}
