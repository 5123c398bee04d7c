/**
 * Local Route 53 (REST-XML, API version 2013-04-01) for tests and `npm run local`.
 *
 * Keeps the semantics the rotation relies on:
 * - change batches are atomic: every change is checked in order against a working copy of the
 *   zone, all messages are collected, and any failure rejects the whole batch with
 *   `InvalidChangeBatch` and AWS's message texts;
 * - DELETE needs the exact TTL and value set; UPSERT replaces; CNAME exclusivity; names must be
 *   inside the zone; TXT values must be quoted character-strings;
 * - each accepted change is `PENDING` until `changeDelayMs` has passed since it was submitted
 *   (computed lazily from `now()`), then `INSYNC`. The API view changes at once; what the DNS
 *   servers answer (`servedRecords`) follows only once a change is INSYNC, in submission order;
 * - names come back lowercase, fully qualified, with `*` (and anything outside `a-z0-9-_.`)
 *   escaped as `\ooo` octal, exactly as Route 53 does; both forms are accepted on input.
 *
 * Accounts: each zone belongs to one account, and every API request is made by a caller (a
 * `Principal`: the endpoint's own caller by default, or an assumed-role session) acting in its
 * account. A zone or change of another account is `NoSuchHostedZone` / `NoSuchChange`, as Route 53
 * answers for ids not in your account, and the zone lists and counts hold only the caller's zones.
 * A caller with a permission policy (an assumed role) is checked against it before anything else:
 * an action or zone it does not allow is `AccessDenied` (403) naming the caller, the action and the
 * resource, as IAM words it. The test helpers (zones(), servedRecords(), txtValues(), …) see every
 * account, as public DNS does.
 *
 * Errors use Route 53's `<ErrorResponse><Error><Type/><Code/><Message/></Error>` body, which is
 * what the AWS SDK for JavaScript v3 maps to `err.name`. For `InvalidChangeBatch` the messages
 * are joined as `[m1, m2]`, the form Route 53 returns today (visible as
 * `InvalidChangeBatch: [Tried to create ...]` in SDK/CLI output). Route 53 has also been seen
 * answering with a bare `<InvalidChangeBatch><Messages>…` root, but SDK v3 cannot map that form
 * (it surfaces as `name: "Unknown"`), so it is not used here.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { LocalServiceError, answerCall } from './errors.js';
import { escapeXml, xmlErrorResponse } from './protocols.js';
import type { AwsFaultError, Call, LocalService, Principal, ServiceRequest, ServiceResponse } from './types.js';

export const ROUTE53_XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const API_PREFIX = '/2013-04-01';

/** One record set. Simple routing only (no SetIdentifier, alias or health checks). */
export interface RecordSet {
  /** Lowercase, fully qualified with trailing dot, unescaped (`*.example.com.`). */
  name: string;
  type: string;
  ttl: number;
  /** Raw RDATA as in the API; TXT values keep their quotes. */
  values: string[];
}

export interface Vpc {
  region: string;
  id: string;
}

export interface HostedZone {
  /** e.g. Z0123ABC, without the `/hostedzone/` prefix. */
  id: string;
  /** The 12-digit AWS account the zone belongs to. */
  account: string;
  /** Lowercase with trailing dot, unescaped. */
  name: string;
  privateZone: boolean;
  /** Delegation set host names, as in GetHostedZone's DelegationSet (no trailing dot). */
  nameServers: string[];
  callerReference: string;
  /** Current record sets (the API view), in ListResourceRecordSets order. Treat as read-only. */
  records: RecordSet[];
  comment?: string;
  /** The VPCs of a private zone (empty for public zones). */
  vpcs: Vpc[];
}

export type ChangeAction = 'CREATE' | 'DELETE' | 'UPSERT';

export interface RecordChange {
  action: ChangeAction;
  record: RecordSet;
}

export type ChangeStatus = 'PENDING' | 'INSYNC';

export interface ChangeInfo {
  /** Without the `/change/` prefix. */
  id: string;
  status: ChangeStatus;
  submittedAt: Date;
  comment?: string;
}

export interface Route53Options {
  /** The account of zones created without one, and of requests without a caller. Default '123456789012'. */
  accountId?: string;
  /** How long each change stays PENDING. Default 500 ms. */
  changeDelayMs?: number;
  /** Clock (ms since epoch). Default Date.now. */
  now?: () => number;
  /** Name servers of new zones. Default ns-1..ns-4.local-r53.test. */
  nameServers?: string[];
}

const DEFAULT_NAME_SERVERS = [
  'ns-1.local-r53.test',
  'ns-2.local-r53.test',
  'ns-3.local-r53.test',
  'ns-4.local-r53.test',
];
const SOA_TTL = 900;
const NS_TTL = 172800;
const MAX_TTL = 2147483647;
const RRSET_PAGE_MAX = 300;
const ZONE_PAGE_MAX = 100;
const DEFAULT_ACCOUNT = '123456789012';

/** Actions whose IAM resource is a hosted zone; the others are not zone-scoped. */
const ZONE_SCOPED_ACTIONS = new Set([
  'GetHostedZone',
  'DeleteHostedZone',
  'ListResourceRecordSets',
  'ChangeResourceRecordSets',
]);

/** Record types Route 53 accepts in ChangeResourceRecordSets. */
const RR_TYPES = new Set([
  'A',
  'AAAA',
  'CAA',
  'CNAME',
  'DS',
  'HTTPS',
  'MX',
  'NAPTR',
  'NS',
  'PTR',
  'SOA',
  'SPF',
  'SRV',
  'SSHFP',
  'SVCB',
  'TLSA',
  'TXT',
]);

/** Routing-policy members this local service does not model. */
const UNSUPPORTED_RRSET_MEMBERS = [
  'SetIdentifier',
  'Weight',
  'Region',
  'GeoLocation',
  'GeoProximityLocation',
  'Failover',
  'MultiValueAnswer',
  'HealthCheckId',
  'TrafficPolicyInstanceId',
  'CidrRoutingConfig',
];

// ───────────────────────────── names ─────────────────────────────

/**
 * Canonical form of a DNS name: `\ooo` (and `\c`) escapes decoded, ASCII lowercase, trailing dot.
 * Throws InvalidInput for empty labels or over-long names.
 */
