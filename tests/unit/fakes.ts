/**
 * Shared fakes for the step-logic unit tests.
 *
 * - The real SDK clients (Secrets Manager, SNS, EventBridge) behind aws-sdk-client-mock. Secrets
 *   Manager calls are then answered, in process, by the local AWS endpoint's Secrets Manager model
 *   (tests/local/aws/secretsmanager.ts), the one the end-to-end tests use over HTTP, so unit and
 *   end-to-end tests cannot disagree about the service (labels, immutable versions, the
 *   AWSPENDING stub, its errors).
 * - `FakeRoute53`: the local endpoint's Route 53 model the same way, for the Route 53 provider tests.
 * - A ZoneWriter fake (the zones behind the DNS-01 solver) that records what it was asked to publish and remove.
 * - A CaClient fake that plays an ACME CA: authorizations (fresh or reused), dns-01 challenges
 *   whose validation checks the fake DNS, order state machine, and a real certificate issued for
 *   the CSR's key (signed by a test intermediate, see tests/helpers/certs.ts).
 * - A shared timeline so tests can assert the order of calls across all of them.
 * - `makeWorld()`: a handler built with `createHandler(() => services)` over all of the above.
 */
import { type LambdaContext } from '../../rotation/lib/deadline.js';
import { type KeyType } from '../../rotation/certificate/key-types.js';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
  type DescribeSecretCommandInput,
  type GetSecretValueCommandInput,
  type PutSecretValueCommandInput,
  type TagResourceCommandInput,
  type UntagResourceCommandInput,
  type UpdateSecretVersionStageCommandInput,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type Change,
  type ChangeResourceRecordSetsCommandInput,
  type ChangeResourceRecordSetsCommandOutput,
  type GetChangeCommandInput,
  type GetHostedZoneCommandInput,
  type ListHostedZonesByNameCommandInput,
  type ListResourceRecordSetsCommandInput,
} from '@aws-sdk/client-route-53';
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { Notifier } from '../../rotation/aws/notify.js';
import { SecretsAdapter } from '../../rotation/aws/secrets.js';
import type { AcmeAuthorization, AcmeChallenge, AcmeOrder, CaClient } from '../../rotation/acme/ca.js';
import type { CertificateBundle } from '../../rotation/certificate/bundle.js';
import type { Config } from '../../rotation/config/config.js';
import type { Deadline } from '../../rotation/lib/deadline.js';
import type { ChallengeRecord, PlacedRecord, ZoneWriter } from '../../rotation/dns01/provider.js';
import { Dns01Solver } from '../../rotation/dns01/solver.js';
import { AcmeError, AwsServiceError } from '../../rotation/lib/errors.js';
import { ACMClient, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { AcmAdapter } from '../../rotation/aws/acm.js';
import { AcmService } from '../local/aws/acm.js';
import { createHandler, type Services, type Step } from '../../rotation/function/handler.js';
import { createLogger, type Logger } from '../../rotation/lib/log.js';
import { domainTags } from '../../rotation/certificate/spec.js';
import type { StepContext } from '../../rotation/function/steps/context.js';
import type { VerifyOptions, VerifyResult } from '../../rotation/x509/verify.js';
import { inProcessHandler } from '../local/aws/in-process.js';
import { Route53Service, canonicalName, txtText, type HostedZone as HostedZone53 } from '../local/aws/route53.js';
import { SecretsManagerService, type SecretRecord } from '../local/aws/secretsmanager.js';
import { makeIntermediateCa, makeLeaf, makeRootCa, makeTestPki, type TestCa } from '../helpers/certs.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const SECRET_NAME = 'acme/example.com';
export const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SECRET_NAME}-AbCdEf`;
export const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:certificates`;
export const BUS_NAME = 'certificates';
export const EVENT_SOURCE = 'acme-rotation-test';
/** The rotation in progress (Secrets Manager's ClientRequestToken). */
export const TOKEN = '11111111-2222-4333-8444-555555555555';
/** The version that is AWSCURRENT before the rotation. */
export const OLD = '00000000-aaaa-4bbb-8ccc-dddddddddddd';
export const DIRECTORY_URL = 'https://ca.test/directory';

// ------------------------------------------------------------------------------------------------
// Timeline

/** Calls across all fakes, in the order they happened (e.g. `sm:TagResource`, `dns:present`). */
export class Timeline {
  readonly events: string[] = [];

  add(event: string): void {
    this.events.push(event);
  }

  /** Index of the first event matching `pattern` (exact string or RegExp); -1 when none. */
  first(pattern: string | RegExp): number {
    return this.events.findIndex((e) => (typeof pattern === 'string' ? e === pattern : pattern.test(e)));
  }

  /** Index of the last event matching `pattern`; -1 when none. */
  last(pattern: string | RegExp): number {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as string;
      if (typeof pattern === 'string' ? e === pattern : pattern.test(e)) return i;
    }
    return -1;
  }

  count(pattern: string | RegExp): number {
    return this.events.filter((e) => (typeof pattern === 'string' ? e === pattern : pattern.test(e))).length;
  }
}

// ------------------------------------------------------------------------------------------------
// Logs

export type LogLine = Record<string, unknown> & { level: string; message: string };

export interface CapturedLog {
  logger: Logger;
  /** Raw lines as written to the sink. */
  raw: string[];
  /** Parsed lines. */
  lines(): LogLine[];
  /** First line whose message contains `text` (or matches a RegExp). */
  find(text: string | RegExp): LogLine | undefined;
}

