/**
 * Local Secrets Manager (JSON 1.1 protocol, `X-Amz-Target: secretsmanager.<Op>`).
 *
 * Keeps the semantics the rotation depends on: immutable versions, staging labels that move
 * between versions (AWSCURRENT → AWSPREVIOUS), the value-less AWSPENDING stub that RotateSecret
 * creates, idempotent PutSecretValue by ClientRequestToken, and the real error codes.
 *
 * `handle(operation, input)` is synchronous and returns the JSON output object or throws an
 * LocalServiceError; JsonService (protocols.ts) does the wire format.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { LocalServiceError } from './errors.js';
import { JsonService } from './protocols.js';
import { TokenBucket } from './token-bucket.js';
import type { Call } from './types.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** Secrets Manager keeps at most this many versions; older unlabelled ones are pruned. */
export const MAX_VERSIONS = 100;
const MAX_TAGS = 50;
const MAX_TAG_KEY_LENGTH = 128;
/** TagResource's restriction: "Maximum value length: 255 Unicode characters" (the Tag type says 256). */
const MAX_TAG_VALUE_LENGTH = 255;
/**
 * Secrets Manager quotas: "Combined rate of TagResource and UntagResource API requests: 50 per
 * second" per account and region, not adjustable. Excess requests get ThrottlingException.
 */
export const TAG_RATE_PER_SECOND = 50;

export interface SecretVersion {
  id: string;
  /** The SecretString. Neither this nor `binary` for the AWSPENDING stub RotateSecret creates. */
  value?: string;
  /** The SecretBinary, base64 as on the wire (a version holds one or the other). */
  binary?: string;
  stages: Set<string>;
  /** Epoch milliseconds. */
  createdAt: number;
  lastAccessedAt?: number;
}

export interface RotationRules {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
}

export interface SecretRecord {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: Map<string, string>;
  /** Insertion order = creation order. */
  versions: Map<string, SecretVersion>;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  /** Epoch milliseconds. */
  createdAt: number;
  lastChangedAt: number;
  lastRotatedAt?: number;
  lastAccessedAt?: number;
  /** Set when DeleteSecret scheduled the deletion (recovery window). */
  deletionDate?: number;
}

export interface RotateInfo {
  arn: string;
  token: string;
  rotateImmediately: boolean;
}

/** One version of a secret set up directly by `seedSecret`. */
export interface SeedVersion {
  /** The SecretString; neither this nor `binary` = RotateSecret's value-less AWSPENDING stub. */
  value?: string;
  /** The SecretBinary, base64 as on the wire. */
  binary?: string;
  stages: string[];
}

export interface SeedSecret {
  name: string;
  /** Default: a fresh ARN with the random 6-character suffix Secrets Manager appends. */
  arn?: string;
  rotationEnabled?: boolean;
  rotationLambdaArn?: string;
  tags?: Record<string, string>;
  /** By version id, oldest first. */
  versions?: Record<string, SeedVersion>;
}

export interface SecretsManagerOptions {
  accountId?: string;
  region?: string;
  now?: () => number;
  /** TagResource + UntagResource requests per second (token bucket, burst the same); default TAG_RATE_PER_SECOND. */
  tagRatePerSecond?: number;
}

/** A JSON input object (the decoded request body). */
type Input = Record<string, unknown>;

const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";

function notFound(message = NOT_FOUND): LocalServiceError {
  return new LocalServiceError('ResourceNotFoundException', message);
}
function invalidParameter(message: string): LocalServiceError {
  return new LocalServiceError('InvalidParameterException', message);
}
function invalidRequest(message: string): LocalServiceError {
  return new LocalServiceError('InvalidRequestException', message);
}
function validation(message: string): LocalServiceError {
  return new LocalServiceError('ValidationException', message);
}

/** Epoch seconds, the JSON protocols' timestamp format. */
function seconds(ms: number): number {
  return ms / 1000;
}

function optString(input: Input, field: string): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw validation(`${field} must be a string.`);
  return v;
}

