/**
 * Local STS (AWS Query protocol, API version 2011-06-15) and the endpoint's accounts and callers.
 *
 * Every request to the endpoint is made by the caller its SigV4 access key identifies:
 * - any long-term key (the `test` key of the endpoint's environment) is the endpoint's own caller:
 *   the function's role in the default account, not restricted by any policy;
 * - an `ASIA…` key is an assumed-role session: it acts in the role's account with the role's
 *   permission policy, until it expires; then every service refuses it with ExpiredToken, and a key
 *   the endpoint never issued (or sent without its session token) is refused as invalid.
 *
 * Roles live in the account their ARN names (any 12-digit account; accounts exist as soon as
 * something is created in them). AssumeRole keeps STS's rules: the caller must be trusted by the
 * role's trust policy, the external id must match when the role requires one, and every refusal
 * (unknown role included: STS does not reveal whether a role exists) is the same AccessDenied.
 * A role's permission policy only covers Route 53, so an assumed-role session cannot itself assume
 * roles.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialScope } from './credential-scope.js';
import { LocalServiceError } from './errors.js';
import { escapeXml, headerOf, isQueryRequest, xmlErrorResponse } from './protocols.js';
import type {
  AwsFaultError,
  Call,
  LocalService,
  Principal,
  Route53Permissions,
  ServiceRequest,
  ServiceResponse,
} from './types.js';

export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The Route 53 actions a role gets when `createRole` names none: what a DNS-01 solver needs. */
export const DEFAULT_ROLE_ROUTE53_ACTIONS = [
  'GetHostedZone',
  'ListResourceRecordSets',
  'ChangeResourceRecordSets',
  'GetChange',
];

/** The STS operations this endpoint answers (an unsigned Query-protocol request naming one is STS's). */
const STS_OPERATIONS = new Set(['AssumeRole', 'GetCallerIdentity']);

const MIN_DURATION = 900;
const MAX_DURATION = 43200;
/** IAM's default MaxSessionDuration of a role. */
const DEFAULT_ROLE_MAX_SESSION = 3600;

export interface RoleSpec {
  /** `arn:aws:iam::<12 digits>:role/<path/>name`; the role lives in that account. */
  arn: string;
  /**
   * Principal ARNs the trust policy allows to assume the role: a role ARN (matching that role
   * and its sessions), an assumed-role session ARN, `arn:aws:iam::<account>:root` or a bare
   * account id (any caller of that account).
   */
  trustedPrincipals: string[];
  /** When set, the trust policy requires `sts:ExternalId` to equal it. */
  externalId?: string;
  /** Longest session AssumeRole grants (seconds, 3600–43200); default 3600, as IAM. */
  maxSessionDuration?: number;
  /** The role's permission policy for Route 53; `actions` default to DEFAULT_ROLE_ROUTE53_ACTIONS. */
  route53: { zoneIds: string[]; actions?: string[] };
}

export interface Role {
  arn: string;
  account: string;
  name: string;
  /** IAM's unique id (`AROA…`), the first part of AssumedRoleId. */
  roleId: string;
  trustedPrincipals: string[];
  externalId?: string;
  maxSessionDuration: number;
  route53: Route53Permissions;
}

/** One AssumeRole grant (for assertions). */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms; the credentials are refused from then on. */
  expiresAt: number;
  role: Role;
  sessionName: string;
  /** The caller that assumed the role. */
  assumedBy: string;
  principal: Principal;
}

export interface StsOptions {
  /** The endpoint's default account. */
  accountId: string;
  /** ARN of the endpoint's own caller; default `arn:aws:iam::<accountId>:role/acme-rotation`. */
  principalArn?: string;
  /** Clock (epoch ms); default Date.now. */
  now?: () => number;
}

/** The result of identifying a request's caller. */
export type CallerOf = { principal: Principal; error?: undefined } | { error: CallerError; principal?: undefined };

/**
 * Why a request's credentials are refused; each protocol names it its own way (Query/REST-XML
 * services: ExpiredToken / InvalidClientTokenId; JSON services: ExpiredTokenException /
 * UnrecognizedClientException), always HTTP 403.
 */