export function captureLogger(base: Record<string, unknown> = {}): CapturedLog {
  const raw: string[] = [];
  const logger = createLogger(base, { level: 'debug', sink: (line) => raw.push(line) });
  const lines = (): LogLine[] => raw.map((l) => JSON.parse(l) as LogLine);
  return {
    logger,
    raw,
    lines,
    find: (text) => lines().find((l) => (typeof text === 'string' ? l.message.includes(text) : text.test(l.message))),
  };
}

// ------------------------------------------------------------------------------------------------
// Secrets Manager

/** A version as tests describe one (for `addSecret` and `putVersion`). */
export interface FakeVersion {
  /** undefined (and no `binary`) = the empty AWSPENDING stub Secrets Manager creates for a rotation. */
  value?: string;
  /** A SecretBinary value instead of a SecretString. */
  binary?: Uint8Array;
  stages: string[];
}

/** A secret as the local Secrets Manager model holds it (live: reads see every change). */
export type FakeSecret = SecretRecord;

export type SmOperation =
  'DescribeSecret' | 'GetSecretValue' | 'PutSecretValue' | 'UpdateSecretVersionStage' | 'TagResource' | 'UntagResource';

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/**
 * Secrets Manager for the unit tests: the local endpoint's model (tests/local/aws/secretsmanager.ts)
 * in process. The client under test is a real SecretsManagerClient behind aws-sdk-client-mock, so
 * tests see each command's input and can inject failures (`before`); every command then goes
 * through a second real client whose request handler is the model itself (SDK serialization and
 * error mapping, no socket), so unit and end-to-end tests share one Secrets Manager.
 */
export class FakeSecretsManager {
  /** The model: the state every call reads and changes. */
  readonly service = new SecretsManagerService({ accountId: ACCOUNT, region: REGION });
  readonly client = new SecretsManagerClient({ region: REGION });
  readonly mock: AwsClientStub<SecretsManagerClient> = mockClient(this.client);
  /** Runs before every operation is applied; throw from it to inject a failure. */
  before: ((op: SmOperation, input: Record<string, unknown>) => void) | undefined;
  /** The client the mocked calls go through to the model; one attempt, as the mock makes. */
  private readonly wire = new SecretsManagerClient({
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: inProcessHandler({ secretsmanager: this.service }),
  });

  constructor(private readonly timeline = new Timeline()) {
    const enter = (op: SmOperation, label: string, input: object): void => {
      this.timeline.add(label);
      this.before?.(op, input as Record<string, unknown>);
    };
    this.mock.on(DescribeSecretCommand).callsFake((input: DescribeSecretCommandInput) => {
      enter('DescribeSecret', 'sm:DescribeSecret', input);
      return this.wire.send(new DescribeSecretCommand(input));
    });
    this.mock.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
      enter('GetSecretValue', 'sm:GetSecretValue', input);
      return this.wire.send(new GetSecretValueCommand(input));
    });
    this.mock.on(PutSecretValueCommand).callsFake((input: PutSecretValueCommandInput) => {
      enter('PutSecretValue', 'sm:PutSecretValue', input);
      return this.wire.send(new PutSecretValueCommand(input));
    });
    this.mock.on(UpdateSecretVersionStageCommand).callsFake((input: UpdateSecretVersionStageCommandInput) => {
      enter('UpdateSecretVersionStage', `sm:UpdateSecretVersionStage:${input.VersionStage}`, input);
      return this.wire.send(new UpdateSecretVersionStageCommand(input));
    });
    this.mock.on(TagResourceCommand).callsFake((input: TagResourceCommandInput) => {
      enter('TagResource', `sm:TagResource[${(input.Tags ?? []).map((t) => t.Key).join(',')}]`, input);
      return this.wire.send(new TagResourceCommand(input));
    });
    this.mock.on(UntagResourceCommand).callsFake((input: UntagResourceCommandInput) => {
      enter('UntagResource', `sm:UntagResource[${(input.TagKeys ?? []).join(',')}]`, input);
      return this.wire.send(new UntagResourceCommand(input));
    });
  }

  /**
   * A secret in a given state (see SecretsManagerService.seedSecret for the rules it keeps:
   * version ids are 32–64 character tokens, each label on one version at most).
   */
  addSecret(opts: {
    name: string;
    arn?: string;
    rotationEnabled?: boolean;
    tags?: Record<string, string>;
    versions?: Record<string, FakeVersion>;
  }): FakeSecret {
    return this.service.seedSecret({
      name: opts.name,
      ...(opts.arn !== undefined ? { arn: opts.arn } : {}),
      rotationEnabled: opts.rotationEnabled ?? true,
      ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
      versions: Object.fromEntries(
        Object.entries(opts.versions ?? {}).map(([id, v]) => [
          id,
          {
            stages: [...v.stages],
            ...(v.value !== undefined ? { value: v.value } : {}),
            ...(v.binary !== undefined ? { binary: base64(v.binary) } : {}),
          },
        ]),
      ),
    });
  }

  /**
   * Another writer's PutSecretValue (not a call of the code under test: not recorded, no
   * `before`), e.g. an application storing its own value as AWSCURRENT. Labels move as the
   * service moves them (AWSCURRENT leaves AWSPREVIOUS on the version it left).
   */
  putVersion(secretId: string, versionId: string, version: FakeVersion): void {
    this.service.handle('PutSecretValue', {
      SecretId: secretId,
      ClientRequestToken: versionId,
      ...(version.value !== undefined ? { SecretString: version.value } : {}),
      ...(version.binary !== undefined ? { SecretBinary: base64(version.binary) } : {}),
      VersionStages: version.stages,
    });
  }

  secret(id: string): FakeSecret {
    const s = this.service.get(id);
    if (!s) throw new Error(`no secret ${id}`);
    return s;
  }

  /** Version id → stages (sorted), as DescribeSecret would report them. */
  stages(id: string): Record<string, string[]> {
    return Object.fromEntries(Object.entries(this.service.stagesOf(id)).map(([v, stages]) => [v, stages.sort()]));
  }

  value(id: string, versionId: string): string | undefined {
    return this.secret(id).versions.get(versionId)?.value;
  }

  tags(id: string): Record<string, string> {
    return this.service.tagsOf(id);
  }

  /** Inputs of the calls of each command, in order. */
  puts(): PutSecretValueCommandInput[] {
    return this.mock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input);
  }

  stageMoves(): UpdateSecretVersionStageCommandInput[] {
    return this.mock.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input);
  }

  tagCalls(): TagResourceCommandInput[] {
    return this.mock.commandCalls(TagResourceCommand).map((c) => c.args[0].input);
  }

  untagCalls(): UntagResourceCommandInput[] {
    return this.mock.commandCalls(UntagResourceCommand).map((c) => c.args[0].input);
  }

  gets(): GetSecretValueCommandInput[] {
    return this.mock.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input);
  }

  /** Every command sent, by name, in order. */
  commandNames(): string[] {
    return this.mock.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
  }
}