function reqString(input: Input, field: string): string {
  const v = optString(input, field);
  if (v === undefined || v === '') {
    throw validation(
      `1 validation error detected: Value null at '${lowerFirst(field)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function optBoolean(input: Input, field: string): boolean | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw validation(`${field} must be a boolean.`);
  return v;
}

/** What a version holds: SecretString or SecretBinary (base64 on the wire), never both. */
interface Content {
  value?: string;
  binary?: string;
}

function readContent(input: Input): Content {
  const value = optString(input, 'SecretString');
  const binary = optString(input, 'SecretBinary');
  if (value !== undefined && binary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (binary === '') {
    throw validation(
      "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (binary !== undefined && (binary.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(binary))) {
    throw validation('SecretBinary must be base64-encoded.');
  }
  return { ...(value !== undefined ? { value } : {}), ...(binary !== undefined ? { binary } : {}) };
}

const hasContent = (c: Content): boolean => c.value !== undefined || c.binary !== undefined;

function optStringList(input: Input, field: string): string[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw validation(`${field} must be a list of strings.`);
  }
  return v as string[];
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function parseTags(input: Input, field: string): { Key: string; Value: string }[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw validation(`${field} must be a list of tags.`);
  return v.map((t: unknown, i) => {
    const tag = (t ?? {}) as { Key?: unknown; Value?: unknown };
    const at = `tags.${i + 1}.member`;
    if (typeof tag.Key !== 'string' || tag.Key.length < 1) {
      throw validation(
        `1 validation error detected: Value at '${at}.key' failed to satisfy constraint: Member must have length greater than or equal to 1`,
      );
    }
    const value = tag.Value === undefined || tag.Value === null ? '' : tag.Value;
    if (typeof value !== 'string') throw validation(`Value at '${at}.value' must be a string.`);
    return { Key: tag.Key, Value: value };
  });
}

/**
 * Tag rules: key 1..128 and value ≤255 chars are model constraints (ValidationException);
 * the reserved `aws:` prefix and the 50-tag limit are service checks (InvalidParameterException).
 * Commas, `*` and other characters are accepted, as Secrets Manager does.
 */
function validateTags(tags: { Key: string; Value: string }[]): void {
  tags.forEach((tag, i) => {
    const at = `tags.${i + 1}.member`;
    if ([...tag.Key].length > MAX_TAG_KEY_LENGTH) {
      throw validation(
        `1 validation error detected: Value '${tag.Key}' at '${at}.key' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAG_KEY_LENGTH}`,
      );
    }
    if ([...tag.Value].length > MAX_TAG_VALUE_LENGTH) {
      throw validation(
        `1 validation error detected: Value '${tag.Value}' at '${at}.value' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAG_VALUE_LENGTH}`,
      );
    }
    if (tag.Key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter(`Invalid tag key: ${tag.Key}. Tag keys that start with "aws:" are reserved for AWS use.`);
    }
  });
}

function checkTagCount(count: number): void {
  if (count > MAX_TAGS) {
    throw invalidParameter(`Number of tags exceeds the limit of ${MAX_TAGS} tags per secret (got ${count}).`);
  }
}

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const TOKEN_MIN = 32;
const TOKEN_MAX = 64;

function checkToken(token: string): void {
  if (token.length < TOKEN_MIN || token.length > TOKEN_MAX) {
    throw validation(
      `1 validation error detected: Value '${token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length between ${TOKEN_MIN} and ${TOKEN_MAX}`,
    );
  }
}

export class SecretsManagerService extends JsonService {
  readonly name = 'secretsmanager';
  override readonly internalErrorCode = 'InternalServiceError';
  protected readonly targetPrefix = 'secretsmanager';
  readonly accountId: string;
  readonly region: string;
  /** Called after RotateSecret created the stub; the test driver then runs the four steps. */
  onRotate?: (info: RotateInfo) => void;

  /** When each admitted TagResource/UntagResource was answered (epoch ms), for rate checks. */
  readonly tagWrites: number[] = [];
  /** TagResource/UntagResource requests refused with ThrottlingException. */
  tagThrottled = 0;

  private readonly now: () => number;
  /** By ARN. */
  private readonly secrets = new Map<string, SecretRecord>();
  private readonly tagBucket: TokenBucket;