export function canonicalName(input: string, what = 'name'): string {
  let s = input.trim();
  if (s === '' || s === '.') throw new LocalServiceError('InvalidInput', `Invalid ${what}: '${input}'`);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const oct = /^[0-7]{3}/.exec(s.slice(i + 1));
      if (oct) {
        out += String.fromCharCode(parseInt(oct[0], 8));
        i += 3;
      } else if (i + 1 < s.length) {
        out += s[i + 1];
        i += 1;
      } else {
        throw new LocalServiceError('InvalidInput', `Invalid ${what}: '${input}'`);
      }
    } else {
      out += c;
    }
  }
  s = out.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  if (!s.endsWith('.')) s += '.';
  const labels = s.slice(0, -1).split('.');
  if (labels.some((l) => l.length === 0 || l.length > 63) || s.length > 255) {
    throw new LocalServiceError('InvalidInput', `Invalid ${what}: '${input}'`);
  }
  return s;
}

/** A canonical name as Route 53 prints it: anything outside `a-z0-9-_.` as `\ooo`. */
export function escapeName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (/[a-z0-9\-_.]/.test(ch)) out += ch;
    else {
      const code = ch.charCodeAt(0);
      out += '\\' + (code < 256 ? code.toString(8).padStart(3, '0') : ch);
    }
  }
  return out;
}

/** Sort key of a canonical name: labels reversed, trailing dot (`com.example.www.`). */
export function reversedNameKey(name: string): string {
  const labels = name.replace(/\.$/, '').split('.');
  return labels.reverse().join('.') + '.';
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRecordSets(a: { name: string; type: string }, b: { name: string; type: string }): number {
  return compareAscii(reversedNameKey(a.name), reversedNameKey(b.name)) || compareAscii(a.type, b.type);
}

function isInZone(name: string, zoneName: string): boolean {
  return name === zoneName || name.endsWith('.' + zoneName);
}

// ───────────────────────────── TXT ─────────────────────────────

/**
 * Parse a TXT/SPF value in Route 53 presentation form (`"a" "b"`) into its character-strings
 * (escapes `\"`, `\\`, `\ooo` decoded; each returned string holds bytes as latin1 code units).
 * Returns an error code (InvalidCharacterString, CharacterStringTooLong) instead on bad input.
 */
export function parseTxtValue(value: string): string[] | { error: string; detail: string } {
  const strings: string[] = [];
  let i = 0;
  const s = value;
  const skipWs = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  skipWs();
  if (i >= s.length) {
    return { error: 'InvalidCharacterString', detail: 'Value should be enclosed in quotation marks' };
  }
  while (i < s.length) {
    if (s[i] !== '"') {
      return { error: 'InvalidCharacterString', detail: 'Value should be enclosed in quotation marks' };
    }
    i++;
    const bytes: number[] = [];
    let closed = false;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '"') {
        closed = true;
        i++;
        break;
      }
      if (c === '\\') {
        // Route 53 writes special characters as \ooo (three octal digits), as in names.
        const oct = /^[0-7]{3}/.exec(s.slice(i + 1));
        if (oct) {
          const n = parseInt(oct[0], 8);
          if (n > 255) {
            return { error: 'InvalidCharacterString', detail: 'Invalid escape sequence' };
          }
          bytes.push(n);
          i += 4;
          continue;
        }
        if (i + 1 >= s.length) {
          return { error: 'InvalidCharacterString', detail: 'Value should be enclosed in quotation marks' };
        }
        for (const b of Buffer.from(s[i + 1]!, 'utf8')) bytes.push(b);
        i += 2;
        continue;
      }
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      i += ch.length;
    }
    if (!closed) {
      return { error: 'InvalidCharacterString', detail: 'Value should be enclosed in quotation marks' };
    }
    if (bytes.length > 255) return { error: 'CharacterStringTooLong', detail: 'Value is too long' };
    strings.push(Buffer.from(bytes).toString('latin1'));
    if (i < s.length && !/\s/.test(s[i]!)) {
      return { error: 'InvalidCharacterString', detail: 'Value should be enclosed in quotation marks' };
    }
    skipWs();
  }
  return strings;
}

/** The character-strings of a (valid) TXT value decoded as UTF-8 and concatenated. */
export function txtText(value: string): string {
  const parsed = parseTxtValue(value);
  if (!Array.isArray(parsed)) return value;
  return Buffer.from(parsed.join(''), 'latin1').toString('utf8');
}

// ───────────────────────────── XML ─────────────────────────────

function el(tag: string, content: string | number | boolean): string {
  return `<${tag}>${typeof content === 'string' ? escapeXml(content) : String(content)}</${tag}>`;
}

/**
 * The body of a call as recorded: parsed as sent (namespace prefixes kept, a lone element not
 * made a list), for assertions on what the client wrote.
 */
const recordParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

const ARRAY_TAGS = new Set(['Change', 'ResourceRecord', 'VPC', 'NameServer']);
const xmlParser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (tagName) => ARRAY_TAGS.has(tagName),
});

/** A parsed XML element: nested objects and strings (fast-xml-parser output, values untyped). */
type XmlNode = Record<string, unknown>;