// ------------------------------------------------------------------------------------------------
// SNS / EventBridge

export class FakeSns {
  readonly client = new SNSClient({ region: REGION });
  readonly mock: AwsClientStub<SNSClient> = mockClient(this.client);
  constructor(timeline = new Timeline()) {
    let n = 0;
    this.mock.on(PublishCommand).callsFake((_input: PublishCommandInput) => {
      timeline.add('sns:Publish');
      return { MessageId: `msg-${++n}` };
    });
  }
  publishes(): PublishCommandInput[] {
    return this.mock.commandCalls(PublishCommand).map((c) => c.args[0].input);
  }
}

export class FakeEvents {
  readonly client = new EventBridgeClient({ region: REGION });
  readonly mock: AwsClientStub<EventBridgeClient> = mockClient(this.client);
  constructor(timeline = new Timeline()) {
    let n = 0;
    this.mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      timeline.add('events:PutEvents');
      return { FailedEntryCount: 0, Entries: (input.Entries ?? []).map(() => ({ EventId: `evt-${++n}` })) };
    });
  }
  puts(): PutEventsCommandInput[] {
    return this.mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input);
  }
}

// ------------------------------------------------------------------------------------------------
// Route 53

/** The SDK's own send: mockClient(Route53Client) replaces it on Route53Client.prototype only. */
const sdkSend = (Object.getPrototypeOf(Route53Client.prototype) as { send: (command: unknown) => Promise<unknown> })
  .send;

/**
 * Route 53 for the unit tests: the local endpoint's model (tests/local/aws/route53.ts) in process.
 * Every Route53Client is mocked (the code under test makes its own), so tests see each command's
 * input; each command then goes through a client whose request handler is the model (the SDK's
 * REST-XML serialization and error mapping, no socket). Changes answer PENDING and stay so until
 * GetChange has been asked `pendingPolls` times for them, standing in for Route 53's delay.
 */
export class FakeRoute53 {
  /** The model: zones and records every call reads and changes. */
  readonly service = new Route53Service({ changeDelayMs: 0 });
  readonly mock: AwsClientStub<Route53Client> = mockClient(Route53Client);
  /** GetChange answers PENDING this many times per change before INSYNC. */
  pendingPolls = 0;
  /** Status ChangeResourceRecordSets answers with (INSYNC: Route 53 was done before answering). */
  changeStatus: 'PENDING' | 'INSYNC' = 'PENDING';
  /** Runs before a change batch is applied (to simulate a concurrent writer / inject errors). */
  beforeChange: ((input: ChangeResourceRecordSetsCommandInput, n: number) => void) | undefined;
  private readonly wire = new Route53Client({
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: inProcessHandler({ route53: this.service }),
  });
  private changeSeq = 0;
  private readonly polls = new Map<string, number>();
  private readonly changeIdsAnswered: string[] = [];