  constructor(opts: SecretsManagerOptions = {}) {
    super();
    this.accountId = opts.accountId ?? '123456789012';
    this.region = opts.region ?? 'us-east-1';
    this.now = opts.now ?? Date.now;
    this.tagBucket = new TokenBucket(opts.tagRatePerSecond ?? TAG_RATE_PER_SECOND, this.now);
  }

  /** The account-wide tagging rate: one token per TagResource/UntagResource, or ThrottlingException. */
  private takeTagToken(): void {
    if (!this.tagBucket.take()) {
      this.tagThrottled++;
      throw new LocalServiceError('ThrottlingException', 'Rate exceeded', 400);
    }
    this.tagWrites.push(this.now());
  }

  // ---------------------------------------------------------------- test helpers

  /** The internal record (live, mutable), by name, full ARN or partial ARN; undefined if none. */
  get(nameOrArn: string): SecretRecord | undefined {
    return this.find(nameOrArn);
  }

  /** Labelled versions and their labels, like DescribeSecret's VersionIdsToStages. */
  stagesOf(nameOrArn: string): Record<string, string[]> {
    const secret = this.find(nameOrArn);
    if (!secret) throw new Error(`no secret ${nameOrArn}`);
    return versionIdsToStages(secret);
  }

  /** The value of the version holding `stage` (undefined if none or the stub). */
  valueAt(nameOrArn: string, stage: string): string | undefined {
    const secret = this.find(nameOrArn);
    if (!secret) throw new Error(`no secret ${nameOrArn}`);
    return holderOf(secret, stage)?.value;
  }

  /** Tags as a plain object. */
  tagsOf(nameOrArn: string): Record<string, string> {
    const secret = this.find(nameOrArn);
    if (!secret) throw new Error(`no secret ${nameOrArn}`);
    return Object.fromEntries(secret.tags);
  }

  /**
   * Remove a label from a version directly (what Secrets Manager itself does, e.g. dropping the
   * AWSPENDING test version after a RotateImmediately=false run). No checks.
   */
  removeStage(nameOrArn: string, versionId: string, stage: string): void {
    this.find(nameOrArn)?.versions.get(versionId)?.stages.delete(stage);
  }

  /** All secrets, including those scheduled for deletion. */
  list(): SecretRecord[] {
    return [...this.secrets.values()];
  }

  /**
   * Create a secret directly in a state that calls (RotateSecret included) could have left, e.g.
   * a rotation in progress with its value-less AWSPENDING stub. The service's invariants hold:
   * a valid name, an ARN of this account and region with the 6-character suffix, version ids
   * that are valid ClientRequestTokens, a string or a base64 binary value (not both), each
   * label on at most one version, and the tag rules. Throws like the service (or an Error for a
   * state no call sequence can reach).
   */
  seedSecret(seed: SeedSecret): SecretRecord {
    if (!NAME_PATTERN.test(seed.name)) {
      throw invalidParameter(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    if (this.byName(seed.name)) {
      throw new LocalServiceError(
        'ResourceExistsException',
        `The operation failed because the secret ${seed.name} already exists.`,
      );
    }
    const prefix = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${seed.name}-`;
    const arn = seed.arn ?? `${prefix}${randomSuffix()}`;
    if (!arn.startsWith(prefix) || !/^[A-Za-z0-9]{6}$/.test(arn.slice(prefix.length))) {
      throw new Error(`seedSecret: ${arn} is not an ARN Secrets Manager gives ${seed.name} here (${prefix}XXXXXX)`);
    }
    const tags = Object.entries(seed.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
    validateTags(tags);
    checkTagCount(tags.length);

    const now = this.now();
    const secret: SecretRecord = {
      name: seed.name,
      arn,
      tags: new Map(tags.map((t) => [t.Key, t.Value])),
      versions: new Map(),
      rotationEnabled: seed.rotationEnabled ?? false,
      createdAt: now,
      lastChangedAt: now,
    };
    if (seed.rotationLambdaArn !== undefined) secret.rotationLambdaArn = seed.rotationLambdaArn;
    const labelled = new Map<string, string>();
    for (const [id, v] of Object.entries(seed.versions ?? {})) {
      checkToken(id);
      const content = readContent({
        ...(v.value !== undefined ? { SecretString: v.value } : {}),
        ...(v.binary !== undefined ? { SecretBinary: v.binary } : {}),
      });
      for (const stage of v.stages) {
        const other = labelled.get(stage);
        if (other !== undefined) {
          throw new Error(`seedSecret: the label ${stage} cannot be on both version ${other} and version ${id}`);
        }
        labelled.set(stage, id);
      }
      if (v.stages.length > 20) throw validation('VersionStages can hold at most 20 labels.');
      const version: SecretVersion = { id, stages: new Set(v.stages), createdAt: now, ...content };
      secret.versions.set(id, version);
    }
    this.secrets.set(arn, secret);
    return secret;
  }

  // ---------------------------------------------------------------- dispatch

  protected run(call: Call): unknown {
    return this.handle(call.operation, call.input as Input);
  }

  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'UpdateSecretVersionStage':
        return this.updateSecretVersionStage(input);
      case 'TagResource':
        this.takeTagToken();
        return this.tagResource(input);
      case 'UntagResource':
        this.takeTagToken();
        return this.untagResource(input);
      case 'RotateSecret':
        return this.rotateSecret(input);
      case 'CancelRotateSecret':
        return this.cancelRotateSecret(input);
      case 'ListSecretVersionIds':
        return this.listSecretVersionIds(input);
      case 'ListSecrets':
        return this.listSecrets(input);
      case 'DeleteSecret':
        return this.deleteSecret(input);
      case 'RestoreSecret':
        return this.restoreSecret(input);
      default:
        throw new LocalServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by the local Secrets Manager.`,
        );
    }
  }

