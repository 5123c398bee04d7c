/**
 * Thin adapter over the Route 53 SDK client: the few operations DNS-01 needs, with names in
 * canonical form (lowercase, no trailing dot, `\052` → `*`), ids without their `/hostedzone/`
 * and `/change/` prefixes, and every call made through the AWS call layer (aws/calls.ts): counted,
 * SDK errors mapped to AwsServiceError, and throttling waited out by the SDK's retry loop for as
 * long as the function has time left (`budgetMs`), not for a fixed number of attempts: Route 53
 * allows ~5 requests/second per account, shared by everything in it.
 */
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type RRType,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { AwsCalls, type ThrottlePolicy } from '../aws/calls.js';
import { sdkClientConfig } from '../aws/client-config.js';
import { normalizeName } from '../certificate/domains.js';
import { bareZoneId } from '../certificate/rules.js';
import { AwsServiceError } from '../lib/errors.js';

export interface HostedZoneInfo {
  /** Zone id without `/hostedzone/`. */
  id: string;
  /** Canonical zone name (lowercase, no trailing dot). */
  name: string;
  privateZone: boolean;
  /** Delegation set name servers (GetHostedZone only; absent for private zones). */
  nameServers: string[];
}

export interface RecordSetInfo {
  /** Canonical name. */
  name: string;
  type: string;
  ttl?: number;
  /** Record values exactly as Route 53 returns them (TXT values quoted). */
  values: string[];
  /** Set for weighted/latency/... records. */
  setIdentifier?: string;
  /** True for alias records (no values). */
  alias: boolean;
}

export interface RecordChange {
  action: 'CREATE' | 'DELETE' | 'UPSERT';
  /** Canonical name (no trailing dot). */
  name: string;
  type: string;
  ttl: number;
  /** Values as they go on the wire (TXT values quoted). */
  values: string[];
}

export type ChangeStatus = 'PENDING' | 'INSYNC';

export const ROUTE53_OPERATIONS = [
  'ListHostedZonesByName',
  'GetHostedZone',
  'ListResourceRecordSets',
  'ChangeResourceRecordSets',
  'GetChange',
] as const;
export type Route53Operation = (typeof ROUTE53_OPERATIONS)[number];

/** The client used when none is injected. */
export function defaultRoute53Client(requestTimeoutMs = 10_000): Route53Client {
  return new Route53Client({
    // Route 53 is global; the SDK still needs a region to resolve its endpoint and sign.
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...sdkClientConfig(requestTimeoutMs),
  });
}

/**
 * How throttling is waited out (aws/calls.ts ThrottlePolicy): `budgetMs` is normally the function's
 * time left minus a margin to report a failure; without it, at most `maxThrottleRetries` waits.
 */
export type Route53AdapterOptions = ThrottlePolicy;

/** What to do when Route 53 throttled a call past the function's time. */
const THROTTLE_HINT =
  'Route 53 allows about 5 requests/second per account, shared by everything in it; ' +
  'spread the rotation schedules or raise the function timeout';