  constructor() {
    this.service.holdChanges(true);
    const forward = (command: unknown): Promise<unknown> => sdkSend.call(this.wire, command);
    this.mock
      .on(ListHostedZonesByNameCommand)
      .callsFake((input: ListHostedZonesByNameCommandInput) => forward(new ListHostedZonesByNameCommand(input)));
    this.mock
      .on(GetHostedZoneCommand)
      .callsFake((input: GetHostedZoneCommandInput) => forward(new GetHostedZoneCommand(input)));
    this.mock
      .on(ListResourceRecordSetsCommand)
      .callsFake((input: ListResourceRecordSetsCommandInput) => forward(new ListResourceRecordSetsCommand(input)));
    this.mock.on(ChangeResourceRecordSetsCommand).callsFake(async (input: ChangeResourceRecordSetsCommandInput) => {
      this.beforeChange?.(input, ++this.changeSeq);
      this.service.holdChanges(this.changeStatus === 'PENDING');
      try {
        const out = (await forward(
          new ChangeResourceRecordSetsCommand(input),
        )) as ChangeResourceRecordSetsCommandOutput;
        this.changeIdsAnswered.push((out.ChangeInfo?.Id ?? '').replace(/^\/?change\//, ''));
        return out;
      } finally {
        this.service.holdChanges(true);
      }
    });
    this.mock.on(GetChangeCommand).callsFake(async (input: GetChangeCommandInput) => {
      const id = (input.Id ?? '').replace(/^\/?change\//, '');
      const n = (this.polls.get(id) ?? 0) + 1;
      this.polls.set(id, n);
      // Changes turn INSYNC in the order they were made, so this releases earlier ones too.
      this.service.holdChanges(n <= this.pendingPolls);
      try {
        return await forward(new GetChangeCommand(input));
      } finally {
        this.service.holdChanges(true);
      }
    });
  }

  /** A zone with the given id (name servers ns-1/ns-2.<id>.awsdns.test). */
  addZone(id: string, name: string, opts: { private?: boolean } = {}): HostedZone53 {
    const ns = [`ns-1.${id.toLowerCase()}.awsdns.test`, `ns-2.${id.toLowerCase()}.awsdns.test`];
    return this.service.createZone(name, { id, privateZone: opts.private ?? false, nameServers: ns });
  }

  zone(id: string): HostedZone53 {
    const z = this.service.zone(id);
    if (!z) throw new Error(`no zone ${id}`);
    return z;
  }

  /**
   * Another writer's record set (UPSERT, not a call of the code under test: not recorded), with
   * Route 53's validation: TXT values are quoted, as in the API.
   */
  put(zoneId: string, name: string, type: string, values: string[], ttl = 300): void {
    this.service.changeRecords(zoneId, [{ action: 'UPSERT', record: { name, type, ttl, values } }]);
  }

  /** TXT values at a name (unquoted, a value's strings joined), in the API view; undefined when none. */
  txt(zoneId: string, name: string): string[] | undefined {
    const fqdn = canonicalName(name);
    const rs = this.zone(zoneId).records.find((r) => r.name === fqdn && r.type === 'TXT');
    return rs?.values.map(txtText);
  }

  changes(): { zoneId: string; changes: Change[]; comment?: string }[] {
    return this.mock.commandCalls(ChangeResourceRecordSetsCommand).map((c) => ({
      zoneId: c.args[0].input.HostedZoneId!,
      changes: c.args[0].input.ChangeBatch!.Changes!,
      comment: c.args[0].input.ChangeBatch!.Comment,
    }));
  }

  /**
   * The ids (without `/change/`) of the changes ChangeResourceRecordSets accepted, in order.
   * Route 53 makes them up (C followed by random letters and digits); read them here.
   */
  changeIds(): string[] {
    return [...this.changeIdsAnswered];
  }

  count(cmd: Parameters<AwsClientStub<Route53Client>['commandCalls']>[0]): number {
    return this.mock.commandCalls(cmd).length;
  }
}

// ------------------------------------------------------------------------------------------------
// DNS provider

// ------------------------------------------------------------------------------------------------
// ACM

/**
 * ACM as the rotation reaches it: the real adapter (rotation/aws/acm.ts) and SDK client, answered
 * in process by the local endpoint's ACM model (tests/local/aws/acm.ts), one client per region.
 */
export class FakeAcm {
  readonly service = new AcmService({ accountId: ACCOUNT });
  /** ImportCertificate calls to fail once each, by ARN, with this AWS error name. */
  readonly failImport = new Map<string, string>();

  /** Imports a certificate as the stack does (a placeholder of the key type), returns its ARN. */
  async seed(region: string, keyType: KeyType = 'ecdsa-p256', names = ['placeholder.example.com']): Promise<string> {
    const pki = makeTestPki({ names, keyType });
    const out = await this.client(region).send(
      new ImportCertificateCommand({
        Certificate: Buffer.from(pki.leaf.certPem),
        PrivateKey: Buffer.from(pki.leaf.keyPem),
        CertificateChain: Buffer.from(pki.chainPem),
      }),
    );
    return out.CertificateArn as string;
  }

  private readonly clients = new Map<string, ACMClient>();

  client(region: string): ACMClient {
    const kept = this.clients.get(region);
    if (kept) return kept;
    const client = new ACMClient({
      region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      requestHandler: inProcessHandler({ acm: this.service }),
    });
    this.clients.set(region, client);
    return client;
  }

  /** A port for one invocation, as rotation/acm/session.ts makes it. */
  port(): StepContext['acm'] {
    const adapter = new AcmAdapter((region) => this.client(region), { sleep: async () => undefined });
    return {
      describe: (arn) => adapter.describe(arn),
      import: async (arn, pem) => {
        const fail = this.failImport.get(arn);
        if (fail) {
          this.failImport.delete(arn);
          throw new AwsServiceError('ACM', 'ImportCertificate', fail, `${arn}: injected failure`);
        }
        return adapter.import(arn, pem);
      },
      calls: () => ({ ...adapter.calls }),
    };
  }
}

export class FakeDns implements ZoneWriter {
  /** TXT values currently published, as `domain value`. */
  readonly live = new Set<string>();
  readonly presentCalls: ChallengeRecord[][] = [];
  readonly cleanUpCalls: ChallengeRecord[][] = [];
  /** The names of createSecret's zone checks (locate calls). */
  readonly zoneChecks: string[][] = [];
  presentError: Error | undefined;
  cleanUpError: Error | undefined;
  zoneCheckError: Error | undefined;
  /** Deadlines passed to present/cleanUp, for assertions on the bounds used. */
  readonly deadlines: Deadline[] = [];

  constructor(private readonly timeline = new Timeline()) {}

  async present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]> {
    this.timeline.add('dns:present');
    this.presentCalls.push(records.map((r) => ({ ...r })));
    this.deadlines.push(deadline);
    await Promise.resolve();
    if (this.presentError) throw this.presentError;
    for (const r of records) this.live.add(`${r.domain} ${r.value}`);
    return records.map((r) => ({
      ...r,
      fqdn: `_acme-challenge.${r.domain}`,
      zoneId: 'ZFAKE',
      zoneName: r.domain.split('.').slice(-2).join('.'),
    }));
  }

  async locate(domains: string[]): Promise<void> {
    // createSecret's zone check before ordering: finds zones, changes nothing.
    this.timeline.add('dns:zoneCheck');
    this.zoneChecks.push([...domains]);
    await Promise.resolve();
    if (this.zoneCheckError) throw this.zoneCheckError;
  }

  async cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void> {
    this.timeline.add('dns:cleanUp');
    this.cleanUpCalls.push(records.map((r) => ({ ...r })));
    this.deadlines.push(deadline);
    await Promise.resolve();
    if (this.cleanUpError) throw this.cleanUpError;
    for (const r of records) this.live.delete(`${r.domain} ${r.value}`);
  }

  async waitForChanges(_deadline: Deadline): Promise<void> {
    // What present published is live at once: nothing to wait for but the call itself.
    this.timeline.add('dns:insync');
    await Promise.resolve();
  }

  authoritativeNameservers(_zoneId: string): Promise<string[]> {
    return Promise.resolve(['ns-1.fake.test']);
  }

  has(domain: string, value: string): boolean {
    return this.live.has(`${domain} ${value}`);
  }
}

// ------------------------------------------------------------------------------------------------
// CA

let sharedIssuer: { root: TestCa; intermediate: TestCa } | undefined;

/** A root and an intermediate shared by every FakeCa of the process (EC keys: cheap anyway). */
export function testIssuer(): { root: TestCa; intermediate: TestCa } {
  if (!sharedIssuer) {
    const root = makeRootCa({ cn: 'Fake ACME Root' });
    sharedIssuer = { root, intermediate: makeIntermediateCa(root, { cn: 'Fake ACME Intermediate' }) };
  }
  return sharedIssuer;
}

interface AuthzState {
  /** The order identifier as requested ('*.example.com' for a wildcard). */
  name: string;
  authz: AcmeAuthorization;
  answered: boolean;
  /** getAuthorizations polls seen since the challenge was answered. */
  pollsSinceAnswer: number;
  /** Outcome decided when answered: undefined = valid, else the problem detail. */
  problem?: { type: string; detail: string };
}

/** Problem type a real CA uses for a failed dns-01 validation. */
export const UNAUTHORIZED = 'urn:ietf:params:acme:error:unauthorized';

/**
 * A scripted ACME CA implementing CaClient. It checks what real CAs check: a challenge may only
 * be answered while its authorization is pending, the TXT value must be in DNS when it is
 * answered (when given a FakeDns), finalize needs a ready order and the CSR from createCsr.
 * The certificate it issues is real: for the CSR's key, signed by `testIssuer()`.
 */
export class FakeCa implements CaClient {
  readonly calls: Record<string, number> = {};
  /** Order names ('example.com', '*.example.com') whose authorization the CA reuses (already valid). */
  readonly reused = new Set<string>();
  /** Order names whose authorization already has this status when the order is created. */
  readonly initialStatus = new Map<string, AcmeAuthorization['status']>();
  /** Order names whose validation fails, with the CA's problem detail. */
  readonly failValidation = new Map<string, string>();
  /** getAuthorizations calls after an answer during which the authorization still shows pending. */
  validationPolls = 1;
  /** getOrder calls during which a finalized order shows processing. */
  processingPolls = 1;
  /** Offer a dns-01 challenge (false: http-01 only). */
  offerDns = true;
  /** Status of the order when created (e.g. 'invalid'); default derived from the authorizations. */
  createdStatus: AcmeOrder['status'] | undefined;
  /** The order turns invalid after finalize, with this problem. */
  invalidAfterFinalize: object | undefined;
  createOrderError: Error | undefined;
  /** Awaited inside completeChallenge (to observe concurrency). */
  completeHook: ((challenge: AcmeChallenge) => Promise<void>) | undefined;

  // Observations.
  readonly orders: { domains: string[]; profile: string | undefined; replaces?: string }[] = [];
  /** Order names whose challenge was answered, in order of the calls. */
  readonly answered: string[] = [];
  csrKeyPem: string | undefined;
  /** The PEM the CA returned from download (leaf + intermediate). */
  issuedPem: string | undefined;
  issuedLeafPem: string | undefined;

  private states: AuthzState[] = [];
  private order: AcmeOrder | undefined;
  private csr: Buffer | undefined;
  private finalized = false;
  private processingSeen = 0;
  private orderSeq = 0;

  constructor(private readonly opts: { timeline?: Timeline; dns?: FakeDns } = {}) {}

  private count(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    this.opts.timeline?.add(`ca:${op}`);
  }

  private snapshot(): AcmeOrder {
    const o = this.order as AcmeOrder;
    return JSON.parse(JSON.stringify(o)) as AcmeOrder;
  }

  private derivedStatus(): AcmeOrder['status'] {
    const o = this.order as AcmeOrder;
    if (o.status === 'invalid' || o.status === 'valid') return o.status;
    if (this.finalized) return o.status;
    if (this.states.some((s) => s.authz.status !== 'valid' && s.authz.status !== 'pending')) return 'invalid';
    return this.states.every((s) => s.authz.status === 'valid') ? 'ready' : 'pending';
  }

  /** Whether the directory advertises renewalInfo (ARI). */
  renewalInfo = false;
  /** Refuse orders that carry `replaces` (e.g. the certificate was already replaced). */
  rejectReplaces = false;

  supportsRenewalInfo(): Promise<boolean> {
    return Promise.resolve(this.renewalInfo);
  }

  /** The directory's meta.profiles; undefined: the CA lists none. */
  offeredProfiles: Record<string, string> | undefined;
  /** The account URL this CA knows the client by. */
  account = 'https://ca.test/account/1';

  profiles(): Promise<Record<string, string> | undefined> {
    this.count('directory');
    return Promise.resolve(this.offeredProfiles);
  }

  accountUrl(): string | undefined {
    return this.account;
  }

  /** The directory's meta.caaIdentities; undefined: the CA lists none. */
  identities: string[] | undefined;

  caaIdentities(): Promise<string[] | undefined> {
    return Promise.resolve(this.identities);
  }

  createOrder(domains: string[], profile: string | undefined, replaces?: string): Promise<AcmeOrder> {
    this.count('newOrder');
    this.orders.push({ domains: [...domains], profile, ...(replaces ? { replaces } : {}) });
    if (replaces && this.rejectReplaces) {
      return Promise.reject(
        new AcmeError('AcmeRequestFailed', 'CA rejected newOrder: alreadyReplaced (HTTP 409): already replaced', {
          problem: { type: 'alreadyReplaced', status: 409 },
        }),
      );
    }
    if (this.createOrderError) return Promise.reject(this.createOrderError);
    const orderId = ++this.orderSeq;
    this.states = domains.map((name, i) => {
      const wildcard = name.startsWith('*.');
      const value = wildcard ? name.slice(2) : name;
      const url = `https://ca.test/authz/${orderId}/${i}`;
      const token = randomBytes(16).toString('base64url');
      const challenges: AcmeChallenge[] = [
        ...(wildcard ? [] : [{ type: 'http-01' as const, url: `${url}/http`, status: 'pending' as const, token }]),
        ...(this.offerDns ? [{ type: 'dns-01' as const, url: `${url}/dns`, status: 'pending' as const, token }] : []),
      ];
      const status = this.reused.has(name) ? 'valid' : (this.initialStatus.get(name) ?? 'pending');
      if (status === 'valid') for (const c of challenges) if (c.type === 'dns-01') c.status = 'valid';
      const authz: AcmeAuthorization = {
        url,
        identifier: { type: 'dns', value },
        status,
        challenges,
        ...(wildcard ? { wildcard: true } : {}),
      };
      return { name, authz, answered: false, pollsSinceAnswer: 0 };
    });
    this.order = {
      url: `https://ca.test/order/${orderId}`,
      status: 'pending',
      identifiers: domains.map((value) => ({ type: 'dns', value })),
      authorizations: this.states.map((s) => s.authz.url),
      finalize: `https://ca.test/order/${orderId}/finalize`,
    };
    this.order.status = this.createdStatus ?? this.derivedStatus();
    if (this.order.status === 'invalid') this.order.error = { type: 'urn:ietf:params:acme:error:rejectedIdentifier' };
    return Promise.resolve(this.snapshot());
  }

  getOrder(order: AcmeOrder): Promise<AcmeOrder> {
    this.count('getOrder');
    if (!this.order || order.url !== this.order.url) return Promise.reject(new Error(`unknown order ${order.url}`));
    if (this.finalized && this.order.status === 'processing') {
      if (++this.processingSeen > this.processingPolls) {
        if (this.invalidAfterFinalize) {
          this.order.status = 'invalid';
          this.order.error = this.invalidAfterFinalize;
        } else {
          this.order.status = 'valid';
          this.order.certificate = `${this.order.url}/cert`;
        }
      }
    } else {
      this.advanceValidation();
      this.order.status = this.derivedStatus();
    }
    return Promise.resolve(this.snapshot());
  }

  getAuthorizations(order: AcmeOrder): Promise<AcmeAuthorization[]> {
    this.count('getAuthorizations');
    if (!this.order || order.url !== this.order.url) return Promise.reject(new Error(`unknown order ${order.url}`));
    this.advanceValidation();
    return Promise.resolve(this.states.map((s) => JSON.parse(JSON.stringify(s.authz)) as AcmeAuthorization));
  }

  /** Each look at the order or its authorizations moves answered challenges towards a verdict. */
  private advanceValidation(): void {
    for (const s of this.states) {
      if (!s.answered || s.authz.status !== 'pending') continue;
      if (s.pollsSinceAnswer++ < this.validationPolls) continue;
      const dns = s.authz.challenges.find((c) => c.type === 'dns-01') as AcmeChallenge;
      if (s.problem) {
        s.authz.status = 'invalid';
        dns.status = 'invalid';
        dns.error = s.problem;
      } else {
        s.authz.status = 'valid';
        dns.status = 'valid';
      }
    }
  }

  keyAuthorization(challenge: AcmeChallenge): Promise<string> {
    this.count('keyAuthorization');
    return Promise.resolve(FakeCa.txtValue(challenge));
  }

  /** The TXT value the fake expects for a challenge: 43 base64url characters, as real ones are. */
  static txtValue(challenge: AcmeChallenge): string {
    return createHash('sha256').update(`key authorization for ${challenge.token}`).digest('base64url');
  }

  async completeChallenge(challenge: AcmeChallenge): Promise<unknown> {
    this.count('respondChallenge');
    const s = this.states.find((x) => x.authz.challenges.some((c) => c.url === challenge.url));
    if (!s)
      throw new AcmeError('AcmeRequestFailed', `CA rejected respondChallenge: unknown challenge ${challenge.url}`);
    this.opts.timeline?.add(`ca:respondChallenge:${s.name}`);
    if (s.authz.status !== 'pending') {
      throw new AcmeError(
        'AcmeRequestFailed',
        `CA rejected respondChallenge: Unable to update challenge :: authorization must be pending (it is ${s.authz.status})`,
      );
    }
    this.answered.push(s.name);
    if (this.completeHook) await this.completeHook(challenge);
    s.answered = true;
    const failure = this.failValidation.get(s.name);
    const value = FakeCa.txtValue(challenge);
    if (failure !== undefined) {
      s.problem = { type: UNAUTHORIZED, detail: failure };
    } else if (this.opts.dns && !this.opts.dns.has(s.authz.identifier.value, value)) {
      s.problem = {
        type: UNAUTHORIZED,
        detail: `No TXT record found at _acme-challenge.${s.authz.identifier.value} (expected ${value})`,
      };
    }
    const dns = s.authz.challenges.find((c) => c.url === challenge.url) as AcmeChallenge;
    dns.status = 'processing';
    return { ...dns };
  }

  finalize(order: AcmeOrder, csr: Buffer): Promise<AcmeOrder> {
    this.count('finalize');
    if (!this.order || order.url !== this.order.url) return Promise.reject(new Error(`unknown order ${order.url}`));
    if (this.derivedStatus() !== 'ready') {
      return Promise.reject(new AcmeError('AcmeRequestFailed', 'CA rejected finalize: Order is not ready'));
    }
    if (!this.csr || !csr.equals(this.csr)) {
      return Promise.reject(new AcmeError('AcmeRequestFailed', 'CA rejected finalize: not the CSR from createCsr'));
    }
    this.finalized = true;
    this.order.status = 'processing';
    if (this.processingPolls === 0) {
      this.order.status = this.invalidAfterFinalize ? 'invalid' : 'valid';
      if (this.invalidAfterFinalize) this.order.error = this.invalidAfterFinalize;
    }
    return Promise.resolve(this.snapshot());
  }

  /** What each download asked for. */
  readonly downloads: { preferredChain?: string }[] = [];

  download(order: AcmeOrder, preferredChain?: string): Promise<string> {
    this.count('downloadCertificate');
    this.downloads.push(preferredChain ? { preferredChain } : {});
    if (!this.order || order.url !== this.order.url || this.order.status !== 'valid' || !this.csrKeyPem) {
      return Promise.reject(new AcmeError('AcmeRequestFailed', 'CA rejected downloadCertificate: order not valid'));
    }
    const { intermediate } = testIssuer();
    const leaf = makeLeaf(intermediate, {
      dnsNames: this.order.identifiers.map((i) => i.value),
      key: createPrivateKey(this.csrKeyPem),
    });
    this.issuedLeafPem = leaf.certPem;
    this.issuedPem = leaf.certPem + intermediate.certPem;
    return Promise.resolve(this.issuedPem);
  }

  createCsr(domains: string[], keyPem: string): Promise<Buffer> {
    this.count('createCsr');
    this.csrKeyPem = keyPem;
    this.csr = Buffer.from(`csr for ${domains.join(',')} ${randomBytes(4).toString('hex')}`);
    return Promise.resolve(this.csr);
  }

  /** Status of an order name's authorization right now. */
  authzStatus(name: string): AcmeAuthorization['status'] | undefined {
    return this.states.find((s) => s.name === name)?.authz.status;
  }
}

// ------------------------------------------------------------------------------------------------
// World: a handler over all the fakes

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    directoryUrl: DIRECTORY_URL,
    dnsResolvers: [],
    dnsPropagationTimeoutMs: 300_000,
    acmeTimeoutMs: 180_000,
    apiTimeoutMs: 10_000,
    eventSource: EVENT_SOURCE,
    notificationTopicArn: TOPIC_ARN,
    eventBusName: BUS_NAME,
    route53Roles: {},
    ...overrides,
  } as Config;
}