  // ---------------------------------------------------------------- operations

  private createSecret(input: Input): unknown {
    const name = reqString(input, 'Name');
    if (!NAME_PATTERN.test(name)) {
      throw invalidParameter(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const content = readContent(input);
    const token = optString(input, 'ClientRequestToken');
    if (token !== undefined) checkToken(token);
    const tags = parseTags(input, 'Tags') ?? [];
    validateTags(tags);
    const tagMap = new Map(tags.map((t) => [t.Key, t.Value]));
    checkTagCount(tagMap.size);

    const existing = this.byName(name);
    if (existing?.deletionDate !== undefined) {
      throw invalidRequest(
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    if (existing) {
      throw new LocalServiceError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }

    const now = this.now();
    const arn = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${randomSuffix()}`;
    const secret: SecretRecord = {
      name,
      arn,
      tags: tagMap,
      versions: new Map(),
      rotationEnabled: false,
      createdAt: now,
      lastChangedAt: now,
    };
    const description = optString(input, 'Description');
    if (description !== undefined) secret.description = description;
    const kmsKeyId = optString(input, 'KmsKeyId');
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    this.secrets.set(arn, secret);

    if (!hasContent(content)) return { ARN: arn, Name: name };
    const versionId = token ?? randomUUID();
    this.addVersion(secret, versionId, content, [AWSCURRENT]);
    return { ARN: arn, Name: name, VersionId: versionId };
  }

  private describeSecret(input: Input): unknown {
    const secret = this.resolve(input, { allowDeleted: true });
    return describe(secret);
  }

  private getSecretValue(input: Input): unknown {
    const secret = this.resolve(input);
    const versionId = optString(input, 'VersionId');
    const stage = optString(input, 'VersionStage');
    let version: SecretVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (!version || !hasContent(version)) {
        throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      }
      if (stage !== undefined && !version.stages.has(stage)) {
        throw invalidRequest(`You provided a VersionStage that is not associated to the provided VersionId.`);
      }
    } else {
      const label = stage ?? AWSCURRENT;
      version = holderOf(secret, label);
      if (!version) {
        throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${label}`);
      }
      if (!hasContent(version)) {
        throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${version.id}`);
      }
    }
    const now = this.now();
    version.lastAccessedAt = now;
    secret.lastAccessedAt = now;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.value !== undefined ? { SecretString: version.value } : {}),
      ...(version.binary !== undefined ? { SecretBinary: version.binary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.createdAt),
    };
  }

  private putSecretValue(input: Input): unknown {
    const secret = this.resolve(input);
    const content = readContent(input);
    if (!hasContent(content)) {
      throw invalidParameter('You must provide either SecretString or SecretBinary.');
    }
    // The SDK fills ClientRequestToken with a UUID when the caller leaves it out.
    const token = optString(input, 'ClientRequestToken') ?? randomUUID();
    checkToken(token);
    const stages = optStringList(input, 'VersionStages') ?? [AWSCURRENT];
    if (stages.length > 20) throw validation('VersionStages can hold at most 20 labels.');

    const existing = secret.versions.get(token);
    if (existing && hasContent(existing)) {
      if (existing.value !== content.value || existing.binary !== content.binary) {
        throw new LocalServiceError(
          'ResourceExistsException',
          "You can't modify an existing version, you can only create a new version.",
        );
      }
      // Same token and value: an idempotent retry; nothing changes.
      return putResult(secret, existing);
    }

    let version: SecretVersion;
    if (existing) {
      // The AWSPENDING stub of a rotation: this call gives it its value; it keeps its labels.
      Object.assign(existing, content);
      version = existing;
      for (const stage of stages) this.attach(secret, version, stage);
    } else {
      version = this.addVersion(secret, token, content, stages);
    }
    secret.lastChangedAt = this.now();
    return putResult(secret, version);
  }

  private updateSecretVersionStage(input: Input): unknown {
    const secret = this.resolve(input);
    const stage = reqString(input, 'VersionStage');
    const moveTo = optString(input, 'MoveToVersionId');
    const removeFrom = optString(input, 'RemoveFromVersionId');
    const target = moveTo === undefined ? undefined : secret.versions.get(moveTo);
    if (moveTo !== undefined && !target) {
      throw notFound(`Secrets Manager can't find the specified secret version: ${moveTo}`);
    }
    const source = removeFrom === undefined ? undefined : secret.versions.get(removeFrom);
    if (removeFrom !== undefined && !source) {
      throw notFound(`Secrets Manager can't find the specified secret version: ${removeFrom}`);
    }
    const holder = holderOf(secret, stage);

    if (!target) {
      if (!source) {
        throw invalidParameter('You must specify MoveToVersionId or RemoveFromVersionId.');
      }
      if (!source.stages.has(stage)) {
        throw invalidParameter(
          `Staging label ${stage} is not attached to version ${source.id}, so it can't be removed from it.`,
        );
      }
      if (stage === AWSCURRENT) {
        throw invalidParameter(
          `You can't remove the staging label ${AWSCURRENT} from a version without moving it to another version with MoveToVersionId.`,
        );
      }
      source.stages.delete(stage);
      secret.lastChangedAt = this.now();
      return { ARN: secret.arn, Name: secret.name };
    }

    if (holder === target) return { ARN: secret.arn, Name: secret.name }; // already there
    if (holder) {
      if (removeFrom === undefined) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      if (removeFrom !== holder.id) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId (${removeFrom}) doesn't match the version the staging label ${stage} is attached to (${holder.id}).`,
        );
      }
    } else if (source) {
      throw invalidParameter(
        `Staging label ${stage} is not attached to version ${source.id}, so it can't be removed from it.`,
      );
    }
    const completesRotation = stage === AWSCURRENT && target.stages.has(AWSPENDING);
    this.attach(secret, target, stage);
    const now = this.now();
    secret.lastChangedAt = now;
    if (completesRotation) secret.lastRotatedAt = now;
    return { ARN: secret.arn, Name: secret.name };
  }