export interface CallerError {
  kind: 'expired' | 'invalid';
  message: string;
}

/** A CallerError as the given protocol reports it. */
export function callerErrorFor(error: CallerError, protocol: 'xml' | 'json'): AwsFaultError {
  const code =
    error.kind === 'expired'
      ? protocol === 'xml'
        ? 'ExpiredToken'
        : 'ExpiredTokenException'
      : protocol === 'xml'
        ? 'InvalidClientTokenId'
        : 'UnrecognizedClientException';
  return { code, message: error.message, status: 403 };
}

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;
const SESSION_ARN = /^arn:aws:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/;

function randomAlnum(n: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let s = '';
  for (const b of randomBytes(n)) s += alphabet[b % alphabet.length];
  return s;
}

/** ISO 8601 as STS writes it: whole seconds without a fraction. */
function stsTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

export class StsService implements LocalService {
  readonly name = 'sts';
  readonly protocol = 'xml';
  readonly internalErrorCode = 'InternalFailure';
  readonly accountId: string;
  /** The endpoint's own caller (the access key `test` and any other long-term key). */
  readonly defaultPrincipal: Principal;
  /**
   * Test hook: when set, sessions last at most this many seconds (fractions allowed) whatever
   * DurationSeconds asked for; the Expiration returned says so, as a real short session would.
   */
  maxSessionSeconds: number | undefined;
  private readonly now: () => number;
  private readonly roles = new Map<string, Role>();
  private readonly byKey = new Map<string, Session>();

  constructor(opts: StsOptions) {
    this.accountId = opts.accountId;
    this.now = opts.now ?? Date.now;
    const arn = opts.principalArn ?? `arn:aws:iam::${opts.accountId}:role/acme-rotation`;
    const session = SESSION_ARN.exec(arn);
    const account = /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
    if (account === undefined) throw new Error(`StsService: ${arn} is not an IAM or STS principal ARN`);
    this.defaultPrincipal = {
      arn,
      account,
      ...(ROLE_ARN.test(arn) ? { roleArn: arn } : {}),
      ...(session ? { roleArn: `arn:aws:iam::${session[1]}:role/${session[2]}` } : {}),
    };
  }

  // ───────────────────────── test helpers ─────────────────────────

