/**
 * `aws:ignoreTags` of the default AWS provider: it must leave alone the tags the rotation and the
 * renewal watch write on the secrets, or `pulumi up` would delete them.
 */
import { STATE_TAG_PREFIX, STATUS_TAG_KEYS, WRITTEN_TAG_PREFIXES } from '../../rotation/certificate/tags.js';
import { isRecord, Problems, quote } from '../settings.js';

/** The tag-key prefixes aws:ignoreTags must cover: the rotation's in-flight tags and the watch's. */
export const IGNORED_TAG_PREFIXES = WRITTEN_TAG_PREFIXES;
/** The one prefix both share, which also does. */
export const IGNORED_TAG_COMMON_PREFIX = STATE_TAG_PREFIX;

/**
 * Pulumi's default provider must not manage the tags the rotation and the watch write. Each of
 * their prefixes must be covered by a configured prefix that is no broader than
 * `acme-rotation:` (a broader one, like `acme`, would hide the `acme:*` spec tags from Pulumi).
 */
export function checkIgnoreTags(p: Problems, raw: string | undefined): void {
  const wanted =
    'aws:ignoreTags must make the AWS provider ignore the tags the rotation and the renewal watch write, or every ' +
    `\`pulumi up\` after a refresh would delete them; set it in the stack config:\n      aws:ignoreTags:\n        keys: [${STATUS_TAG_KEYS.join(', ')}]\n` +
    `        keyPrefixes: [${IGNORED_TAG_PREFIXES.map((x) => `"${x}"`).join(', ')}]` +
    ` (or the single prefix "${IGNORED_TAG_COMMON_PREFIX}")`;
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!isRecord(value)) {
    p.addRaw(`aws:ignoreTags: ${raw === undefined ? 'is not set' : `${quote(raw)} is not an object`}; ${wanted}`);
    return;
  }
  const keys = Array.isArray(value.keys) ? value.keys : [];
  const prefixes = (Array.isArray(value.keyPrefixes) ? value.keyPrefixes : []).filter(
    (pre): pre is string => typeof pre === 'string' && pre.startsWith(IGNORED_TAG_COMMON_PREFIX),
  );
  const missing = STATUS_TAG_KEYS.filter((k) => !keys.includes(k));
  const uncovered = IGNORED_TAG_PREFIXES.filter(
    (wantedPrefix) => !prefixes.some((pre) => wantedPrefix.startsWith(pre)),
  );
  if (missing.length > 0 || uncovered.length > 0) {
    const what = [
      ...(missing.length > 0 ? [`keys lacks ${missing.join(', ')}`] : []),
      ...(uncovered.length > 0 ? [`keyPrefixes lacks ${uncovered.join(', ')}`] : []),
    ].join(' and ');
    p.addRaw(`aws:ignoreTags: ${what}; ${wanted}`);
  }
}

/** The aws:ignoreTags check alone (a component whose default AWS provider the program configures). */
export function ignoreTagsProblems(awsIgnoreTags: string | undefined): string[] {
  const p = new Problems('');
  checkIgnoreTags(p, awsIgnoreTags);
  return p.list;
}