  private tagResource(input: Input): unknown {
    const secret = this.resolve(input);
    const tags = parseTags(input, 'Tags');
    if (!tags)
      throw validation(
        "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
      );
    validateTags(tags);
    const merged = new Map(secret.tags);
    for (const t of tags) merged.set(t.Key, t.Value);
    checkTagCount(merged.size);
    secret.tags = merged;
    secret.lastChangedAt = this.now();
    return {};
  }

  private untagResource(input: Input): unknown {
    const secret = this.resolve(input);
    const keys = optStringList(input, 'TagKeys');
    if (!keys)
      throw validation(
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
      );
    for (const key of keys) secret.tags.delete(key);
    secret.lastChangedAt = this.now();
    return {};
  }

  private rotateSecret(input: Input): unknown {
    const secret = this.resolve(input);
    const pending = holderOf(secret, AWSPENDING);
    const token = optString(input, 'ClientRequestToken') ?? randomUUID();
    checkToken(token);
    const existing = secret.versions.get(token);
    if (existing && existing === pending && !pending.stages.has(AWSCURRENT)) {
      // A retry of the same RotateSecret call.
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    }
    if (pending && !pending.stages.has(AWSCURRENT)) {
      throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
    }
    if (existing) {
      throw new LocalServiceError(
        'ResourceExistsException',
        `A version with VersionId ${token} already exists; use a new ClientRequestToken.`,
      );
    }
    const lambdaArn = optString(input, 'RotationLambdaARN') ?? secret.rotationLambdaArn;
    if (lambdaArn === undefined) {
      throw invalidRequest(
        'No Lambda rotation function ARN is associated with this secret. Specify RotationLambdaARN.',
      );
    }
    const rules = input['RotationRules'];
    if (rules !== undefined && rules !== null) {
      if (typeof rules !== 'object') throw validation('RotationRules must be a structure.');
      secret.rotationRules = { ...(rules as RotationRules) };
    }
    const rotateImmediately = optBoolean(input, 'RotateImmediately') ?? true;
    secret.rotationEnabled = true;
    secret.rotationLambdaArn = lambdaArn;

    // The stub: no value (RotateImmediately=false: it holds the current value, for testSecret).
    const current = holderOf(secret, AWSCURRENT);
    const content: Content = rotateImmediately || !current ? {} : { value: current.value, binary: current.binary };
    this.addVersion(secret, token, content, [AWSPENDING]);
    secret.lastChangedAt = this.now();
    this.onRotate?.({ arn: secret.arn, token, rotateImmediately });
    return { ARN: secret.arn, Name: secret.name, VersionId: token };
  }

