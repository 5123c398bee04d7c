/**
 * Route 53 grants for DNS-01: the function's own on its zones, and the policy and trust policy of a
 * role in another account that holds zones, written by the same builder.
 */
import { partitionOf, type PolicyDocument, type PolicyStatement } from './document.js';

export function hostedZoneArn(partition: string, zoneId: string): string {
  return `arn:${partition}:route53:::hostedzone/${zoneId}`;
}

/**
 * A record name or `*` pattern in the form IAM compares with
 * `route53:ChangeResourceRecordSetsNormalizedRecordNames`: lower case, no trailing dot, and every
 * character other than a-z, 0-9, `-`, `_`, `.` written as a three-digit octal escape (`*` stays
 * a glob here because the patterns are used with StringLike).
 */
export function normalisedRecordNamePattern(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9\-_.*]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * Challenge writes: only TXT, only CREATE and DELETE, only the given names.
 *
 * Why not UPSERT: the rotation changes a TXT record set as a compare-and-swap — DELETE of the
 * exact current record plus CREATE of the merged one, in one atomic batch. If another rotation
 * changed the record in between, the DELETE no longer matches and Route 53 rejects the whole
 * batch, so the loser re-reads and retries. UPSERT would overwrite the other rotation's values
 * silently; denying it makes that impossible even for a buggy or compromised function.
 *
 * `ForAllValues` checks every change in the batch; the `Null` test makes sure the keys are
 * present (ForAllValues on a missing key would be vacuously true).
 */
function challengeWrite(sid: string, zoneArns: string[], namePatterns: string[]): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: ['route53:ChangeResourceRecordSets'],
    Resource: zoneArns,
    Condition: {
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
      },
      'ForAllValues:StringLike': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': namePatterns,
      },
      Null: {
        'route53:ChangeResourceRecordSetsRecordTypes': 'false',
        'route53:ChangeResourceRecordSetsActions': 'false',
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': 'false',
      },
    },
  };
}

/** The zones a set of Route 53 statements covers (the function's own, or one role's). */
export interface Route53GrantArgs {
  partition: string;
  zoneIds: readonly string[];
  /** Record-name patterns that `_acme-challenge` CNAMEs point to, and the zones holding them. */
  cnameTargets?: { names: readonly string[]; zoneIds: readonly string[] };
}

/**
 * Everything the rotation does in Route 53, on exactly these zones: `_acme-challenge` TXT writes
 * (and delegated names), reads of the zone and its records, and change status. The function's
 * own policy and the policy of each role in another account are written by this one builder.
 */
export function route53Statements(args: Route53GrantArgs): PolicyStatement[] {
  const zones = [...new Set(args.zoneIds)].sort();
  if (zones.length === 0) return [];
  const zoneArns = zones.map((id) => hostedZoneArn(args.partition, id));
  const statements: PolicyStatement[] = [challengeWrite('WriteChallengeTxtRecords', zoneArns, ['_acme-challenge.*'])];
  const cname = args.cnameTargets;
  if (cname && cname.names.length > 0 && cname.zoneIds.length > 0) {
    const targetZones = [...new Set(cname.zoneIds)].sort().map((id) => hostedZoneArn(args.partition, id));
    statements.push(
      challengeWrite('WriteDelegatedChallengeTxtRecords', targetZones, [
        ...new Set(cname.names.map(normalisedRecordNamePattern)),
      ]),
    );
  }
  statements.push(
    {
      // Zone details (name servers for the propagation check) and the record sets to merge with.
      Sid: 'ReadChallengeZones',
      Effect: 'Allow',
      Action: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
      Resource: zoneArns,
    },
    {
      // Change ids are not known in advance; GetChange only reads a change's status.
      Sid: 'WaitForChallengeChanges',
      Effect: 'Allow',
      Action: ['route53:GetChange'],
      Resource: `arn:${args.partition}:route53:::change/*`,
    },
  );
  return statements;
}

/**
 * The policy a role in another account needs there so the function can write challenges in its
 * zones through it: the same Route 53 statements as the function's own, on that role's zones.
 */
export function route53RolePolicy(args: { roleArn: string } & Omit<Route53GrantArgs, 'partition'>): PolicyDocument {
  const statements = route53Statements({ ...args, partition: partitionOf(args.roleArn) });
  if (statements.length === 0) throw new Error(`route53RolePolicy: no hosted zones for ${args.roleArn}`);
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * The trust policy of such a role: only the rotation function's role may assume it, and only
 * with the stack's external id when one is set.
 */
export function route53RoleTrustPolicy(args: { rotationRoleArn: string; externalId?: string }): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AcmeRotationFunctionAssumesThisRole',
        Effect: 'Allow',
        Principal: { AWS: args.rotationRoleArn },
        Action: ['sts:AssumeRole'],
        ...(args.externalId ? { Condition: { StringEquals: { 'sts:ExternalId': args.externalId } } } : {}),
      },
    ],
  };
}