  /** Create (or replace) a role in the account its ARN names. */
  createRole(spec: RoleSpec): Role {
    const m = ROLE_ARN.exec(spec.arn);
    if (!m) throw new Error(`createRole: ${spec.arn} is not arn:aws:iam::<12 digits>:role/<name>`);
    const maxSessionDuration = spec.maxSessionDuration ?? DEFAULT_ROLE_MAX_SESSION;
    if (!Number.isInteger(maxSessionDuration) || maxSessionDuration < 3600 || maxSessionDuration > MAX_DURATION) {
      throw new Error(`createRole: maxSessionDuration ${maxSessionDuration} is not 3600–43200`);
    }
    const role: Role = {
      arn: spec.arn,
      account: m[1]!,
      name: m[3]!,
      roleId: `AROA${randomAlnum(17)}`,
      trustedPrincipals: [...spec.trustedPrincipals],
      maxSessionDuration,
      route53: {
        zoneIds: spec.route53.zoneIds.map((z) => z.replace(/^\/?hostedzone\//, '')),
        actions: [...(spec.route53.actions ?? DEFAULT_ROLE_ROUTE53_ACTIONS)].map((a) => a.replace(/^route53:/, '')),
      },
      ...(spec.externalId !== undefined ? { externalId: spec.externalId } : {}),
    };
    this.roles.set(role.arn, role);
    return role;
  }

  deleteRole(arn: string): void {
    this.roles.delete(arn);
  }

  role(arn: string): Role | undefined {
    return this.roles.get(arn);
  }

  /** Every session granted so far, expired ones included, in order. */
  sessions(): Session[] {
    return [...this.byKey.values()];
  }

  /** Expire every session now (their credentials are refused from the next request on). */
  expireSessions(): void {
    const t = this.now();
    for (const s of this.byKey.values()) s.expiresAt = Math.min(s.expiresAt, t);
  }

  // ───────────────────────── callers ─────────────────────────

  /**
   * The caller of a request, from its SigV4 access key and session token headers. Long-term
   * keys (and unsigned requests, which the SDK never sends) are the endpoint's own caller.
   */
  callerOf(request: Pick<ServiceRequest, 'headers' | 'query'>): CallerOf {
    const accessKey = credentialScope(request)?.accessKeyId;
    if (accessKey === undefined || !accessKey.startsWith('ASIA')) return { principal: this.defaultPrincipal };
    const session = this.byKey.get(accessKey);
    const token = headerOf(request, 'x-amz-security-token') ?? request.query.get('X-Amz-Security-Token') ?? undefined;
    if (!session || token !== session.sessionToken) {
      return { error: { kind: 'invalid', message: 'The security token included in the request is invalid.' } };
    }
    if (this.now() >= session.expiresAt) {
      return { error: { kind: 'expired', message: 'The security token included in the request is expired' } };
    }
    return { principal: session.principal };
  }

  // ───────────────────────── wire ─────────────────────────

  /**
   * A Query-protocol request (a form body with an Action, no X-Amz-Target) signed for the `sts`
   * service, or unsigned and naming an STS action.
   */
  route(request: ServiceRequest): Call | undefined {
    if (!isQueryRequest(request)) return undefined;
    const params = new URLSearchParams(request.body);
    const operation = params.get('Action') ?? '';
    const scope = credentialScope(request);
    if (scope ? scope.service !== 'sts' : !STS_OPERATIONS.has(operation)) return undefined;
    return { operation, input: Object.fromEntries(params), request };
  }

  /** Run an operation for `caller` (default: the endpoint's own caller). */
  serve(call: Call, caller: Principal = this.defaultPrincipal): ServiceResponse {
    const params = new URLSearchParams(call.input as Record<string, string>);
    switch (call.operation) {
      case 'AssumeRole':
        return this.assumeRole(params, caller);
      case 'GetCallerIdentity':
        return this.getCallerIdentity(caller);
      default:
        throw new LocalServiceError(
          'InvalidAction',
          `Could not find operation ${call.operation} for version 2011-06-15`,
        );
    }
  }

  error(err: AwsFaultError): ServiceResponse {
    return xmlErrorResponse(STS_XMLNS, err);
  }

  // ───────────────────────── operations ─────────────────────────

  private assumeRole(params: URLSearchParams, caller: Principal): ServiceResponse {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    const externalId = params.get('ExternalId');
    const rawDuration = params.get('DurationSeconds');

    // Input validation first, with the constraint messages of STS's model.
    const problems: string[] = [];
    const invalid = (value: string | null, member: string, constraint: string): void => {
      problems.push(
        `Value ${value === null ? 'null' : `'${value}'`} at '${member}' failed to satisfy constraint: ${constraint}`,
      );
    };
    if (roleArn === null) invalid(null, 'roleArn', 'Member must not be null');
    else if (roleArn.length < 20 || roleArn.length > 2048)
      invalid(roleArn, 'roleArn', 'Member must have length between 20 and 2048');
    if (sessionName === null) invalid(null, 'roleSessionName', 'Member must not be null');
    else if (sessionName.length < 2 || sessionName.length > 64)
      invalid(sessionName, 'roleSessionName', 'Member must have length between 2 and 64');
    else if (!/^[\w+=,.@-]*$/.test(sessionName))
      invalid(sessionName, 'roleSessionName', 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
    let duration = DEFAULT_ROLE_MAX_SESSION;
    if (rawDuration !== null) {
      duration = /^\d+$/.test(rawDuration) ? Number(rawDuration) : NaN;
      if (Number.isNaN(duration)) invalid(rawDuration, 'durationSeconds', 'Member must be an integer');
      else if (duration < MIN_DURATION)
        invalid(rawDuration, 'durationSeconds', `Member must have value greater than or equal to ${MIN_DURATION}`);
      else if (duration > MAX_DURATION)
        invalid(rawDuration, 'durationSeconds', `Member must have value less than or equal to ${MAX_DURATION}`);
    }
    if (externalId !== null) {
      if (externalId.length < 2 || externalId.length > 1224)
        invalid(externalId, 'externalId', 'Member must have length between 2 and 1224');
      else if (!/^[\w+=,.@:/-]*$/.test(externalId))
        invalid(externalId, 'externalId', 'Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*');
    }
    if (problems.length > 0) {
      throw new LocalServiceError(
        'ValidationError',
        `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
      );
    }
    const arn = roleArn!;
    if (!ROLE_ARN.test(arn)) throw new LocalServiceError('ValidationError', `${arn} is invalid`);

    // Authorization: unknown role, caller not allowed to call sts:AssumeRole (an assumed-role
    // session: its policy only covers Route 53), not trusted, or wrong external id all read alike.
    const role = this.roles.get(arn);
    const denied = new LocalServiceError(
      'AccessDenied',
      `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${arn}`,
      403,
    );
    if (!role || caller.accessKeyId !== undefined) throw denied;
    if (!role.trustedPrincipals.some((p) => trusts(p, caller))) throw denied;
    if (role.externalId !== undefined && externalId !== role.externalId) throw denied;
    if (duration > role.maxSessionDuration) {
      throw new LocalServiceError(
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }

    const now = this.now();
    const seconds = this.maxSessionSeconds === undefined ? duration : Math.min(duration, this.maxSessionSeconds);
    const accessKeyId = `ASIA${randomAlnum(16)}`;
    const sessionArn = `arn:aws:sts::${role.account}:assumed-role/${role.name}/${sessionName!}`;
    const session: Session = {
      accessKeyId,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
      expiresAt: now + seconds * 1000,
      role,
      sessionName: sessionName!,
      assumedBy: caller.arn,
      principal: {
        arn: sessionArn,
        account: role.account,
        roleArn: role.arn,
        route53: role.route53,
        accessKeyId,
      },
    };
    this.byKey.set(accessKeyId, session);
    return this.ok(
      'AssumeRole',
      '<AssumedRoleUser>' +
        `<AssumedRoleId>${role.roleId}:${escapeXml(session.sessionName)}</AssumedRoleId>` +
        `<Arn>${escapeXml(sessionArn)}</Arn>` +
        '</AssumedRoleUser>' +
        '<Credentials>' +
        `<AccessKeyId>${accessKeyId}</AccessKeyId>` +
        `<SecretAccessKey>${session.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${session.sessionToken}</SessionToken>` +
        `<Expiration>${stsTime(session.expiresAt)}</Expiration>` +
        '</Credentials>',
    );
  }

  private getCallerIdentity(caller: Principal): ServiceResponse {
    const session = caller.accessKeyId === undefined ? undefined : this.byKey.get(caller.accessKeyId);
    const userId = session ? `${session.role.roleId}:${session.sessionName}` : `AROA${caller.account}LOCAL`;
    return this.ok(
      'GetCallerIdentity',
      `<Arn>${escapeXml(caller.arn)}</Arn><UserId>${escapeXml(userId)}</UserId><Account>${caller.account}</Account>`,
    );
  }

  private ok(operation: string, result: string): ServiceResponse {
    const requestId = randomUUID();
    return {
      status: 200,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body:
        `<${operation}Response xmlns="${STS_XMLNS}">\n` +
        `  <${operation}Result>${result}</${operation}Result>\n` +
        `  <ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>\n` +
        `</${operation}Response>\n`,
    };
  }
}

/** Whether a trust-policy principal entry admits `caller`. */
function trusts(entry: string, caller: Principal): boolean {
  if (entry === caller.arn) return true;
  if (caller.roleArn !== undefined && entry === caller.roleArn) return true;
  return entry === caller.account || entry === `arn:aws:iam::${caller.account}:root`;
}
