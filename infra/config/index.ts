/**
 * Stack configuration and component args: read, validated and normalised BEFORE any resource is
 * declared (pure; no Pulumi). Every problem is reported at once, each message starting with the
 * key it is about (`acme-rotation:certificates[1].domains[0]: …`), so one `pulumi preview` shows
 * them all.
 *
 * - `validate.ts` — the one validator of both routes; `typed-args.ts` — the component's route;
 *   `stack.ts` — the stack's route (raw config, unknown keys, aws:ignoreTags);
 * - `certificate.ts`, `acm.ts`, `hosted-zones.ts`, `ca.ts`, `schedules.ts` (lifetimes, rotation
 *   and watch schedules), `tags.ts` (stack tags, spec tags and their budget), `ignore-tags.ts`;
 * - `settings.ts` — what the validator produces; `keys.ts` — the settings' names;
 *   `problems.ts` and `values.ts` — reporting, and reading a value as given.
 */
// The function's timeout and its clean-up reserve (README: a slow rotation needs 300 + 180 + 20 s).
export { CLEANUP_RESERVE_SECONDS, FUNCTION_TIMEOUT_SECONDS } from '../../rotation/lib/deadline.js';
export { CERTIFICATE_FIELDS } from './certificate.js';
export { ignoreTagsProblems } from './ignore-tags.js';
export { ARG_KEYS, KNOWN_KEYS } from './keys.js';
export { StackConfigError } from './problems.js';
export {
  LOG_LEVELS,
  LOG_RETENTION_DAYS,
  type AcmTarget,
  type CertificateSettings,
  type LogLevel,
  type Origin,
  type Settings,
} from './settings.js';
export { loadSettings, loadStackArgs, type ConfigSource } from './stack.js';
export { MAX_TAGS_PER_SECRET } from '../../rotation/certificate/tags.js';
export { validateArgs } from './typed-args.js';