function stripPrefix(id: string, prefix: string): string {
  return id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

/** `/change/C123` → `C123`. */
export function bareChangeId(id: string): string {
  return stripPrefix(id.trim(), '/change/');
}

export class Route53Adapter {
  public readonly client: Route53Client;
  private readonly aws: AwsCalls;

  constructor(client?: Route53Client, opts: Route53AdapterOptions = {}) {
    this.client = client ?? defaultRoute53Client();
    this.aws = new AwsCalls('Route53', { throttle: opts, throttleHint: THROTTLE_HINT }, ROUTE53_OPERATIONS);
  }

  /** Logical calls per operation (one per adapter request, pagination pages included). */
  get callCount(): Readonly<Record<Route53Operation, number>> {
    return this.aws.calls as Record<Route53Operation, number>;
  }

  /** HTTP attempts per operation as reported by the SDK (includes its retries). */
  get attemptCount(): Readonly<Record<Route53Operation, number>> {
    return this.aws.attempts as Record<Route53Operation, number>;
  }

  /** Attempts answered with throttling. */
  get throttled(): number {
    return this.aws.throttled;
  }

  /** Total logical Route 53 calls made through this adapter. */
  totalCalls(): number {
    return this.aws.total();
  }

  /** Snapshot of the counters, for a per-rotation log line. */
  stats(): {
    calls: Record<Route53Operation, number>;
    attempts: Record<Route53Operation, number>;
    total: number;
    throttled: number;
  } {
    return {
      calls: { ...this.callCount },
      attempts: { ...this.attemptCount },
      total: this.totalCalls(),
      throttled: this.throttled,
    };
  }

  private call<T>(op: Route53Operation, fn: () => Promise<T>): Promise<T> {
    return this.aws.run(op, fn);
  }

  /**
   * Hosted zones (public and private) named exactly `dnsName`. ListHostedZonesByName lists
   * zones in name order starting at `dnsName`, so the matches come first; pages are followed
   * only while every zone on a page matched.
   */
  async listZonesByName(dnsName: string, pageSize = 10): Promise<HostedZoneInfo[]> {
    const wanted = normalizeName(dnsName);
    const out: HostedZoneInfo[] = [];
    let nextName: string | undefined = wanted;
    let nextId: string | undefined;
    for (;;) {
      const res = await this.call('ListHostedZonesByName', () =>
        this.client.send(
          new ListHostedZonesByNameCommand({ DNSName: nextName, HostedZoneId: nextId, MaxItems: pageSize }),
        ),
      );
      const zones = res.HostedZones ?? [];
      let allMatched = zones.length > 0;
      for (const z of zones) {
        const name = normalizeName(z.Name ?? '');
        if (name !== wanted) {
          allMatched = false;
          break;
        }
        out.push({ id: bareZoneId(z.Id ?? ''), name, privateZone: z.Config?.PrivateZone === true, nameServers: [] });
      }
      if (!allMatched || !res.IsTruncated || !res.NextDNSName) return out;
      nextName = res.NextDNSName;
      nextId = res.NextHostedZoneId;
    }
  }

  /**
   * The first page of all hosted zones in name order (ListHostedZonesByName without a name).
   * `complete` is true when the account has no more zones than that page: then one call has
   * answered every zone lookup of the rotation.
   */
  async listFirstZones(pageSize = 100): Promise<{ zones: HostedZoneInfo[]; complete: boolean }> {
    const res = await this.call('ListHostedZonesByName', () =>
      this.client.send(new ListHostedZonesByNameCommand({ MaxItems: pageSize })),
    );
    const zones = (res.HostedZones ?? []).map((z) => ({
      id: bareZoneId(z.Id ?? ''),
      name: normalizeName(z.Name ?? ''),
      privateZone: z.Config?.PrivateZone === true,
      nameServers: [],
    }));
    return { zones, complete: res.IsTruncated !== true };
  }

  /** One hosted zone with its delegation set. */
  async getZone(id: string): Promise<HostedZoneInfo> {
    const res = await this.call('GetHostedZone', () =>
      this.client.send(new GetHostedZoneCommand({ Id: bareZoneId(id) })),
    );
    const z = res.HostedZone;
    return {
      id: bareZoneId(z?.Id ?? id),
      name: normalizeName(z?.Name ?? ''),
      privateZone: z?.Config?.PrivateZone === true,
      nameServers: (res.DelegationSet?.NameServers ?? []).map(normalizeName),
    };
  }

  /**
   * Record sets named exactly `name` (and of `type`, when given). Without a type every record
   * set at the name is returned (one call answers both "is there a CNAME?" and "which TXT
   * values are there?"). Pages are followed only while every record on a page matched.
   */
  async listRecordSets(zoneId: string, name: string, type?: string, max = 10): Promise<RecordSetInfo[]> {
    const wanted = normalizeName(name);
    const out: RecordSetInfo[] = [];
    let nextName: string | undefined = wanted;
    let nextType: string | undefined = type;
    let nextIdentifier: string | undefined;
    for (;;) {
      const res = await this.call('ListResourceRecordSets', () =>
        this.client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: bareZoneId(zoneId),
            StartRecordName: nextName,
            StartRecordType: nextType as RRType | undefined,
            StartRecordIdentifier: nextIdentifier,
            MaxItems: max,
          }),
        ),
      );
      const sets = res.ResourceRecordSets ?? [];
      let allMatched = sets.length > 0;
      for (const rs of sets) {
        const info = toRecordSet(rs);
        if (info.name !== wanted || (type !== undefined && info.type !== type)) {
          allMatched = false;
          break;
        }
        out.push(info);
      }
      if (!allMatched || !res.IsTruncated || !res.NextRecordName) return out;
      nextName = res.NextRecordName;
      nextType = res.NextRecordType;
      nextIdentifier = res.NextRecordIdentifier;
    }
  }

  /** Submit one atomic change batch; returns the change id (without `/change/`) and its status. */
  async changeRecords(
    zoneId: string,
    changes: RecordChange[],
    comment?: string,
  ): Promise<{ id: string; status: ChangeStatus }> {
    const res = await this.call('ChangeResourceRecordSets', () =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: bareZoneId(zoneId),
          ChangeBatch: {
            Comment: comment?.slice(0, 256),
            Changes: changes.map((c) => ({
              Action: c.action,
              ResourceRecordSet: {
                Name: c.name,
                Type: c.type as RRType,
                TTL: c.ttl,
                ResourceRecords: c.values.map((Value) => ({ Value })),
              },
            })),
          },
        }),
      ),
    );
    const id = res.ChangeInfo?.Id;
    if (!id) {
      throw new AwsServiceError(
        'Route53',
        'ChangeResourceRecordSets',
        'InvalidResponse',
        'response had no ChangeInfo.Id',
      );
    }
    return { id: bareChangeId(id), status: res.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING' };
  }

  /** Status of a change. */
  async getChange(id: string): Promise<ChangeStatus> {
    const res = await this.call('GetChange', () => this.client.send(new GetChangeCommand({ Id: bareChangeId(id) })));
    return res.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING';
  }
}

function toRecordSet(rs: ResourceRecordSet): RecordSetInfo {
  const out: RecordSetInfo = {
    name: normalizeName(rs.Name ?? ''),
    type: String(rs.Type ?? ''),
    values: (rs.ResourceRecords ?? []).map((r) => r.Value ?? ''),
    alias: rs.AliasTarget !== undefined,
  };
  if (rs.TTL !== undefined) out.ttl = rs.TTL;
  if (rs.SetIdentifier !== undefined) out.setIdentifier = rs.SetIdentifier;
  return out;
}