  private cancelRotateSecret(input: Input): unknown {
    const secret = this.resolve(input);
    secret.rotationEnabled = false;
    const pending = holderOf(secret, AWSPENDING);
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(pending ? { VersionId: pending.id } : {}),
    };
  }

  private listSecretVersionIds(input: Input): unknown {
    const secret = this.resolve(input);
    const includeDeprecated = optBoolean(input, 'IncludeDeprecated') ?? false;
    const versions = [...secret.versions.values()]
      .filter((v) => includeDeprecated || v.stages.size > 0)
      .map((v) => ({
        VersionId: v.id,
        VersionStages: [...v.stages],
        CreatedDate: seconds(v.createdAt),
        ...(v.lastAccessedAt !== undefined ? { LastAccessedDate: seconds(v.lastAccessedAt) } : {}),
      }));
    return { ARN: secret.arn, Name: secret.name, Versions: versions };
  }

  /**
   * ListSecrets with the real service's filters (prefix matches: name, tag-key, tag-value and
   * primary-region case-sensitive, description not; `!` negates; values of one filter are ORed,
   * filters ANDed) and pages (MaxResults 1-100, NextToken), oldest first.
   */
  private listSecrets(input: Input): unknown {
    const includeDeleted = optBoolean(input, 'IncludePlannedDeletion') ?? false;
    const filters = parseFilters(input['Filters']);
    const maxRaw = input['MaxResults'];
    if (maxRaw !== undefined && maxRaw !== null && (typeof maxRaw !== 'number' || maxRaw < 1 || maxRaw > 100)) {
      throw validation(
        `1 validation error detected: Value '${String(maxRaw)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100`,
      );
    }
    const pageSize = typeof maxRaw === 'number' ? maxRaw : 100;
    const token = optString(input, 'NextToken');
    let start = 0;
    if (token !== undefined) {
      const m = /^page:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!m) throw invalidParameter('Invalid NextToken.');
      start = Number(m[1]);
    }
    const secrets = [...this.secrets.values()]
      .filter((s) => includeDeleted || s.deletionDate === undefined)
      .filter((s) => filters.every((f) => matchesFilter(s, f)))
      .sort((a, b) => a.createdAt - b.createdAt);
    const page = secrets.slice(start, start + pageSize);
    const next = start + pageSize < secrets.length ? start + pageSize : undefined;
    return {
      SecretList: page.map((s) => {
        const { VersionIdsToStages, ...rest } = describe(s);
        return { ...rest, SecretVersionsToStages: VersionIdsToStages };
      }),
      ...(next !== undefined ? { NextToken: Buffer.from(`page:${next}`).toString('base64url') } : {}),
    };
  }

  private deleteSecret(input: Input): unknown {
    const secret = this.resolve(input, { allowDeleted: true });
    const force = optBoolean(input, 'ForceDeleteWithoutRecovery') ?? false;
    const windowDays = input['RecoveryWindowInDays'];
    if (force && windowDays !== undefined && windowDays !== null) {
      throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    const now = this.now();
    if (force) {
      this.secrets.delete(secret.arn);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    if (secret.deletionDate !== undefined) throw invalidRequest(MARKED_FOR_DELETION);
    const days = typeof windowDays === 'number' ? windowDays : 30;
    if (days < 7 || days > 30) {
      throw invalidParameter('RecoveryWindowInDays must be between 7 and 30 days.');
    }
    secret.deletionDate = now + days * 86_400_000;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletionDate) };
  }

  private restoreSecret(input: Input): unknown {
    const secret = this.resolve(input, { allowDeleted: true });
    delete secret.deletionDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  // ---------------------------------------------------------------- internals

  /** SecretId → record, or the Secrets Manager errors. */
  private resolve(input: Input, opts: { allowDeleted?: boolean } = {}): SecretRecord {
    const id = reqString(input, 'SecretId');
    const secret = this.find(id);
    if (!secret) throw notFound();
    if (secret.deletionDate !== undefined && !opts.allowDeleted) {
      throw invalidRequest(MARKED_FOR_DELETION);
    }
    return secret;
  }

  private find(nameOrArn: string): SecretRecord | undefined {
    const byArn = this.secrets.get(nameOrArn);
    if (byArn) return byArn;
    if (nameOrArn.startsWith('arn:')) {
      // A partial ARN (without the -XXXXXX suffix) also identifies the secret.
      for (const s of this.secrets.values()) {
        if (s.arn.slice(0, -7) === nameOrArn) return s;
      }
      return undefined;
    }
    return this.byName(nameOrArn);
  }

  private byName(name: string): SecretRecord | undefined {
    for (const s of this.secrets.values()) if (s.name === name) return s;
    return undefined;
  }

  private addVersion(secret: SecretRecord, id: string, content: Content, stages: string[]): SecretVersion {
    const version: SecretVersion = { id, stages: new Set(), createdAt: this.now() };
    if (content.value !== undefined) version.value = content.value;
    if (content.binary !== undefined) version.binary = content.binary;
    secret.versions.set(id, version);
    for (const stage of stages) this.attach(secret, version, stage);
    this.prune(secret);
    return version;
  }

  /**
   * Attach `stage` to `version`, moving it from whichever version had it. When AWSCURRENT moves,
   * the version that had it gets AWSPREVIOUS (which leaves its previous holder).
   */
  private attach(secret: SecretRecord, version: SecretVersion, stage: string): void {
    const holder = holderOf(secret, stage);
    if (holder === version) return;
    holder?.stages.delete(stage);
    version.stages.add(stage);
    if (stage === AWSCURRENT && holder) {
      holderOf(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
      holder.stages.add(AWSPREVIOUS);
    }
  }

  /**
   * Keep at most MAX_VERSIONS versions: drop the oldest versions without labels. (AWS also
   * spares versions younger than 24 hours; this local model does not.)
   */
  private prune(secret: SecretRecord): void {
    for (const v of [...secret.versions.values()]) {
      if (secret.versions.size <= MAX_VERSIONS) return;
      if (v.stages.size === 0) secret.versions.delete(v.id);
    }
  }
}

function holderOf(secret: SecretRecord, stage: string): SecretVersion | undefined {
  for (const v of secret.versions.values()) if (v.stages.has(stage)) return v;
  return undefined;
}

function versionIdsToStages(secret: SecretRecord): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of secret.versions.values()) if (v.stages.size > 0) out[v.id] = [...v.stages];
  return out;
}

