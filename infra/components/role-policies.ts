/**
 * The inline policies of the two FunctionRoles, each given the function's log group ARN, from
 * what the deployment knows only as Outputs: the rotation function's (its zones, topic, bus, ACM
 * certificates, key) and the renewal watch's (the rotation function it starts, its own ARN).
 */
import * as pulumi from '@pulumi/pulumi';

import { rotationRolePolicyJson, watchRolePolicyJson } from '../policies.js';
import type { AwsContext } from './common.js';
import type { CertificateZones } from '../hosted-zones.js';

/** A FunctionRole's inline policy, given its function's log group ARN. */
export type RolePolicy = (logGroupArn: pulumi.Output<string>) => pulumi.Output<string>;

export interface RotationPolicyInputs {
  aws: AwsContext;
  zones: Pick<CertificateZones, 'own' | 'roles'>;
  topicArn: pulumi.Output<string>;
  /** Undefined without a bus. */
  eventBusArn: pulumi.Output<string> | undefined;
  /** Every ACM certificate the function imports into, de-duplicated and sorted. */
  acmArns: pulumi.Output<string[]>;
  kmsKeyArn: pulumi.Output<string | undefined>;
}

export function rotationRolePolicyOf(i: RotationPolicyInputs): RolePolicy {
  const { partition, region } = i.aws;
  return (logGroupArn) =>
    pulumi
      .all([
        partition,
        region,
        logGroupArn,
        i.zones.own,
        i.zones.roles,
        i.topicArn,
        i.eventBusArn,
        pulumi.all([i.acmArns, i.kmsKeyArn]),
      ])
      .apply(([p, r, logArn, own, roles, topic, busArn, [acmCertificateArns, kmsKey]]) =>
        rotationRolePolicyJson({
          partition: p,
          region: r,
          logGroupArn: logArn,
          zoneIds: own.zoneIds,
          ...(own.cnameTargets ? { cnameTargets: own.cnameTargets } : {}),
          route53RoleArns: roles.map((role) => role.roleArn),
          topicArn: topic,
          ...(busArn ? { eventBusArn: busArn } : {}),
          ...(kmsKey ? { kmsKeyArn: kmsKey } : {}),
          acmCertificateArns,
        }),
      );
}

export interface WatchPolicyInputs {
  aws: AwsContext;
  /** The watch function's name: it is declared after its role, so its ARN follows from it. */
  watchFunctionName: string;
  rotationFunctionArn: pulumi.Output<string>;
  kmsKeyArn: pulumi.Output<string | undefined>;
  /** Every ACM certificate of the stack: the watch checks their serials and re-imports where one lags. */
  acmArns: pulumi.Output<string[]>;
  /** Where a refusing ACM target is announced; the bus is undefined without one. */
  topicArn: pulumi.Output<string>;
  eventBusArn: pulumi.Output<string> | undefined;
}

export function watchRolePolicyOf(i: WatchPolicyInputs): RolePolicy {
  const { partition, region, accountId } = i.aws;
  return (logGroupArn) =>
    pulumi
      .all([
        partition,
        region,
        accountId,
        logGroupArn,
        i.rotationFunctionArn,
        i.kmsKeyArn,
        i.acmArns,
        pulumi.all([i.topicArn, i.eventBusArn]),
      ])
      .apply(([p, r, a, logArn, rotationArn, kmsKey, acmCertificateArns, [topic, busArn]]) =>
        watchRolePolicyJson({
          partition: p,
          region: r,
          logGroupArn: logArn,
          rotationFunctionArn: rotationArn,
          // The function is declared after its role: its ARN follows from its name.
          watchFunctionArn: `arn:${p}:lambda:${r}:${a}:function:${i.watchFunctionName}`,
          ...(kmsKey ? { kmsKeyArn: kmsKey } : {}),
          acmCertificateArns,
          topicArn: topic,
          ...(busArn ? { eventBusArn: busArn } : {}),
        }),
      );
}