function parseXml(body: string): XmlNode {
  let doc: unknown;
  try {
    doc = xmlParser.parse(body, true);
  } catch (e) {
    throw new LocalServiceError('InvalidInput', `Invalid XML ; ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new LocalServiceError('InvalidInput', 'Invalid XML ; empty body');
  return doc as XmlNode;
}

function child(node: unknown, key: string): XmlNode | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const v = (node as XmlNode)[key];
  if (v === '' || v === undefined) return undefined;
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as XmlNode) : undefined;
}

function text(node: unknown, key: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const v = (node as XmlNode)[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function list(node: unknown, key: string): unknown[] {
  if (!node || typeof node !== 'object') return [];
  const v = (node as XmlNode)[key];
  if (v === undefined || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

// ───────────────────────────── state ─────────────────────────────

interface ZoneState {
  zone: HostedZone;
  /** What DNS serves: the snapshot of the last INSYNC change. */
  served: RecordSet[];
  /** Changes not yet INSYNC, in submission order. */
  pending: ChangeRecord[];
  deleted: boolean;
}

interface ChangeRecord {
  id: string;
  zone: ZoneState;
  submittedAt: number;
  comment?: string;
  insync: boolean;
  /** The zone's records after this change (what DNS serves once it is INSYNC). */
  after: RecordSet[];
}

interface Route {
  op: string;
  id?: string;
}

interface Page<T> {
  items: T[];
  next?: T;
}

function randomId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(20);
  let s = prefix;
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

function stripPrefix(id: string, kind: 'hostedzone' | 'change'): string {
  return id.trim().replace(new RegExp(`^/?${kind}/`), '');
}

function copyRecord(r: RecordSet): RecordSet {
  return { name: r.name, type: r.type, ttl: r.ttl, values: [...r.values] };
}

function sameValues(a: string[], b: string[], type: string): boolean {
  if (a.length !== b.length) return false;
  const norm = (v: string): string => {
    if (type === 'TXT' || type === 'SPF') {
      const p = parseTxtValue(v);
      return Array.isArray(p) ? JSON.stringify(p) : v;
    }
    return v.trim().toLowerCase();
  };
  const x = a.map(norm).sort();
  const y = b.map(norm).sort();
  return x.every((v, i) => v === y[i]);
}

function recordLabel(r: { name: string; type: string }): string {
  return `[name='${escapeName(r.name)}', type='${r.type}']`;
}

export class Route53Service implements LocalService {
  readonly name = 'route53';
  readonly protocol = 'xml';
  readonly internalErrorCode = 'InternalFailure';
  /** How long each change stays PENDING; may be changed at runtime (see holdChanges). */
  changeDelayMs: number;
  /** The default account (zones created without one; requests handled without a caller). */
  readonly accountId: string;
  private readonly ownCaller: Principal;
  private readonly now: () => number;
  private readonly defaultNameServers: string[];
  private readonly zoneStates = new Map<string, ZoneState>();
  private readonly changes = new Map<string, ChangeRecord>();
  private hold = false;
  private helperRefs = 0;

  constructor(opts: Route53Options = {}) {
    this.changeDelayMs = opts.changeDelayMs ?? 500;
    this.accountId = opts.accountId ?? DEFAULT_ACCOUNT;
    this.ownCaller = { arn: `arn:aws:iam::${this.accountId}:role/acme-rotation`, account: this.accountId };
    this.now = opts.now ?? Date.now;
    this.defaultNameServers = (opts.nameServers ?? DEFAULT_NAME_SERVERS).map((n) => n.replace(/\.$/, ''));
  }

  // ───────────────────────── test helpers ─────────────────────────

  /**
   * Create a zone directly; its creation is already INSYNC, so DNS serves it at once. `id` picks
   * the zone id (Route 53's form: up to 32 upper-case letters and digits, unique) instead of a
   * random one, for tests that name their zones. `account` (12 digits) is the account the zone
   * belongs to; default the service's.
   */
  createZone(
    name: string,
    opts: { id?: string; privateZone?: boolean; nameServers?: string[]; vpcs?: Vpc[]; account?: string } = {},
  ): HostedZone {
    if (opts.account !== undefined && !/^\d{12}$/.test(opts.account)) {
      throw new Error(`createZone: account ${opts.account} is not 12 digits`);
    }
    const vpcs = opts.privateZone ? (opts.vpcs ?? [{ region: 'us-east-1', id: 'vpc-local' }]) : [];
    if (opts.id !== undefined && (!/^[A-Z0-9]{1,32}$/.test(opts.id) || this.zoneStates.has(opts.id))) {
      throw new Error(`createZone: ${opts.id} is not a free Route 53 zone id (1–32 of A-Z, 0-9)`);
    }
    const state = this.newZone({
      name: canonicalName(name, 'domain name'),
      callerReference: `local-helper-${++this.helperRefs}-${randomUUID()}`,
      account: opts.account ?? this.accountId,
      vpcs,
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      ...(opts.nameServers ? { nameServers: opts.nameServers } : {}),
    });
    const change = this.submit(state, state.zone.records);
    this.markInsync(change);
    return state.zone;
  }

  /** Every zone of every account (what public DNS sees), or only those of `account`. */
  zones(account?: string): HostedZone[] {
    const all = [...this.zoneStates.values()].map((s) => s.zone);
    return account === undefined ? all : all.filter((z) => z.account === account);
  }

  zone(id: string): HostedZone | undefined {
    return this.zoneStates.get(stripPrefix(id, 'hostedzone'))?.zone;
  }

  /** Records as the DNS servers see them: only changes that reached INSYNC (copies). */
  servedRecords(zoneId: string): RecordSet[] {
    const state = this.zoneStates.get(stripPrefix(zoneId, 'hostedzone'));
    if (!state) return [];
    this.settle(state);
    return state.served.map(copyRecord);
  }

  /** TXT values (unquoted, strings concatenated) at fqdn in the API view across all zones. */
  txtValues(fqdn: string): string[] {
    const name = canonicalName(fqdn);
    const out: string[] = [];
    for (const s of this.zoneStates.values()) {
      for (const r of s.zone.records) {
        if (r.name === name && r.type === 'TXT') out.push(...r.values.map(txtText));
      }
    }
    return out;
  }

  /**
   * While held, no change becomes INSYNC (changes already INSYNC stay so): GetChange answers
   * PENDING and the DNS responder keeps serving the zone as of the last INSYNC change, while the
   * API view (ListResourceRecordSets, txtValues) already has the change. On release, every change
   * whose `changeDelayMs` has passed since submission turns INSYNC at once, in order.
   * `changeDelayMs` may also be set at runtime; status is computed lazily from the submission
   * time, so a new value applies to changes still PENDING too.
   */
  holdChanges(hold: boolean): void {
    // Status is computed lazily: on release, changes whose delay has passed turn INSYNC at once.
    this.hold = hold;
  }

  /** Status of a change (for assertions), or undefined when unknown. */
  changeInfo(id: string): ChangeInfo | undefined {
    const c = this.changes.get(stripPrefix(id, 'change'));
    return c ? this.info(c) : undefined;
  }

  /**
   * Apply a change batch directly, with the same validation as ChangeResourceRecordSets
   * (throws LocalServiceError). Returns the change id.
   */
  changeRecords(zoneId: string, changes: RecordChange[], comment?: string): string {
    const state = this.requireZone(zoneId);
    for (const c of changes) {
      if (!RR_TYPES.has(c.record.type)) throw new LocalServiceError('InvalidInput', `Invalid type: ${c.record.type}`);
    }
    const normalized = changes.map((c) => ({
      action: c.action,
      record: { ...c.record, name: canonicalName(c.record.name), values: [...c.record.values] },
    }));
    const after = this.validateBatch(state.zone, normalized);
    state.zone.records = after;
    return this.submit(state, after, comment).id;
  }

  // ───────────────────────── dispatch ─────────────────────────

  /**
   * Every request under the API's path prefix; an operation Route 53 does not have is `Unknown`
   * (answered 404 UnknownOperationException). The recorded input is the method, path, query and
   * the parsed XML body.
   */
  route(req: ServiceRequest): Call | undefined {
    if (!req.path.startsWith(API_PREFIX + '/')) return undefined;
    const input: Record<string, unknown> = { method: req.method, path: req.path, query: Object.fromEntries(req.query) };
    if (req.body.trim() !== '') {
      try {
        input['body'] = recordParser.parse(req.body) as unknown;
      } catch {
        input['body'] = req.body;
      }
    }
    return { operation: this.match(req)?.op ?? 'Unknown', input, request: req };
  }

  /** Answer a request directly (no dispatcher), errors rendered: what `serve` does for a routed call. */
  handle(req: ServiceRequest, caller?: Principal): ServiceResponse {
    return answerCall(this, this.route(req) ?? { operation: 'Unknown', input: {}, request: req }, caller);
  }

  /**
   * Run a call made by `caller` (default: the service's own account, unrestricted): its
   * permission policy is checked first, then the request sees only the caller's account.
   */
  serve(call: Call, caller: Principal = this.ownCaller): ServiceResponse {
    const req = call.request;
    const route = this.match(req);
    const account = caller.account;
    if (!route) {
      throw new LocalServiceError('UnknownOperationException', `No operation for ${req.method} ${req.path}`, 404);
    }
    this.authorize(caller, route);
    switch (route.op) {
      case 'CreateHostedZone':
        return this.createHostedZone(req, account);
      case 'GetHostedZone':
        return this.getHostedZone(route.id!, account);
      case 'DeleteHostedZone':
        return this.deleteHostedZone(route.id!, account);
      case 'ListHostedZones':
        return this.listHostedZones(req.query, account);
      case 'ListHostedZonesByName':
        return this.listHostedZonesByName(req.query, account);
      case 'GetHostedZoneCount':
        return this.ok('GetHostedZoneCountResponse', el('HostedZoneCount', this.zones(account).length));
      case 'ListResourceRecordSets':
        return this.listResourceRecordSets(route.id!, req.query, account);
      case 'ChangeResourceRecordSets':
        return this.changeResourceRecordSets(route.id!, req.body, account);
      case 'GetChange':
        return this.getChange(route.id!, account);
      default:
        throw new LocalServiceError('UnknownOperationException', `No operation for ${req.method} ${req.path}`, 404);
    }
  }

  /**
   * IAM's check of a caller with a permission policy: the action must be allowed, and for
   * zone-scoped actions on that zone. As IAM does, this comes before the zone is looked up, so a
   * zone the policy does not name is AccessDenied whether or not it exists.
   */
  private authorize(caller: Principal, route: Route): void {
    const policy = caller.route53;
    if (policy === undefined) return;
    const action = route.op;
    let allowed = policy.actions.includes(action) || policy.actions.includes('*');
    let resource: string | undefined;
    if (ZONE_SCOPED_ACTIONS.has(action) && route.id !== undefined) {
      const id = stripPrefix(route.id, 'hostedzone');
      resource = `arn:aws:route53:::hostedzone/${id}`;
      allowed &&= policy.zoneIds.includes('*') || policy.zoneIds.includes(id);
    } else if (action === 'GetChange' && route.id !== undefined) {
      resource = `arn:aws:route53:::change/${stripPrefix(route.id, 'change')}`;
    }
    if (!allowed) {
      throw new LocalServiceError(
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: route53:${action}` +
          (resource !== undefined ? ` on resource: ${resource}` : ''),
        403,
      );
    }
  }

  error(err: AwsFaultError): ServiceResponse {
    return xmlErrorResponse(ROUTE53_XMLNS, err);
  }

  /** The operation (and the zone or change id) of a request's method and path. */
  private match(req: ServiceRequest): Route | undefined {
    let path = req.path;
    try {
      path = decodeURIComponent(path);
    } catch {
      /* keep the raw path */
    }
    if (!path.startsWith(API_PREFIX + '/')) return undefined;
    // An id that kept its prefix (`/hostedzone//hostedzone/Z1`, `/change/change/C1`) is accepted.
    path = path
      .slice(API_PREFIX.length)
      .replace(/^\/hostedzone\/+hostedzone\//, '/hostedzone/')
      .replace(/^\/change\/+change\//, '/change/')
      .replace(/\/+$/, '');
    const seg = path.split('/').slice(1);
    const m = req.method.toUpperCase();
    const [a, id, c] = seg;
    if (seg.length === 1 && a === 'hostedzone') {
      if (m === 'POST') return { op: 'CreateHostedZone' };
      if (m === 'GET') return { op: 'ListHostedZones' };
    } else if (seg.length === 1 && a === 'hostedzonesbyname' && m === 'GET') {
      return { op: 'ListHostedZonesByName' };
    } else if (seg.length === 1 && a === 'hostedzonecount' && m === 'GET') {
      return { op: 'GetHostedZoneCount' };
    } else if (seg.length === 2 && a === 'hostedzone' && id) {
      if (m === 'GET') return { op: 'GetHostedZone', id };
      if (m === 'DELETE') return { op: 'DeleteHostedZone', id };
    } else if (seg.length === 3 && a === 'hostedzone' && id && c === 'rrset') {
      if (m === 'GET') return { op: 'ListResourceRecordSets', id };
      if (m === 'POST') return { op: 'ChangeResourceRecordSets', id };
    } else if (seg.length === 2 && a === 'change' && id && m === 'GET') {
      return { op: 'GetChange', id };
    }
    return undefined;
  }

  // ───────────────────────── operations ─────────────────────────

  private createHostedZone(req: ServiceRequest, account: string): ServiceResponse {
    const root = child(parseXml(req.body), 'CreateHostedZoneRequest');
    if (!root) throw new LocalServiceError('InvalidInput', 'Invalid XML ; expected CreateHostedZoneRequest');
    const rawName = text(root, 'Name');
    const callerReference = text(root, 'CallerReference');
    if (!rawName)
      throw new LocalServiceError(
        'InvalidInput',
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
      );
    if (!callerReference) {
      throw new LocalServiceError(
        'InvalidInput',
        "1 validation error detected: Value null at 'callerReference' failed to satisfy constraint: Member must not be null",
      );
    }
    let name: string;
    try {
      name = canonicalName(rawName, 'domain name');
    } catch {
      throw new LocalServiceError('InvalidDomainName', `${rawName} is not a valid domain name.`);
    }
    for (const s of this.zoneStates.values()) {
      if (s.zone.account === account && s.zone.callerReference === callerReference) {
        throw new LocalServiceError(
          'HostedZoneAlreadyExists',
          `A hosted zone has already been created with the specified caller reference.`,
          409,
        );
      }
    }
    const config = child(root, 'HostedZoneConfig');
    const privateFlag = text(config, 'PrivateZone') === 'true';
    const vpcs = list(root, 'VPC')
      .map((v) => ({ region: text(v, 'VPCRegion') ?? '', id: text(v, 'VPCId') ?? '' }))
      .filter((v) => v.id !== '');
    if (privateFlag && vpcs.length === 0) {
      throw new LocalServiceError(
        'InvalidInput',
        'When you create a private hosted zone, you must specify the VPC (VPCId and VPCRegion).',
      );
    }
    for (const v of vpcs) {
      if (!v.region) throw new LocalServiceError('InvalidVPCId', `The VPC ${v.id} requires a VPCRegion.`);
    }
    if (vpcs.length > 0) {
      for (const s of this.zoneStates.values()) {
        const z = s.zone;
        if (
          z.account === account &&
          z.privateZone &&
          z.name === name &&
          z.vpcs.some((a) => vpcs.some((b) => a.id === b.id && a.region === b.region))
        ) {
          throw new LocalServiceError(
            'ConflictingDomainExists',
            `The VPC that you chose, ${vpcs[0]!.id} in region ${vpcs[0]!.region}, is already associated with another private hosted zone that has an overlapping name space, ${escapeName(z.name)}.`,
          );
        }
      }
    }
    const comment = text(config, 'Comment');
    const state = this.newZone({ name, callerReference, account, vpcs, ...(comment !== undefined ? { comment } : {}) });
    const change = this.submit(state, state.zone.records);
    const zone = state.zone;
    const body =
      this.hostedZoneXml(zone) +
      this.changeInfoXml(change) +
      (zone.privateZone ? this.vpcXml(zone.vpcs[0]!, 'VPC') : this.delegationSetXml(zone));
    const res = this.ok('CreateHostedZoneResponse', body, 201);
    res.headers!['location'] = `https://route53.amazonaws.com/2013-04-01/hostedzone/${zone.id}`;
    return res;
  }

  private getHostedZone(rawId: string, account: string): ServiceResponse {
    const zone = this.requireZone(rawId, account).zone;
    const extra = zone.privateZone
      ? `<VPCs>${zone.vpcs.map((v) => this.vpcXml(v, 'VPC')).join('')}</VPCs>`
      : this.delegationSetXml(zone);
    return this.ok('GetHostedZoneResponse', this.hostedZoneXml(zone) + extra);
  }

  private deleteHostedZone(rawId: string, account: string): ServiceResponse {
    const state = this.requireZone(rawId, account);
    const zone = state.zone;
    const extra = zone.records.some((r) => !(r.name === zone.name && (r.type === 'SOA' || r.type === 'NS')));
    if (extra) {
      throw new LocalServiceError(
        'HostedZoneNotEmpty',
        'The specified hosted zone contains non-required resource record sets and so cannot be deleted.',
      );
    }
    this.zoneStates.delete(zone.id);
    state.deleted = true;
    const change = this.submit(state, []);
    return this.ok('DeleteHostedZoneResponse', this.changeInfoXml(change));
  }

  private listHostedZones(q: URLSearchParams, account: string): ServiceResponse {
    const maxItems = this.maxItems(q, ZONE_PAGE_MAX);
    const marker = q.get('marker') ?? undefined;
    const type = q.get('hostedzonetype') ?? undefined;
    if (q.get('delegationsetid')) {
      throw new LocalServiceError(
        'NoSuchDelegationSet',
        `A reusable delegation set with ID ${q.get('delegationsetid')} does not exist.`,
        400,
      );
    }
    if (type !== undefined && type !== 'PrivateHostedZone') {
      throw new LocalServiceError('InvalidInput', `Invalid value for hostedzonetype: ${type}`);
    }
    let zones = this.zones(account);
    if (type === 'PrivateHostedZone') zones = zones.filter((z) => z.privateZone);
    let start = 0;
    if (marker !== undefined && marker !== '') {
      start = zones.findIndex((z) => z.id === stripPrefix(marker, 'hostedzone'));
      if (start < 0) throw new LocalServiceError('InvalidInput', `Invalid marker: ${marker}`);
    }
    const page = this.paginate(zones.slice(start), maxItems);
    const body =
      `<HostedZones>${page.items.map((z) => this.hostedZoneXml(z)).join('')}</HostedZones>` +
      (marker !== undefined ? el('Marker', marker) : '') +
      el('IsTruncated', page.next !== undefined) +
      (page.next ? el('NextMarker', page.next.id) : '') +
      el('MaxItems', maxItems);
    return this.ok('ListHostedZonesResponse', body);
  }

  private listHostedZonesByName(q: URLSearchParams, account: string): ServiceResponse {
    const maxItems = this.maxItems(q, ZONE_PAGE_MAX);
    const rawDnsName = q.get('dnsname') ?? undefined;
    const rawZoneId = q.get('hostedzoneid') ?? undefined;
    if (rawZoneId && !rawDnsName) {
      throw new LocalServiceError('InvalidInput', 'The input is not valid: hostedzoneid requires dnsname.');
    }
    const zones = this.zones(account).sort(
      (a, b) => compareAscii(reversedNameKey(a.name), reversedNameKey(b.name)) || compareAscii(a.id, b.id),
    );
    let start = 0;
    if (rawDnsName) {
      let dnsName: string;
      try {
        dnsName = canonicalName(rawDnsName, 'DNS name');
      } catch {
        throw new LocalServiceError('InvalidDomainName', `${rawDnsName} is not a valid domain name.`);
      }
      const key = reversedNameKey(dnsName);
      const zoneId = rawZoneId ? stripPrefix(rawZoneId, 'hostedzone') : undefined;
      start = zones.findIndex((z) => {
        const c = compareAscii(reversedNameKey(z.name), key);
        return c > 0 || (c === 0 && (zoneId === undefined || compareAscii(z.id, zoneId) >= 0));
      });
      if (start < 0) start = zones.length;
    }
    const page = this.paginate(zones.slice(start), maxItems);
    const body =
      `<HostedZones>${page.items.map((z) => this.hostedZoneXml(z)).join('')}</HostedZones>` +
      (rawDnsName ? el('DNSName', rawDnsName) : '') +
      (rawZoneId ? el('HostedZoneId', rawZoneId) : '') +
      el('IsTruncated', page.next !== undefined) +
      (page.next ? el('NextDNSName', escapeName(page.next.name)) + el('NextHostedZoneId', page.next.id) : '') +
      el('MaxItems', maxItems);
    return this.ok('ListHostedZonesByNameResponse', body);
  }

  private listResourceRecordSets(rawId: string, q: URLSearchParams, account: string): ServiceResponse {
    const state = this.requireZone(rawId, account);
    const maxItems = this.maxItems(q, RRSET_PAGE_MAX);
    const rawName = q.get('name') ?? undefined;
    const rawType = q.get('type') ?? undefined;
    if (rawType !== undefined && rawName === undefined) {
      throw new LocalServiceError('InvalidInput', 'The input is not valid: a record type requires a record name.');
    }
    if (rawType !== undefined && !RR_TYPES.has(rawType)) {
      throw new LocalServiceError('InvalidInput', `Invalid type: ${rawType}`);
    }
    let records = state.zone.records;
    if (rawName !== undefined) {
      const start = { name: canonicalName(rawName), type: rawType ?? '' };
      records = records.filter((r) => compareRecordSets(r, start) >= 0);
    }
    const page = this.paginate(records, maxItems);
    const body =
      `<ResourceRecordSets>${page.items.map((r) => this.recordSetXml(r)).join('')}</ResourceRecordSets>` +
      el('IsTruncated', page.next !== undefined) +
      (page.next ? el('NextRecordName', escapeName(page.next.name)) + el('NextRecordType', page.next.type) : '') +
      el('MaxItems', maxItems);
    return this.ok('ListResourceRecordSetsResponse', body);
  }

  private changeResourceRecordSets(rawId: string, body: string, account: string): ServiceResponse {
    const state = this.requireZone(rawId, account);
    const root = child(parseXml(body), 'ChangeResourceRecordSetsRequest');
    const batch = child(root, 'ChangeBatch');
    if (!batch)
      throw new LocalServiceError(
        'InvalidInput',
        "1 validation error detected: Value null at 'changeBatch' failed to satisfy constraint: Member must not be null",
      );
    const rawChanges = list(child(batch, 'Changes'), 'Change');
    if (rawChanges.length === 0) {
      throw new LocalServiceError(
        'InvalidInput',
        "1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    const changes = rawChanges.map((c) => this.parseChange(c));
    const after = this.validateBatch(state.zone, changes);
    state.zone.records = after;
    const comment = text(batch, 'Comment');
    const change = this.submit(state, after, comment);
    return this.ok('ChangeResourceRecordSetsResponse', this.changeInfoXml(change));
  }

  private getChange(rawId: string, account: string): ServiceResponse {
    const id = stripPrefix(rawId, 'change');
    const change = this.changes.get(id);
    if (!change || change.zone.zone.account !== account)
      throw new LocalServiceError('NoSuchChange', `Could not find resource with ID: ${id}`, 404);
    return this.ok('GetChangeResponse', this.changeInfoXml(change));
  }

  // ───────────────────────── change batches ─────────────────────────

  private parseChange(node: unknown): RecordChange {
    const action = text(node, 'Action');
    const rrs = child(node, 'ResourceRecordSet');
    if (action !== 'CREATE' && action !== 'DELETE' && action !== 'UPSERT') {
      throw new LocalServiceError('InvalidInput', `Invalid XML ; Invalid action: ${action ?? 'null'}`);
    }
    if (!rrs) throw new LocalServiceError('InvalidInput', 'Invalid request: Missing ResourceRecordSet in Change');
    const rawName = text(rrs, 'Name');
    const type = text(rrs, 'Type');
    if (!rawName) throw new LocalServiceError('InvalidInput', 'Invalid request: Missing Name in ResourceRecordSet');
    if (!type || !RR_TYPES.has(type)) {
      throw new LocalServiceError('InvalidInput', `Invalid XML ; Invalid type: ${type ?? 'null'}`);
    }
    const name = canonicalName(rawName, 'DNS name');
    const describe = `Change with [Action=${action}, Name=${escapeName(name)}, Type=${type}, SetIdentifier=${text(rrs, 'SetIdentifier') ?? 'null'}]`;
    for (const member of UNSUPPORTED_RRSET_MEMBERS) {
      if ((rrs as XmlNode)[member] !== undefined) {
        throw new LocalServiceError(
          'InvalidInput',
          `Invalid request: ${member} is not supported by the local Route 53 (${describe})`,
        );
      }
    }
    const ttlText = text(rrs, 'TTL');
    const values = list(child(rrs, 'ResourceRecords'), 'ResourceRecord').map((r) => text(r, 'Value') ?? '');
    const hasAlias = (rrs as XmlNode)['AliasTarget'] !== undefined;
    if (hasAlias) {
      if (ttlText !== undefined || values.length > 0) {
        throw new LocalServiceError(
          'InvalidInput',
          `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]], but found more than one in ${describe}`,
        );
      }
      throw new LocalServiceError(
        'InvalidInput',
        `Invalid request: AliasTarget is not supported by the local Route 53 (${describe})`,
      );
    }
    if (ttlText === undefined || values.length === 0) {
      const found =
        ttlText === undefined && values.length === 0
          ? 'none'
          : ttlText === undefined
            ? 'ResourceRecords without TTL'
            : 'TTL without ResourceRecords';
      throw new LocalServiceError(
        'InvalidInput',
        `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]], but found ${found} in ${describe}`,
      );
    }
    if (!/^\d+$/.test(ttlText) || Number(ttlText) > MAX_TTL) {
      throw new LocalServiceError(
        'InvalidInput',
        `Invalid XML ; TTL must be an integer between 0 and ${MAX_TTL}, got '${ttlText}'`,
      );
    }
    return { action, record: { name, type, ttl: Number(ttlText), values } };
  }

  /** Messages for invalid RDATA in one record set ([] when fine). */
  private rdataProblems(r: RecordSet): string[] {
    const problems: string[] = [];
    const fatal = (code: string, detail: string, v: string): void => {
      problems.push(`Invalid Resource Record: 'FATAL problem: ${code} (${detail}) encountered with '${v}''`);
    };
    const seen = new Set<string>();
    for (const v of r.values) {
      if (seen.has(v)) problems.push(`Duplicate Resource Record: '${v}'`);
      seen.add(v);
      switch (r.type) {
        case 'A':
          if (!isIPv4(v.trim())) fatal('ARRDATAIllegalIPv4Address', 'Value is not a valid IPv4 address', v);
          break;
        case 'AAAA':
          if (!isIPv6(v.trim())) fatal('AAAARRDATAIllegalIPv6Address', 'Value is not a valid IPv6 address', v);
          break;
        case 'TXT':
        case 'SPF': {
          const p = parseTxtValue(v);
          if (!Array.isArray(p)) fatal(p.error, p.detail, v);
          break;
        }
        case 'CNAME':
        case 'NS':
        case 'PTR':
          if (!/^[A-Za-z0-9_\-.*\\]+$/.test(v.trim())) fatal('DomainLabelEmpty', 'Domain label is empty', v);
          break;
        case 'MX':
          if (!/^\d+\s+\S+$/.test(v.trim())) fatal('MXRRDATANotTwoFields', 'Value does not contain two fields', v);
          break;
        case 'SOA':
          if (v.trim().split(/\s+/).length !== 7)
            fatal('SOARRDATANotSevenFields', 'Value does not contain seven fields', v);
          break;
        case 'CAA':
          if (!/^\d+\s+[A-Za-z0-9]+\s+".*"$/.test(v.trim()))
            fatal('CAARRDATAIllegal', 'Value is not a valid CAA record', v);
          break;
        default:
          break;
      }
    }
    if (r.type === 'CNAME' && r.values.length > 1) {
      problems.push(
        `Invalid Resource Record: 'FATAL problem: CNAMEMultipleValues (Only one value is allowed for a CNAME RRSet) encountered with '${escapeName(r.name)}''`,
      );
    }
    if (r.type === 'SOA' && r.values.length > 1) {
      problems.push(
        `Invalid Resource Record: 'FATAL problem: SOAMultipleValues (Only one value is allowed for an SOA RRSet) encountered with '${escapeName(r.name)}''`,
      );
    }
    return problems;
  }

  /**
   * Check every change in order against a working copy; returns the records after the batch.
   * Throws InvalidChangeBatch with all messages (`[m1, m2]`) if anything is wrong.
   */
  private validateBatch(zone: HostedZone, changes: RecordChange[]): RecordSet[] {
    const work = new Map<string, RecordSet>();
    const key = (name: string, type: string): string => `${name}\u0000${type}`;
    for (const r of zone.records) work.set(key(r.name, r.type), r);
    const messages: string[] = [];
    const zn = escapeName(zone.name);

    // The same name and type twice in one batch: only DELETE then CREATE (a replace) is accepted.
    const seen = new Map<string, ChangeAction[]>();
    for (const c of changes) {
      const k = key(c.record.name, c.record.type);
      seen.set(k, [...(seen.get(k) ?? []), c.action]);
    }
    const invalidSets = new Set<string>();
    for (const [k, actions] of seen) {
      if (actions.length > 1 && !(actions.length === 2 && actions[0] === 'DELETE' && actions[1] === 'CREATE')) {
        invalidSets.add(k);
        const [name, type] = k.split('\u0000') as [string, string];
        messages.push(
          `The request contains an invalid set of changes for a resource record set '${type} ${escapeName(name)}'`,
        );
      }
    }

    for (const c of changes) {
      const r = c.record;
      const k = key(r.name, r.type);
      if (invalidSets.has(k)) continue;
      const n = escapeName(r.name);
      if (!isInZone(r.name, zone.name)) {
        messages.push(`RRSet with DNS name ${n} is not permitted in zone ${zn}`);
        continue;
      }
      const problems = this.rdataProblems(r);
      if (problems.length > 0) {
        messages.push(...problems);
        continue;
      }
      const existing = work.get(k);
      if (c.action === 'DELETE') {
        if (!existing) {
          messages.push(`Tried to delete resource record set ${recordLabel(r)} but it was not found`);
        } else if (existing.ttl !== r.ttl || !sameValues(existing.values, r.values, r.type)) {
          messages.push(
            `Tried to delete resource record set ${recordLabel(r)} but the values provided do not match the current values`,
          );
        } else if (r.name === zone.name && r.type === 'SOA') {
          messages.push('A HostedZone must contain exactly one SOA record.');
        } else if (r.name === zone.name && r.type === 'NS') {
          messages.push('A HostedZone must contain at least one NS record for the zone itself.');
        } else {
          work.delete(k);
        }
        continue;
      }
      if (c.action === 'CREATE' && existing) {
        messages.push(`Tried to create resource record set ${recordLabel(r)} but it already exists`);
        continue;
      }
      if (r.type === 'CNAME' && r.name === zone.name) {
        messages.push(`RRSet of type CNAME with DNS name ${n} is not permitted at apex in zone ${zn}`);
        continue;
      }
      const others = [...work.values()].filter((o) => o.name === r.name && o.type !== r.type);
      const conflict = r.type === 'CNAME' ? others[0] : others.find((o) => o.type === 'CNAME');
      if (conflict) {
        messages.push(
          `RRSet of type ${r.type} with DNS name ${n} is not permitted because a conflicting RRSet of type ${conflict.type} with the same DNS name already exists in zone ${zn}`,
        );
        continue;
      }
      work.set(k, { name: r.name, type: r.type, ttl: r.ttl, values: r.values.map((v) => v.trim()) });
    }
    if (messages.length > 0) {
      throw new LocalServiceError('InvalidChangeBatch', `[${messages.join(', ')}]`);
    }
    return [...work.values()].sort(compareRecordSets);
  }

  // ───────────────────────── zones and changes ─────────────────────────

  private newZone(p: {
    name: string;
    callerReference: string;
    account: string;
    vpcs: Vpc[];
    comment?: string;
    nameServers?: string[];
    id?: string;
  }): ZoneState {
    let id = p.id ?? randomId('Z');
    while (this.zoneStates.has(id)) id = randomId('Z');
    const nameServers = (p.nameServers ?? this.defaultNameServers).map((n) => n.replace(/\.$/, ''));
    const soa: RecordSet = {
      name: p.name,
      type: 'SOA',
      ttl: SOA_TTL,
      values: [`${nameServers[0] ?? 'ns-1.local-r53.test'}. hostmaster.local-r53.test. 1 7200 900 1209600 86400`],
    };
    const ns: RecordSet = { name: p.name, type: 'NS', ttl: NS_TTL, values: nameServers.map((n) => `${n}.`) };
    const zone: HostedZone = {
      id,
      account: p.account,
      name: p.name,
      privateZone: p.vpcs.length > 0,
      nameServers,
      callerReference: p.callerReference,
      records: [ns, soa].sort(compareRecordSets),
      vpcs: p.vpcs,
      ...(p.comment !== undefined ? { comment: p.comment } : {}),
    };
    const state: ZoneState = { zone, served: [], pending: [], deleted: false };
    this.zoneStates.set(id, state);
    return state;
  }

  private submit(state: ZoneState, after: RecordSet[], comment?: string): ChangeRecord {
    let id = randomId('C');
    while (this.changes.has(id)) id = randomId('C');
    const change: ChangeRecord = {
      id,
      zone: state,
      submittedAt: this.now(),
      insync: false,
      after,
      ...(comment !== undefined ? { comment } : {}),
    };
    this.changes.set(id, change);
    state.pending.push(change);
    return change;
  }

  private markInsync(change: ChangeRecord): void {
    const state = change.zone;
    while (state.pending.length > 0) {
      const c = state.pending.shift()!;
      c.insync = true;
      state.served = c.after;
      if (c === change) break;
    }
  }

  /** Promote due changes (in order) to INSYNC. */
  private settle(state: ZoneState): void {
    if (this.hold) return;
    const now = this.now();
    while (state.pending.length > 0) {
      const c = state.pending[0]!;
      if (now - c.submittedAt < this.changeDelayMs) break;
      this.markInsync(c);
    }
  }

  private info(c: ChangeRecord): ChangeInfo {
    if (!c.insync) this.settle(c.zone);
    return {
      id: c.id,
      status: c.insync ? 'INSYNC' : 'PENDING',
      submittedAt: new Date(c.submittedAt),
      ...(c.comment !== undefined ? { comment: c.comment } : {}),
    };
  }

  /** The zone `rawId` names; with `account`, only a zone of that account (else NoSuchHostedZone). */
  private requireZone(rawId: string, account?: string): ZoneState {
    const id = stripPrefix(rawId, 'hostedzone');
    if (id.length > 32) {
      throw new LocalServiceError(
        'InvalidInput',
        `1 validation error detected: Value '${id}' at 'id' failed to satisfy constraint: Member must have length less than or equal to 32`,
      );
    }
    const state = this.zoneStates.get(id);
    if (!state || (account !== undefined && state.zone.account !== account))
      throw new LocalServiceError('NoSuchHostedZone', `No hosted zone found with ID: ${id}`, 404);
    return state;
  }

  private maxItems(q: URLSearchParams, cap: number): number {
    const raw = q.get('maxitems');
    if (raw === null || raw === '') return cap;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) {
      throw new LocalServiceError('InvalidInput', `Invalid value for maxitems: ${raw}`);
    }
    return Math.min(Number(raw), cap);
  }

  private paginate<T>(items: T[], max: number): Page<T> {
    const next = items[max];
    return next === undefined ? { items: items.slice(0, max) } : { items: items.slice(0, max), next };
  }

  // ───────────────────────── XML output ─────────────────────────

  private ok(root: string, inner: string, status = 200): ServiceResponse {
    const requestId = randomUUID();
    return {
      status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${ROUTE53_XMLNS}">${inner}</${root}>`,
    };
  }

  private hostedZoneXml(z: HostedZone): string {
    return (
      '<HostedZone>' +
      el('Id', `/hostedzone/${z.id}`) +
      el('Name', escapeName(z.name)) +
      el('CallerReference', z.callerReference) +
      '<Config>' +
      (z.comment !== undefined ? el('Comment', z.comment) : '') +
      el('PrivateZone', z.privateZone) +
      '</Config>' +
      el('ResourceRecordSetCount', z.records.length) +
      '</HostedZone>'
    );
  }

  private delegationSetXml(z: HostedZone): string {
    return `<DelegationSet><NameServers>${z.nameServers.map((n) => el('NameServer', n)).join('')}</NameServers></DelegationSet>`;
  }

  private vpcXml(v: Vpc, tag: string): string {
    return `<${tag}>${el('VPCRegion', v.region)}${el('VPCId', v.id)}</${tag}>`;
  }

  private changeInfoXml(c: ChangeRecord): string {
    const i = this.info(c);
    return (
      '<ChangeInfo>' +
      el('Id', `/change/${i.id}`) +
      el('Status', i.status) +
      el('SubmittedAt', i.submittedAt.toISOString()) +
      (i.comment !== undefined ? el('Comment', i.comment) : '') +
      '</ChangeInfo>'
    );
  }

  private recordSetXml(r: RecordSet): string {
    return (
      '<ResourceRecordSet>' +
      el('Name', escapeName(r.name)) +
      el('Type', r.type) +
      el('TTL', r.ttl) +
      `<ResourceRecords>${r.values.map((v) => `<ResourceRecord>${el('Value', v)}</ResourceRecord>`).join('')}</ResourceRecords>` +
      '</ResourceRecordSet>'
    );
  }
}