/** Spec tags as Pulumi writes them. */
export function specTags(domains: string[], keyType?: KeyType): Record<string, string> {
  return {
    ...Object.fromEntries(domainTags(domains).map((t) => [t.Key, t.Value])),
    ...(keyType ? { 'acme:key-type': keyType } : {}),
  };
}

/** A complete bundle (real chain) as a secret value. */
export function bundleFor(domains: string[], keyType: KeyType = 'ecdsa-p256'): CertificateBundle {
  return makeTestPki({ names: domains, keyType, root: testIssuer().root }).bundle;
}

export interface WorldOptions {
  domains?: string[];
  keyType?: KeyType;
  /** Extra tags on the certificate secret. */
  tags?: Record<string, string>;
  rotationEnabled?: boolean;
  /** Versions of the certificate secret; default: OLD current with a bundle, TOKEN the empty stub. */
  versions?: Record<string, FakeVersion>;
  config?: Partial<Config>;
}

export interface World {
  timeline: Timeline;
  sm: FakeSecretsManager;
  sns: FakeSns;
  events: FakeEvents;
  log: CapturedLog;
  dns: FakeDns;
  ca: FakeCa;
  acm: FakeAcm;
  config: Config;
  services: Services;
  handler: (event: unknown, context?: LambdaContext) => Promise<void>;
  /** Invoke one step the way Secrets Manager does. */
  invoke: (step: Step | string, token?: string, secretId?: string) => Promise<void>;
  /** How often the step asked for the CA client (ctx.ca.client()). */
  caRequests: () => number;
  /** Calls of ctx.verify. */
  verifyCalls: { bundle: CertificateBundle; opts: VerifyOptions }[];
  /** Runs as the solver's propagation check (after it is recorded on the timeline). */
  onPropagation: ((placed: PlacedRecord[], deadline: Deadline) => Promise<void> | void) | undefined;
  /** Step contexts built by the handler. */
  contexts: StepContext[];
}

