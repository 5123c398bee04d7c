/**
 * Route 53 across accounts (ROUTE53_ROLES): every call for a zone listed with a role is made with
 * that role's credentials, every other call with the function's own. Zone discovery by name
 * (ListHostedZonesByName) sees only the function's own account, which is why such zones are
 * named in acme:hosted-zone-ids. A change id belongs to the account that made it, so GetChange
 * goes where the change was submitted. Errors say which it was: the role could not be assumed
 * (Route53RoleUnusable, the role named), or the role may not do what was asked (the zone and the
 * action named).
 */
import type { Route53Adapter } from './adapter.js';
import { bareChangeId } from './adapter.js';
import { bareZoneId } from '../certificate/rules.js';
import { AwsServiceError, DnsError } from '../lib/errors.js';

export type Route53Port = Pick<
  Route53Adapter,
  'listFirstZones' | 'listZonesByName' | 'getZone' | 'listRecordSets' | 'changeRecords' | 'getChange'
>;

export interface ZoneRoles {
  /** Zone id → role ARN (ROUTE53_ROLES). */
  roles: Record<string, string>;
  externalId?: string;
  /** The adapter acting as `roleArn` (one per role and invocation). */
  adapterFor(roleArn: string): Promise<Route53Port>;
}

export class ZoneRoutedRoute53 implements Route53Port {
  private readonly changeOwner = new Map<string, { port: Route53Port; zoneId: string; roleArn?: string }>();

  constructor(
    private readonly own: Route53Port,
    private readonly zoneRoles: ZoneRoles,
  ) {}

  listFirstZones(...args: Parameters<Route53Port['listFirstZones']>) {
    return this.own.listFirstZones(...args);
  }

  listZonesByName(...args: Parameters<Route53Port['listZonesByName']>) {
    return this.own.listZonesByName(...args);
  }

  getZone(id: string) {
    return this.via(id, (port) => port.getZone(id));
  }

  listRecordSets(zoneId: string, name: string, type?: string, max?: number) {
    return this.via(zoneId, (port) => port.listRecordSets(zoneId, name, type, max));
  }

  async changeRecords(...args: Parameters<Route53Port['changeRecords']>) {
    const [zoneId] = args;
    const roleArn = this.roleOf(zoneId);
    return this.via(zoneId, async (port) => {
      const change = await port.changeRecords(...args);
      this.changeOwner.set(bareChangeId(change.id), { port, zoneId, ...(roleArn ? { roleArn } : {}) });
      return change;
    });
  }

  getChange(id: string) {
    const owner = this.changeOwner.get(bareChangeId(id));
    if (!owner) return this.own.getChange(id);
    return this.via(owner.zoneId, () => owner.port.getChange(id));
  }

  private roleOf(zoneId: string): string | undefined {
    return this.zoneRoles.roles[bareZoneId(zoneId)];
  }

  private async via<T>(zoneId: string, call: (port: Route53Port) => Promise<T>): Promise<T> {
    const roleArn = this.roleOf(zoneId);
    if (!roleArn) return call(this.own);
    const zone = bareZoneId(zoneId);
    try {
      return await call(await this.zoneRoles.adapterFor(roleArn));
    } catch (err) {
      if (!(err instanceof AwsServiceError)) throw err;
      if (err.service === 'STS') {
        throw new DnsError('Route53RoleUnusable', `cannot assume ${roleArn} for hosted zone ${zone}: ${err.message}`, {
          cause: err,
          hint:
            `the role's trust policy must let this function's role assume it` +
            (this.zoneRoles.externalId ? ` with the external id ROUTE53_EXTERNAL_ID sets` : '') +
            ' (the stack exports that trust policy); nothing was ordered',
        });
      }
      if (/^AccessDenied/.test(err.awsCode)) {
        err.withHint(
          `the role ${roleArn} for hosted zone ${zone} may not call route53:${err.operation}: give it the policy the stack exports for it`,
        );
      } else if (err.awsCode === 'NoSuchHostedZone') {
        err.withHint(`hosted zone ${zone} is not in the account of ${roleArn}: correct ROUTE53_ROLES`);
      }
      throw err;
    }
  }
}
