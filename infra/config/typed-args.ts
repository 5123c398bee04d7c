/**
 * The component's route: AcmeRotation's typed args, checked by the one validator, each problem
 * under its field (or under its config key when the args were read from Pulumi config).
 */
import type { AcmeRotationArgs } from '../args.js';
import { ARG_KEYS } from './keys.js';
import { Problems, StackConfigError, quote } from './problems.js';
import type { Origin, Settings } from './settings.js';
import { checkSettings } from './validate.js';

/**
 * Validate AcmeRotation's args (the component's route); throws StackConfigError listing every
 * problem, each under its field (`certificates[0].domains[1]: …`), or under the config key when
 * `args.configNamespace` says they were read from Pulumi config.
 */
export function validateArgs(args: AcmeRotationArgs, origin: Origin, what = 'AcmeRotation arguments'): Settings {
  const ns = args.configNamespace;
  const p = new Problems(ns ? `${ns}:` : '');
  const values = args as unknown as Record<string, unknown>;
  if (typeof values !== 'object' || values === null)
    throw new StackConfigError([`expected an object, got ${quote(args)}`], what);
  for (const key of Object.keys(values)) {
    if (!(ARG_KEYS as readonly string[]).includes(key) && values[key] !== undefined) {
      p.add(key, `is not an argument of AcmeRotation (known: ${ARG_KEYS.join(', ')})`);
    }
  }
  const settings = checkSettings(p, (key) => values[key], origin, ns ? `${ns}:` : '');
  if (!settings || p.list.length > 0) throw new StackConfigError(p.list, ns ? 'stack configuration' : what);
  return settings;
}