export const NOW = new Date('2026-03-01T12:00:00.000Z');

export function makeWorld(opts: WorldOptions = {}): World {
  const timeline = new Timeline();
  const domains = opts.domains ?? ['example.com', '*.example.com'];
  const sm = new FakeSecretsManager(timeline);
  sm.addSecret({
    name: SECRET_NAME,
    arn: SECRET_ARN,
    rotationEnabled: opts.rotationEnabled ?? true,
    tags: { ...specTags(domains, opts.keyType), ...opts.tags },
    versions: opts.versions ?? {
      [OLD]: { value: JSON.stringify(bundleFor(domains, opts.keyType)), stages: ['AWSCURRENT'] },
      [TOKEN]: { stages: ['AWSPENDING'] },
    },
  });
  const sns = new FakeSns(timeline);
  const events = new FakeEvents(timeline);
  const log = captureLogger({ service: 'acme-rotation' });
  const dns = new FakeDns(timeline);
  const ca = new FakeCa({ timeline, dns });
  const acm = new FakeAcm();
  const config = testConfig(opts.config);
  const notifier = new Notifier({
    topicArn: config.notificationTopicArn,
    eventBusName: config.eventBusName,
    source: config.eventSource,
    logger: log.logger,
    sns: sns.client,
    events: events.client,
  });
  let caRequests = 0;
  const verifyCalls: World['verifyCalls'] = [];
  const contexts: StepContext[] = [];

  const world: World = {
    timeline,
    sm,
    sns,
    events,
    log,
    dns,
    ca,
    acm,
    config,
    services: undefined as unknown as Services, // set just below
    handler: undefined as unknown as World['handler'], // set just below
    invoke: (step, token = TOKEN, secretId = SECRET_ARN) =>
      world.handler(
        { Step: step, SecretId: secretId, ClientRequestToken: token },
        { getRemainingTimeInMillis: () => 900_000, awsRequestId: 'req-1', functionName: 'acme-rotation' },
      ),
    caRequests: () => caRequests,
    verifyCalls,
    onPropagation: undefined,
    contexts,
  };

  world.services = {
    config,
    logger: log.logger,
    notifier,
    secrets: () => new SecretsAdapter(sm.client),
    stepContext: (base) => {
      const ctx: StepContext = {
        ...base,
        config,
        dns: {
          // The real solver over the fake zones; only the propagation check is the world's.
          solverFor: (spec) =>
            new Dns01Solver({
              domains: spec.domains,
              zones: () => Promise.resolve(dns),
              secret: base.secret,
              token: base.token,
              tags: base.secrets,
              logger: base.logger,
              propagation: async (placed, deadline) => {
                timeline.add('dns:propagation');
                await world.onPropagation?.(placed, deadline);
              },
            }),
          calls: () => ({}),
        },
        ca: {
          prefetch: () => timeline.add('ca:prefetch'),
          client: () => {
            caRequests++;
            timeline.add('ca:client');
            return Promise.resolve(ca);
          },
          clientFor: () => {
            caRequests++;
            timeline.add('ca:client');
            return Promise.resolve(ca);
          },
          caaIdentities: () => Promise.resolve(undefined),
          // No CAA record anywhere: every CA may issue.
          caa: { relevantSet: (name) => Promise.resolve({ name, properties: [] }) },
        },
        acm: acm.port(),
        verify: (bundle, verifyOpts): Promise<VerifyResult> => {
          verifyCalls.push({ bundle, opts: verifyOpts });
          return Promise.resolve({ serial: bundle.serial, expiry: bundle.expiry, checks: ['fake'] });
        },
        now: () => NOW,
      };
      contexts.push(ctx);
      return ctx;
    },
  };
  world.handler = createHandler(() => world.services);
  return world;
}
