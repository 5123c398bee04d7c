/**
 * What the renewal watch keeps between runs, in tags on each certificate secret: nothing needs a
 * database, and an operator reads it with `describe-secret`. Infrastructure code must ignore these
 * keys (they share the prefix RENEWAL_TAG_PREFIX). Values are at most 255 characters (TagResource's
 * documented restriction; the Tag type's 256 is not what the service enforces); dates are ISO 8601.
 */

import { MAX_TAGS_PER_SECRET, MAX_TAG_VALUE, RENEWAL_TAG, TAG_VALUE_CHARS, tagValue } from '../certificate/tags.js';

export interface RenewalState {
  certId?: string;
  window?: { start: Date; end: Date };
  renewAt?: Date;
  checkAfter?: Date;
  explanation?: string;
  error?: string;
  started?: Date;
  /** renewalInfo failures in a row. */
  failures?: number;
}

function date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The state in a secret's tags; a value that does not parse counts as absent. */
export function readRenewalState(tags: ReadonlyArray<{ Key?: string; Value?: string }>): RenewalState {
  const get = (key: string): string | undefined => tags.find((t) => t.Key === key)?.Value;
  const [start, end] = (get(RENEWAL_TAG.window) ?? '').split('/');
  const windowStart = date(start);
  const windowEnd = date(end);
  const state: RenewalState = {};
  const certId = get(RENEWAL_TAG.cert);
  if (certId) state.certId = certId;
  if (windowStart && windowEnd && windowStart < windowEnd) state.window = { start: windowStart, end: windowEnd };
  const renewAt = date(get(RENEWAL_TAG.at));
  if (renewAt) state.renewAt = renewAt;
  const checkAfter = date(get(RENEWAL_TAG.checkAfter));
  if (checkAfter) state.checkAfter = checkAfter;
  const explanation = get(RENEWAL_TAG.explanation);
  if (explanation) state.explanation = explanation;
  const error = get(RENEWAL_TAG.error);
  if (error) state.error = error;
  const started = date(get(RENEWAL_TAG.started));
  if (started) state.started = started;
  const failures = Number(get(RENEWAL_TAG.failures));
  if (Number.isInteger(failures) && failures > 0) state.failures = failures;
  return state;
}

/**
 * The explanation URL as a tag value, or undefined when a tag cannot hold it as it is: a URL with
 * `?`, `#`, `%`, `&` or `~`, or longer than 255 characters, would be changed by cleaning or
 * clipping and then lead nowhere. Such a URL is not stored; the certificate's line carries it.
 */
export function storableUrl(url: string): string | undefined {
  return [...url].length <= MAX_TAG_VALUE && TAG_VALUE_CHARS.test(url) ? url : undefined;
}

/**
 * Why writing `set` (and removing `remove`) would take the secret past 50 tags, or undefined when
 * it fits: Secrets Manager would refuse the whole TagResource, and the state would be lost.
 */
export function tagLimitProblem(
  existing: ReadonlyArray<{ Key?: string }>,
  set: Record<string, string>,
  remove: readonly string[],
): string | undefined {
  const keys = new Set(existing.map((t) => t.Key).filter((k): k is string => !!k && !k.startsWith('aws:')));
  for (const k of remove) keys.delete(k);
  const before = keys.size;
  for (const k of Object.keys(set)) keys.add(k);
  if (keys.size <= MAX_TAGS_PER_SECRET) return undefined;
  return (
    `the renewal state needs ${keys.size - before} more tag(s) but the secret has ${before} of the ` +
    `${MAX_TAGS_PER_SECRET} Secrets Manager allows; remove tags the certificate does not need`
  );
}

/**
 * The tags for a state, and the keys to remove (fields the state no longer has). Tag values may
 * hold letters, digits, spaces and `_.:/=+-@` only: anything else in a CA's error text becomes a
 * space; an explanation URL that a tag cannot hold intact is not stored (storableUrl).
 */
export function renewalTags(state: RenewalState): { set: Record<string, string>; remove: string[] } {
  const values: Record<string, string | undefined> = {
    [RENEWAL_TAG.cert]: state.certId,
    [RENEWAL_TAG.window]: state.window
      ? `${state.window.start.toISOString()}/${state.window.end.toISOString()}`
      : undefined,
    [RENEWAL_TAG.at]: state.renewAt?.toISOString(),
    [RENEWAL_TAG.checkAfter]: state.checkAfter?.toISOString(),
    [RENEWAL_TAG.explanation]: state.explanation !== undefined ? storableUrl(state.explanation) : undefined,
    [RENEWAL_TAG.error]: state.error !== undefined ? tagValue(state.error) : undefined,
    [RENEWAL_TAG.started]: state.started?.toISOString(),
    [RENEWAL_TAG.failures]: state.failures ? String(state.failures) : undefined,
  };
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === '') remove.push(key);
    else set[key] = value;
  }
  return { set, remove };
}