function putResult(secret: SecretRecord, version: SecretVersion): unknown {
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.id,
    VersionStages: [...version.stages],
  };
}

interface ListFilter {
  key: 'description' | 'name' | 'tag-key' | 'tag-value' | 'primary-region' | 'owning-service' | 'all';
  values: string[];
}

const FILTER_KEYS = ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'];
const FILTER_VALUE_RE = /^!?[a-zA-Z0-9 :_@/+=.\-!]*$/;

function parseFilters(raw: unknown): ListFilter[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw validation('Filters must be a list.');
  return raw.map((f: unknown) => {
    const { Key, Values } = (f ?? {}) as { Key?: unknown; Values?: unknown };
    if (typeof Key !== 'string' || !FILTER_KEYS.includes(Key)) {
      throw validation(
        `1 validation error detected: Value '${String(Key)}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [${FILTER_KEYS.join(', ')}]`,
      );
    }
    if (!Array.isArray(Values) || Values.length < 1 || Values.length > 10) {
      throw validation("1 validation error detected: Value at 'filters.1.member.values' must have 1 to 10 members");
    }
    for (const v of Values) {
      if (typeof v !== 'string' || v.length > 512 || !FILTER_VALUE_RE.test(v)) {
        throw validation(
          `1 validation error detected: Value '${String(v)}' at 'filters.1.member.values' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$`,
        );
      }
    }
    return { key: Key as ListFilter['key'], values: Values as string[] };
  });
}

