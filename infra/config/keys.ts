/**
 * The names of the settings: the keys of the stack's config namespace and the arguments of
 * AcmeRotation (anything else is reported as a typo).
 */

/** Every key this program reads in its namespace (anything else is reported as a typo). */
export const KNOWN_KEYS = [
  'certificates',
  'hostedZones',
  'ca',
  'cas',
  'certificateLifetime',
  'email',
  'account',
  'eabKid',
  'eabHmacKey',
  'notificationEmail',
  'notificationTopicArn',
  'eventBus',
  'logRetentionDays',
  'logLevel',
  'kmsKeyArn',
  'secretNamePrefix',
  'secretRecoveryWindowDays',
  'namePrefix',
  'memoryMb',
  'dnsResolvers',
  'dnsPropagationTimeoutSeconds',
  'acmeTimeoutSeconds',
  'preferredChain',
  'maxCertificateLifetimeDays',
  'caRootsPem',
  'watchSchedule',
  'watchMaxConcurrentRotations',
  'tags',
] as const;

/** Every argument of AcmeRotation: the stack's settings and the component's own. */
export const ARG_KEYS = [...KNOWN_KEYS, 'configNamespace', 'rotationBundleDir', 'watchBundleDir'] as const;
