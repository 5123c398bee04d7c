/** Assertions shared by the policy tests: least privilege, negatively. */
import { expect } from 'vitest';

import { UNSCOPABLE_ACTIONS, type PolicyDocument, type PolicyStatement } from '../../infra/iam.js';

export function resourcesOf(st: PolicyStatement): string[] {
  return st.Resource === undefined ? [] : ([] as string[]).concat(st.Resource);
}

export function statement(doc: PolicyDocument, sid: string): PolicyStatement {
  const found = doc.Statement.filter((s) => s.Sid === sid);
  expect(found, `statement ${sid}`).toHaveLength(1);
  return found[0] as PolicyStatement;
}

/**
 * No `*` in any action (so no `*`, `route53:*`, `secretsmanager:*`, `s3:Get*`), no `*` resource
 * except for actions IAM only accepts on `*` (ListSecrets) and then alone in their statement,
 * no wildcard in any Secrets Manager ARN, and the only wildcard resources are the ones that
 * cannot be narrowed (Route 53 change ids, the streams of our own log group).
 */
export function expectLeastPrivilege(doc: PolicyDocument): void {
  expect(doc.Version).toBe('2012-10-17');
  for (const st of doc.Statement) {
    expect(st.Effect).toBe('Allow');
    expect(st.Action.length).toBeGreaterThan(0);
    for (const action of st.Action) {
      expect(action, `${st.Sid} action`).not.toContain('*');
      expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
    }
    const unscopable = st.Action.every((a) => (UNSCOPABLE_ACTIONS as readonly string[]).includes(a));
    for (const resource of resourcesOf(st)) {
      if (unscopable && st.Resource === '*') continue;
      expect(resource, `${st.Sid} resource`).not.toBe('*');
      if (resource.includes(':secretsmanager:')) expect(resource, `${st.Sid} secret`).not.toContain('*');
      if (resource.includes('*')) {
        expect(resource, `${st.Sid} wildcard resource`).toMatch(
          /^(arn:aws:route53:::change\/\*|arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:[^*]+:\*)$/,
        );
      }
    }
    const principal = st.Principal as { AWS?: string | string[] } | undefined;
    if (principal?.AWS !== undefined) {
      for (const p of ([] as string[]).concat(principal.AWS)) expect(p, `${st.Sid} principal`).not.toContain('*');
    }
  }
}