function matchesFilter(s: SecretRecord, f: ListFilter): boolean {
  const fields = (): string[] => {
    switch (f.key) {
      case 'name':
        return [s.name];
      case 'description':
        return s.description !== undefined ? [s.description] : [];
      case 'tag-key':
        return [...s.tags.keys()];
      case 'tag-value':
        return [...s.tags.values()];
      case 'all':
        return [s.name, s.description ?? '', ...s.tags.keys(), ...s.tags.values()];
      default:
        return [];
    }
  };
  const caseless = f.key === 'description' || f.key === 'all';
  const norm = (t: string): string => (caseless ? t.toLowerCase() : t);
  return f.values.some((raw) => {
    const negate = raw.startsWith('!');
    const value = norm(negate ? raw.slice(1) : raw);
    const hit = fields().some((field) => norm(field).startsWith(value));
    return negate ? !hit : hit;
  });
}

function describe(s: SecretRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ARN: s.arn,
    Name: s.name,
    RotationEnabled: s.rotationEnabled,
    LastChangedDate: seconds(s.lastChangedAt),
    VersionIdsToStages: versionIdsToStages(s),
    CreatedDate: seconds(s.createdAt),
  };
  if (s.description !== undefined) out['Description'] = s.description;
  if (s.kmsKeyId !== undefined) out['KmsKeyId'] = s.kmsKeyId;
  if (s.rotationLambdaArn !== undefined) out['RotationLambdaARN'] = s.rotationLambdaArn;
  if (s.rotationRules !== undefined) out['RotationRules'] = s.rotationRules;
  if (s.lastRotatedAt !== undefined) out['LastRotatedDate'] = seconds(s.lastRotatedAt);
  if (s.lastAccessedAt !== undefined) {
    // AWS reports the access date truncated to the day.
    out['LastAccessedDate'] = seconds(Math.floor(s.lastAccessedAt / 86_400_000) * 86_400_000);
  }
  if (s.deletionDate !== undefined) out['DeletedDate'] = seconds(s.deletionDate);
  if (s.tags.size > 0) out['Tags'] = [...s.tags].map(([Key, Value]) => ({ Key, Value }));
  return out;
}

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomSuffix(): string {
  return [...randomBytes(6)].map((b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
}
