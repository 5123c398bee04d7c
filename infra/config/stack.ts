/**
 * The stack's route: the whole stack configuration read (raw strings, as Pulumi stores them),
 * validated — unknown keys and aws:ignoreTags too — and turned into AcmeRotation's args.
 */
import type { AcmeRotationArgs } from '../args.js';
import { checkIgnoreTags } from './ignore-tags.js';
import { KNOWN_KEYS } from './keys.js';
import { Problems, StackConfigError } from './problems.js';
import type { Settings } from './settings.js';
import { checkSettings } from './validate.js';
import { parseJson } from './values.js';

/** Where the loader reads from: raw string values, as Pulumi stores them (objects as JSON). */
export interface ConfigSource {
  /** The project's config namespace, e.g. `acme-rotation`. */
  namespace: string;
  stack: string;
  /** A key of the namespace (without the `namespace:` prefix). */
  get(key: string): string | undefined;
  /** Every key set in the namespace (without the prefix), for the typo check. */
  keys: readonly string[];
  /** `aws:ignoreTags` of the default AWS provider, raw. */
  awsIgnoreTags: string | undefined;
}

const NUMBER_KEYS = [
  'logRetentionDays',
  'secretRecoveryWindowDays',
  'memoryMb',
  'dnsPropagationTimeoutSeconds',
  'acmeTimeoutSeconds',
  'maxCertificateLifetimeDays',
  'watchMaxConcurrentRotations',
] as const;
const JSON_KEYS = ['certificates', 'hostedZones', 'cas', 'tags'] as const;

/**
 * The stack's route: read and validate the whole stack configuration (unknown keys and
 * aws:ignoreTags too), then turn it into the args AcmeRotation takes — the same validator's
 * input, typed. Throws StackConfigError listing every problem under its config key.
 */
export function loadStackArgs(src: ConfigSource): { args: AcmeRotationArgs; settings: Settings } {
  const p = new Problems(`${src.namespace}:`);
  for (const key of src.keys) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      p.add(key, `is not a setting of this program (known: ${KNOWN_KEYS.join(', ')})`);
    }
  }
  checkIgnoreTags(p, src.awsIgnoreTags);
  const settings = checkSettings(
    p,
    (key) => src.get(key),
    { project: src.namespace, stack: src.stack },
    `${src.namespace}:`,
  );
  if (!settings || p.list.length > 0) throw new StackConfigError(p.list);

  // Valid: whole numbers are numbers, objects and lists parsed, the rest as written.
  const args: Record<string, unknown> = { configNamespace: src.namespace };
  for (const key of KNOWN_KEYS) {
    const raw = src.get(key);
    if (raw === undefined) continue;
    if ((NUMBER_KEYS as readonly string[]).includes(key)) {
      const t = raw.trim();
      if (t !== '') args[key] = Number(t);
    } else if ((JSON_KEYS as readonly string[]).includes(key)) args[key] = parseJson(raw);
    else args[key] = raw;
  }
  return { args: args as unknown as AcmeRotationArgs, settings };
}

/** Read and validate the whole stack configuration; throws StackConfigError listing every problem. */
export function loadSettings(src: ConfigSource): Settings {
  return loadStackArgs(src).settings;
}
