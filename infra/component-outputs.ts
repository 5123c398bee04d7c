/**
 * The outputs AcmeRotation registers with the engine: its public Output fields, by name (the
 * stack program, infra/index.ts, exports those a stack's user needs).
 */
import type * as pulumi from '@pulumi/pulumi';

export const OUTPUT_KEYS = [
  'functionName',
  'functionArn',
  'topicArn',
  'accountSecretArn',
  'watchFunctionName',
  'dashboardName',
  'dashboardUrl',
  'certificates',
  'route53Roles',
] as const;
export type OutputKey = (typeof OUTPUT_KEYS)[number];

/** `component`'s outputs, in OUTPUT_KEYS order, for `registerOutputs`. */
export function registeredOutputs(component: Record<OutputKey, unknown>): pulumi.Inputs {
  return Object.fromEntries(OUTPUT_KEYS.map((key) => [key, component[key]]));
}
