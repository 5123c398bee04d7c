/**
 * Pulumi mocks for the infra tests: records every resource and invoke, gives resources the
 * ARNs AWS would (so policies can be asserted on real-looking ARNs), and answers the invokes
 * the program uses (caller identity, partition, region, Route 53 zones).
 */
import { createHash } from 'node:crypto';

import type * as pulumi from '@pulumi/pulumi';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PROJECT = 'acme-rotation';
export const STACK = 'dev';

export interface MockZone {
  id: string;
  name: string;
  privateZone?: boolean;
}

export const DEFAULT_ZONES: MockZone[] = [
  { id: 'Z0EXAMPLECOM000000001', name: 'example.com' },
  { id: 'Z0DEVEXAMPLECOM00002', name: 'dev.example.com' },
  { id: 'Z0EXAMPLEORG000000003', name: 'example.org' },
  { id: 'Z0ACMEEXAMPLENET0004', name: 'acme.example.net' },
  { id: 'Z0PRIVEXAMPLECOM0005', name: 'example.com', privateZone: true },
];

export interface Recorded {
  type: string;
  name: string;
  /** False for component resources (they have no provider and no cloud resource). */
  custom: boolean;
  inputs: Record<string, unknown>;
}

/** A stable certificate id from a resource name, shaped like ACM's (a UUID). */
function uuidOf(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The ARN ACM gives a certificate created by the resource named `name` in `region`. */
export function acmArnOf(name: string, region: string = REGION): string {
  return `arn:aws:acm:${region}:${ACCOUNT}:certificate/${uuidOf(name)}`;
}

/** What the tls provider would compute, recognisable in assertions. */
export const mockPem = (what: string, name: string): string =>
  `-----BEGIN ${what}-----\nmock ${name}\n-----END ${what}-----\n`;

function arnFor(type: string, name: string, inputs: Record<string, unknown>): string {
  switch (type) {
    case 'aws:acm/certificate:Certificate':
      return acmArnOf(name, typeof inputs.region === 'string' ? inputs.region : REGION);
    case 'aws:secretsmanager/secret:Secret':
      return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
    case 'aws:lambda/function:Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    case 'aws:iam/role:Role':
      return `arn:aws:iam::${ACCOUNT}:role/${name}`;
    case 'aws:sns/topic:Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
    case 'aws:cloudwatch/logGroup:LogGroup':
      return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}`;
    case 'aws:cloudwatch/eventRule:EventRule':
      return `arn:aws:events:${REGION}:${ACCOUNT}:rule/${name}`;
    case 'aws:cloudwatch/metricAlarm:MetricAlarm':
      return `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`;
    default:
      return `arn:aws:mock:${REGION}:${ACCOUNT}:${type}/${name}`;
  }
}

export class AwsMocks implements pulumi.runtime.Mocks {
  readonly resources: Recorded[] = [];
  readonly calls: pulumi.runtime.MockCallArgs[] = [];

  constructor(private readonly zones: MockZone[] = DEFAULT_ZONES) {}

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const inputs = args.inputs as Record<string, unknown>;
    this.resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs });
    const name = typeof inputs.name === 'string' ? inputs.name : args.name;
    const arn = arnFor(args.type, name, inputs);
    const id = args.type === 'aws:secretsmanager/secret:Secret' ? arn : `${name}-id`;
    const computed: Record<string, unknown> = {};
    if (args.type === 'tls:index/privateKey:PrivateKey') computed.privateKeyPem = mockPem('PRIVATE KEY', args.name);
    if (args.type === 'tls:index/selfSignedCert:SelfSignedCert') computed.certPem = mockPem('CERTIFICATE', args.name);
    return { id, state: { ...inputs, name, arn, ...computed } };
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    this.calls.push(args);
    const inputs = args.inputs as Record<string, unknown>;
    switch (args.token) {
      case 'aws:index/getCallerIdentity:getCallerIdentity':
        return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/deployer`, userId: 'AIDA', id: ACCOUNT };
      case 'aws:index/getPartition:getPartition':
        return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws', reverseDnsPrefix: 'com.amazonaws' };
      case 'aws:index/getRegion:getRegion':
        return { region: REGION, name: REGION, id: REGION, endpoint: `ec2.${REGION}.amazonaws.com`, description: '' };
      case 'aws:route53/getZone:getZone': {
        const found = this.zones.filter((z) =>
          inputs.zoneId !== undefined
            ? z.id === inputs.zoneId
            : z.name === inputs.name && (z.privateZone ?? false) === (inputs.privateZone ?? false),
        );
        const zone = found[0];
        if (!zone || found.length > 1)
          throw new Error(`no single Route 53 Hosted Zone matched ${JSON.stringify(inputs)}`);
        return {
          zoneId: zone.id,
          id: zone.id,
          name: zone.name,
          privateZone: zone.privateZone ?? false,
          arn: `arn:aws:route53:::hostedzone/${zone.id}`,
          nameServers: ['ns-1.awsdns-01.org'],
        };
      }
      default:
        throw new Error(`unexpected invoke ${args.token}`);
    }
  }

  /** Forget what was recorded (the monitor stays: late output registrations still find their resources). */
  reset(): void {
    this.resources.length = 0;
    this.calls.length = 0;
  }

  ofType(type: string): Recorded[] {
    return this.resources.filter((r) => r.type === type);
  }

  one(type: string, name: string): Recorded {
    const found = this.resources.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) {
      const names = this.ofType(type).map((r) => r.name);
      throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${names.join(', ')})`);
    }
    return found[0] as Recorded;
  }
}

/** The value of an Output (mocks resolve everything; preview is off). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    output.apply((v) => {
      resolve(v);
      return v;
    });
    // An apply that throws rejects the output's internal promise; surface it here too.
    (output as unknown as { promise(): Promise<T> }).promise().then(undefined, reject);
  });
}

/** Waits until no new resource has been registered for a few turns of the event loop. */
export async function settle(mocks: AwsMocks): Promise<void> {
  let last = -1;
  let quiet = 0;
  while (quiet < 5) {
    await new Promise((r) => setTimeout(r, 5));
    if (mocks.resources.length === last) quiet++;
    else {
      quiet = 0;
      last = mocks.resources.length;
    }
  }
}

/** The stack config a valid minimal stack needs, as Pulumi stores it (objects as JSON). */
export function baseConfig(extra: Record<string, unknown> = {}): Record<string, string> {
  const config: Record<string, unknown> = {
    'aws:region': REGION,
    'aws:ignoreTags': {
      keys: ['ExpirationDate', 'IssuedAt', 'Domains'],
      keyPrefixes: ['acme-rotation:inflight', 'acme-rotation:renewal'],
    },
    'acme-rotation:hostedZones': ['example.com', 'Z0EXAMPLEORG000000003'],
    'acme-rotation:certificates': [{ name: 'web', domains: ['example.com', '*.example.com'] }],
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
}

/** One resource registration as the engine receives it: parent, custom or component, aliases. */
export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  /** The URN the mock monitor gave (its own scheme: only the parent's last type in the chain). */
  mockUrn: string;
  /** The mock URN of the parent; '' for none. */
  parentMockUrn: string;
  /** Mock URNs of the resources it depends on (explicitly or through its inputs). */
  dependencies: string[];
  /** Input properties whose changes the engine ignores after creation. */
  ignoreChanges: string[];
  aliases: Array<{ urn: string } | { spec: { name: string; type: string; parentMockUrn: string; noParent: boolean } }>;
}

interface AliasSpecMessage {
  getName(): string;
  getType(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}
interface AliasMessage {
  hasSpec(): boolean;
  getSpec(): AliasSpecMessage | undefined;
  getUrn(): string;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getAliasesList(): AliasMessage[];
}
type Callback = (err: unknown, res?: { getUrn(): string }) => void;
interface MonitorLike {
  registerResource(req: RegisterRequest, callback: Callback): unknown;
}

/**
 * Records what the mock monitor is asked to register, and computes URNs the way the Pulumi
 * engine does (the whole chain of parent types, which the mock monitor shortens), so a test can
 * tell which URNs a deployment would hold — and which existing URNs its aliases claim.
 */
export class Registrations {
  readonly list: Registration[] = [];

  constructor(
    private readonly project: string,
    private readonly stack: string,
  ) {}

  /** Wraps the monitor of `pulumi.runtime.setMocks` (call once, after it). */
  install(monitor: unknown): void {
    const m = monitor as MonitorLike;
    const original = m.registerResource.bind(m);
    m.registerResource = (req, callback) =>
      original(req, (err, res) => {
        if (!err && res) this.record(req, res.getUrn());
        callback(err, res);
      });
  }

  reset(): void {
    this.list.length = 0;
  }

  private record(req: RegisterRequest, mockUrn: string): void {
    this.list.push({
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      mockUrn,
      parentMockUrn: req.getParent(),
      dependencies: req.getDependenciesList(),
      ignoreChanges: req.getIgnorechangesList(),
      aliases: req.getAliasesList().map((a) => {
        const spec = a.hasSpec() ? a.getSpec() : undefined;
        return spec
          ? {
              spec: {
                name: spec.getName(),
                type: spec.getType(),
                parentMockUrn: spec.getParenturn(),
                noParent: spec.getNoparent(),
              },
            }
          : { urn: a.getUrn() };
      }),
    });
  }

  private byMockUrn(urn: string): Registration {
    const found = this.list.filter((r) => r.mockUrn === urn);
    if (found.length !== 1) throw new Error(`expected one resource with URN ${urn}, found ${found.length}`);
    return found[0] as Registration;
  }

  private urn(qualifiedType: string, name: string): string {
    return `urn:pulumi:${this.stack}::${this.project}::${qualifiedType}::${name}`;
  }

  /**
   * Parent types, outermost first, then the type: the engine's qualified type. A parent URN no
   * resource of this deployment has is one the program computed for a component that no longer
   * exists (an alias to a former parent): that is an engine URN already.
   */
  private qualifiedType(parentMockUrn: string, type: string): string {
    if (parentMockUrn === '') return type;
    if (!this.list.some((r) => r.mockUrn === parentMockUrn)) return `${parentMockUrn.split('::')[2]}$${type}`;
    return `${this.qualifiedTypeOf(this.byMockUrn(parentMockUrn))}$${type}`;
  }

  private qualifiedTypeOf(r: Registration): string {
    return this.qualifiedType(r.parentMockUrn, r.type);
  }

  /** The URN the engine gives this resource. */
  engineUrn(r: Registration): string {
    return this.urn(this.qualifiedTypeOf(r), r.name);
  }

  /** The URNs this resource's aliases name (existing resources it takes over). */
  aliasUrns(r: Registration): string[] {
    return r.aliases.map((a) => {
      if ('urn' in a) return a.urn;
      const { spec } = a;
      const type = spec.type || r.type;
      const name = spec.name || r.name;
      if (spec.noParent) return this.urn(type, name);
      return this.urn(this.qualifiedType(spec.parentMockUrn || r.parentMockUrn, type), name);
    });
  }

  /** The chain of parents, nearest first. */
  ancestors(r: Registration): Registration[] {
    const chain: Registration[] = [];
    for (let p = r.parentMockUrn; p !== ''; p = chain[chain.length - 1]?.parentMockUrn ?? '') {
      chain.push(this.byMockUrn(p));
    }
    return chain;
  }
}
