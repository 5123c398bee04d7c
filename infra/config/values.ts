/**
 * Reading one setting as given: a raw config string (objects and lists as JSON) or a typed arg
 * (a list, a number, an Output). Pure: no Pulumi.
 */
import { wholeNumberIn } from '../../rotation/certificate/rules.js';
import { quote, type Problems } from './problems.js';

/**
 * A value known only at deploy time: a Pulumi Output or a promise. Told apart without importing
 * Pulumi (this module stays pure): an Output carries `__pulumiOutput`.
 */
export function isPending(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  return (
    (v as { __pulumiOutput?: unknown }).__pulumiOutput === true || typeof (v as { then?: unknown }).then === 'function'
  );
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Pulumi stores YAML objects and lists as JSON; a plain string here means a scalar was set.
    return raw;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function stringList(
  p: Problems,
  key: string,
  value: unknown,
  opts: { nonEmpty?: boolean } = {},
): string[] | undefined {
  if (typeof value === 'string') value = value.split(',').map((s) => s.trim());
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    p.add(key, `expected a list of strings, got ${quote(value)}`);
    return undefined;
  }
  const list = (value as string[]).map((s) => s.trim()).filter((s) => s !== '');
  if (opts.nonEmpty && list.length === 0) {
    p.add(key, 'must not be empty');
    return undefined;
  }
  return list;
}

export function integer(
  p: Problems,
  key: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = wholeNumberIn(raw, min, max);
  if (n === undefined) p.add(key, `${quote(raw)} is not a whole number between ${min} and ${max}`);
  return n;
}

export function optionalString(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  return v ? v : undefined;
}
