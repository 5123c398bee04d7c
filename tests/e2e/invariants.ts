/**
 * The invariants that must hold after every scenario, as one check the robustness tests
 * call after each run:
 * - AWSCURRENT is unchanged, or a certificate for the spec's names that passed testSecret;
 * - no TXT value of ours is left at any `_acme-challenge` name once a rotation has ended;
 * - after a rotation that finished, AWSPENDING is on no version other than AWSCURRENT;
 * - the ACME account secret holds exactly one key, the same one as before;
 * - no private key material in any log line, SNS message or EventBridge event.
 */
import { expect } from 'vitest';

import type { LocalLambda } from '../local/lambda.js';
import type { LocalStack } from '../local/stack.js';
import { PKCS8_KEY_START } from '../helpers/pem-markers.js';
import { expectConsistentBundle, parseStoredBundle, versionsWith } from './helpers.js';

export interface SecretSnapshot {
  arn: string;
  domains: string[];
  keyType: string;
  /** AWSCURRENT's value before the scenario (undefined: none). */
  current: string | undefined;
  /** AWSCURRENT's version id before the scenario. */
  currentVersion: string | undefined;
}

/** What a secret looks like before a scenario, to compare with afterwards. */
export function snapshotSecret(
  stack: LocalStack,
  arn: string,
  domains: string[],
  keyType = 'ecdsa-p256',
): SecretSnapshot {
  return {
    arn,
    domains,
    keyType,
    current: stack.aws.secrets.valueAt(arn, 'AWSCURRENT'),
    currentVersion: versionsWith(stack.aws.secrets.stagesOf(arn), 'AWSCURRENT')[0],
  };
}

export interface InvariantOptions {
  secrets: SecretSnapshot[];
  lambdas: LocalLambda[];
  /** The rotation of each secret ended in success (then AWSPENDING must be gone or on AWSCURRENT). */
  finished: boolean;
  /** Zones whose `_acme-challenge` names must hold no TXT record. */
  zoneIds: string[];
  /** The account secret and its value before the scenario, when one is used. */
  account?: { arn: string; value: string | undefined };
}

/** TXT record sets at `_acme-challenge` names in the given zones. */
export function challengeTxtLeft(
  stack: LocalStack,
  zoneIds: string[],
): { zone: string; name: string; values: string[] }[] {
  const out: { zone: string; name: string; values: string[] }[] = [];
  for (const id of zoneIds) {
    const zone = stack.aws.route53.zone(id);
    if (!zone) throw new Error(`no zone ${id}`);
    for (const r of zone.records) {
      if (r.type === 'TXT' && /(^|\.)_acme-challenge\./.test(r.name))
        out.push({ zone: id, name: r.name, values: [...r.values] });
    }
  }
  return out;
}

/** Private key text anywhere in what the function wrote or sent. */
export function keyMaterialLeaks(stack: LocalStack, lambdas: LocalLambda[]): string[] {
  const texts = [
    ...stack.aws.sns.messages.flatMap((m) => [m.Message, m.Subject ?? '']),
    ...stack.aws.events.entries.map((e) => e.Detail),
    ...lambdas.flatMap((l) => l.logs),
  ];
  return texts.filter((t) => t.includes('PRIVATE KEY') || PKCS8_KEY_START.test(t));
}

export function expectInvariants(stack: LocalStack, opts: InvariantOptions): void {
  for (const s of opts.secrets) {
    const stages = stack.aws.secrets.stagesOf(s.arn);
    const current = stack.aws.secrets.valueAt(s.arn, 'AWSCURRENT');
    const currentVersion = versionsWith(stages, 'AWSCURRENT')[0];
    if (currentVersion === s.currentVersion) {
      expect(current, `${s.arn}: AWSCURRENT unchanged`).toBe(s.current);
    } else {
      // Promoted: it must be a complete certificate for the spec (what testSecret checked).
      expectConsistentBundle(parseStoredBundle(current), s.domains, s.keyType);
    }
    expect(versionsWith(stages, 'AWSCURRENT'), `${s.arn}: one AWSCURRENT`).toHaveLength(1);
    if (opts.finished) {
      const pending = versionsWith(stages, 'AWSPENDING');
      expect(
        pending.filter((v) => v !== currentVersion),
        `${s.arn}: AWSPENDING only on AWSCURRENT after finishSecret`,
      ).toEqual([]);
    }
  }
  expect(challengeTxtLeft(stack, opts.zoneIds), 'TXT values left behind').toEqual([]);
  if (opts.account) {
    const versions = Object.keys(stack.aws.secrets.stagesOf(opts.account.arn));
    expect(versions, 'account secret versions').toHaveLength(1);
    if (opts.account.value !== undefined) {
      expect(stack.aws.secrets.valueAt(opts.account.arn, 'AWSCURRENT'), 'account key kept').toBe(opts.account.value);
    }
  }
  expect(keyMaterialLeaks(stack, opts.lambdas), 'private key material in output').toEqual([]);
}
