/**
 * A DNS responder serving the local Route 53's public zones, for Pebble (`-dnsserver
 * 127.0.0.1:PORT`) and for the rotation's propagation check (`DNS_RESOLVERS`).
 *
 * It answers like the resolver a CA would use, built from what the Route 53 name servers serve
 * (`Route53Service.servedRecords`: only changes that reached INSYNC):
 * - the zone is the public zone with the longest matching suffix (of several public zones with
 *   one name, the first created is the delegated one); private zones are never served;
 * - CNAMEs are followed, across zones, and the chain plus the target's records go in the answer;
 * - wildcards (`*.example.com`) are synthesised as RFC 4592 describes;
 * - NODATA is NOERROR with the zone's SOA in the authority section; a name that does not exist in
 *   its zone is NXDOMAIN (also with the SOA); names outside every zone get NXDOMAIN (or REFUSED);
 * - TXT (several strings), A, AAAA, CNAME, NS, SOA, MX, SRV, PTR and CAA are encoded; CAA
 *   queries with no CAA record get NODATA; other types cannot be encoded and answer NODATA.
 * UDP and TCP on 127.0.0.1, on the same port.
 *
 * Fault injection (`addFault`, first matching fault with hits left wins), applied after the query
 * is logged and before it is resolved:
 * - servfail: rcode SERVFAIL, no records;
 * - refused: rcode REFUSED, no records;
 * - empty: NOERROR with no answer and no authority (a server that lags behind or lost the record;
 *   unlike a real NODATA there is no SOA);
 * - drop: no response at all (over UDP the client times out and retries; over TCP the connection
 *   stays open until the client gives up or the server stops).
 */
import type { AddressInfo, Socket } from 'node:net';
import dns2 from 'dns2';
import { canonicalName, parseTxtValue, type RecordSet, type Route53Service } from './aws/route53.js';
import { FaultList } from './faults.js';

const { Packet } = dns2;
type Resource = dns2.Packet.Resource;
type DnsPacket = dns2.Packet;

/** `{ txt }`: answer NOERROR with these TXT strings instead of what the zone holds (a wrong value). */
export type DnsFaultAction = 'servfail' | 'refused' | 'drop' | 'empty' | { txt: string[] };

/** What a fault's `match` sees, and what `queries` records. */
export interface DnsQueryInfo {
  /** Lowercase, with a trailing dot. */
  name: string;
  /** Mnemonic, e.g. 'TXT', 'CAA', or 'TYPE65534'. */
  type: string;
  transport: 'udp' | 'tcp';
  /** Whether the query carried an EDNS OPT record. */
  edns: boolean;
}

export interface DnsQueryRecord extends DnsQueryInfo {
  at: number;
  /** The fault applied, if any. */
  fault?: DnsFaultAction;
}

export interface DnsFault {
  /** Query name: a string is compared case-insensitively, with or without trailing dot; a RegExp
   *  is tested against the lowercase name with its trailing dot. Any name when unset. */
  name?: string | RegExp;
  /** Query type mnemonic ('TXT', 'CAA', …); any type when unset. */
  type?: string;
  /** Further condition on the query. */
  match?: (q: DnsQueryInfo) => boolean;
  /** How many times it fires; default 1; Infinity for always. */
  times?: number;
  action: DnsFaultAction;
  onHit?: (q: DnsQueryInfo) => void;
}

export interface DnsServer {
  port: number;
  address: string;
  stop(): Promise<void>;
  /** Every question received, in order (also the ones a fault answered or dropped). */
  queries: DnsQueryRecord[];
  /** Returns a function removing the fault. */
  addFault(fault: DnsFault): () => void;
  clearFaults(): void;
}

export interface DnsServerOptions {
  route53: Route53Service;
  /** 0 or undefined: an ephemeral port (the same one for UDP and TCP). */
  port?: number;
  /** Answer for names outside every served zone. Default 'nxdomain'. */
  outOfZone?: 'nxdomain' | 'refused';
}

const ADDRESS = '127.0.0.1';
/** RFC 1035 response codes (dns2 has them at runtime as Packet.RCODE but not in its typings). */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const MAX_CNAME_HOPS = 16;

const TYPE_NAMES = new Map<number, string>([
  ...Object.entries(Packet.TYPE).map(([k, v]) => [v, k] as [number, string]),
  [43, 'DS'],
  [35, 'NAPTR'],
  [44, 'SSHFP'],
  [52, 'TLSA'],
  [64, 'SVCB'],
  [65, 'HTTPS'],
]);

function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

/** Wire names (dns2) have no trailing dot. */
function wire(name: string): string {
  return name.replace(/\.$/, '');
}

interface ZoneView {
  name: string;
  records: RecordSet[];
  soa: RecordSet;
}

interface Answer {
  rcode: number;
  answers: Resource[];
  authorities: Resource[];
}

function resource(owner: string, type: number, ttl: number, fields: Partial<Resource>): Resource {
  return new Packet.Resource({ name: wire(owner), type, class: Packet.CLASS.IN, ttl, ...fields });
}

function unquote(s: string): string {
  const m = /^"(.*)"$/s.exec(s);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : s;
}

/** Resource records for one record set at `owner` (values that cannot be encoded are skipped). */
function toResources(owner: string, rs: RecordSet): Resource[] {
  const t = Packet.TYPE;
  const out: Resource[] = [];
  for (const raw of rs.values) {
    const v = raw.trim();
    const f = v.split(/\s+/);
    switch (rs.type) {
      case 'A':
        out.push(resource(owner, t.A, rs.ttl, { address: v }));
        break;
      case 'AAAA':
        out.push(resource(owner, t.AAAA, rs.ttl, { address: v }));
        break;
      case 'CNAME':
        out.push(resource(owner, t.CNAME, rs.ttl, { domain: wire(v) }));
        break;
      case 'PTR':
        out.push(resource(owner, t.PTR, rs.ttl, { domain: wire(v) }));
        break;
      case 'NS':
        out.push(resource(owner, t.NS, rs.ttl, { ns: wire(v) }));
        break;
      case 'TXT':
      case 'SPF': {
        const strings = parseTxtValue(v);
        if (!Array.isArray(strings)) break;
        // dns2's TXT encoder writes Buffers byte for byte; its typings only name strings.
        const data = strings.map((s) => Buffer.from(s, 'latin1')) as unknown as string[];
        out.push(resource(owner, rs.type === 'TXT' ? t.TXT : t.SPF, rs.ttl, { data }));
        break;
      }
      case 'SOA':
        if (f.length === 7) {
          out.push(
            resource(owner, t.SOA, rs.ttl, {
              primary: wire(f[0]!),
              admin: wire(f[1]!),
              serial: Number(f[2]),
              refresh: Number(f[3]),
              retry: Number(f[4]),
              expiration: Number(f[5]),
              minimum: Number(f[6]),
            }),
          );
        }
        break;
      case 'MX':
        if (f.length === 2) out.push(resource(owner, t.MX, rs.ttl, { priority: Number(f[0]), exchange: wire(f[1]!) }));
        break;
      case 'SRV':
        if (f.length === 4) {
          out.push(
            resource(owner, t.SRV, rs.ttl, {
              priority: Number(f[0]),
              weight: Number(f[1]),
              port: Number(f[2]),
              target: wire(f[3]!),
            }),
          );
        }
        break;
      case 'CAA': {
        const m = /^(\d+)\s+(\S+)\s+(.*)$/s.exec(v);
        if (m) out.push(resource(owner, t.CAA, rs.ttl, { flags: Number(m[1]), tag: m[2]!, value: unquote(m[3]!) }));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

function negativeSoa(zone: ZoneView): Resource[] {
  const res = toResources(zone.name, zone.soa);
  const minimum = Number(zone.soa.values[0]?.trim().split(/\s+/)[6] ?? zone.soa.ttl);
  for (const r of res) r.ttl = Math.min(zone.soa.ttl, Number.isFinite(minimum) ? minimum : zone.soa.ttl);
  return res;
}

/** The zones DNS serves: public zones whose creation is INSYNC; first created wins a name. */
function servedZones(route53: Route53Service): ZoneView[] {
  const byName = new Map<string, ZoneView>();
  for (const z of route53.zones()) {
    if (z.privateZone || byName.has(z.name)) continue;
    const records = route53.servedRecords(z.id);
    const soa = records.find((r) => r.name === z.name && r.type === 'SOA');
    if (soa) byName.set(z.name, { name: z.name, records, soa });
  }
  return [...byName.values()];
}

function findZone(zones: ZoneView[], name: string): ZoneView | undefined {
  let best: ZoneView | undefined;
  for (const z of zones) {
    if ((name === z.name || name.endsWith('.' + z.name)) && (!best || z.name.length > best.name.length)) best = z;
  }
  return best;
}

/** Resolve (qname, qtype) over the served zones. `qname` is canonical; `owner` keeps the query's case. */
export function resolveQuery(
  route53: Route53Service,
  qname: string,
  qtype: number,
  owner = qname,
  outOfZone: 'nxdomain' | 'refused' = 'nxdomain',
): Answer {
  const T = Packet.TYPE;
  const R = RCODE;
  const zones = servedZones(route53);
  const answers: Resource[] = [];
  const visited = new Set<string>();
  let name = qname;
  let ownerName = owner;
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    visited.add(name);
    const zone = findZone(zones, name);
    if (!zone) {
      if (answers.length > 0) return { rcode: R.NOERROR, answers, authorities: [] };
      return { rcode: outOfZone === 'refused' ? R.REFUSED : R.NXDOMAIN, answers, authorities: [] };
    }
    let sets = zone.records.filter((r) => r.name === name);
    if (sets.length === 0) {
      const exists = zone.records.some((r) => r.name.endsWith('.' + name));
      if (exists) return { rcode: R.NOERROR, answers, authorities: negativeSoa(zone) }; // empty non-terminal
      // RFC 4592: the closest encloser's wildcard, if any, answers for a name that does not exist.
      let encloser = name.slice(name.indexOf('.') + 1);
      while (
        encloser.length >= zone.name.length &&
        encloser !== zone.name &&
        !zone.records.some((r) => r.name === encloser || r.name.endsWith('.' + encloser))
      ) {
        encloser = encloser.slice(encloser.indexOf('.') + 1);
      }
      const wildcard = `*.${encloser}`;
      sets = zone.records.filter((r) => r.name === wildcard);
      if (sets.length === 0) return { rcode: R.NXDOMAIN, answers, authorities: negativeSoa(zone) };
    }
    const cname = sets.find((r) => r.type === 'CNAME');
    if (cname && qtype !== T.CNAME && qtype !== T.ANY) {
      answers.push(...toResources(ownerName, cname));
      const target = canonicalName(cname.values[0] ?? '');
      if (visited.has(target)) return { rcode: R.SERVFAIL, answers, authorities: [] };
      name = target;
      ownerName = target;
      continue;
    }
    const matching = qtype === T.ANY ? sets : sets.filter((r) => r.type === typeName(qtype));
    const rrs = matching.flatMap((r) => toResources(ownerName, r));
    if (rrs.length === 0) return { rcode: R.NOERROR, answers, authorities: negativeSoa(zone) };
    answers.push(...rrs);
    return { rcode: R.NOERROR, answers, authorities: [] };
  }
  return { rcode: R.SERVFAIL, answers, authorities: [] };
}

function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function faultMatches(f: DnsFault, q: DnsQueryInfo): boolean {
  if (f.name !== undefined) {
    if (typeof f.name === 'string') {
      if (lowerAscii(f.name).replace(/\.?$/, '.') !== q.name) return false;
    } else if (!f.name.test(q.name)) {
      return false;
    }
  }
  if (f.type !== undefined && f.type.toUpperCase() !== q.type) return false;
  return !f.match || f.match(q);
}

/** The response to send, or undefined to send nothing (a 'drop' fault). */
function buildResponse(
  opts: DnsServerOptions,
  request: DnsPacket,
  transport: 'udp' | 'tcp',
  queries: DnsQueryRecord[],
  faults: FaultList<DnsFault>,
): DnsPacket | undefined {
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  response.header.ra = 1;
  const edns = (request.additionals ?? []).some((r) => r.type === Packet.TYPE.EDNS);
  if (edns) response.additionals.push(Packet.Resource.EDNS([]));
  const q = request.questions[0];
  if (request.header.opcode !== 0) {
    response.header.rcode = RCODE.NOTIMP;
    return response;
  }
  if (!q || request.questions.length !== 1) {
    response.header.rcode = RCODE.FORMERR;
    return response;
  }
  const qname = lowerAscii(q.name).replace(/\.?$/, '.');
  const info: DnsQueryInfo = { name: qname, type: typeName(q.type), transport, edns };
  const record: DnsQueryRecord = { ...info, at: Date.now() };
  queries.push(record);
  const fault = faults.take((f) => faultMatches(f, info));
  if (fault) {
    record.fault = fault.action;
    fault.onHit?.(info);
    switch (fault.action) {
      case 'drop':
        return undefined;
      case 'servfail':
        response.header.rcode = RCODE.SERVFAIL;
        return response;
      case 'refused':
        response.header.rcode = RCODE.REFUSED;
        return response;
      case 'empty':
        response.header.rcode = RCODE.NOERROR;
        return response;
      default:
        response.header.rcode = RCODE.NOERROR;
        response.answers = fault.action.txt.map((value) =>
          resource(qname, Packet.TYPE.TXT, 60, { data: [Buffer.from(value, 'latin1')] as unknown as string[] }),
        );
        return response;
    }
  }
  if (q.class !== Packet.CLASS.IN && q.class !== Packet.CLASS.ANY) {
    response.header.rcode = RCODE.REFUSED;
    return response;
  }
  let result: Answer;
  try {
    const canon = qname === '.' ? '.' : canonicalName(qname);
    result = resolveQuery(opts.route53, canon, q.type, q.name, opts.outOfZone);
  } catch {
    response.header.rcode = RCODE.SERVFAIL;
    return response;
  }
  response.header.rcode = result.rcode;
  response.answers = result.answers;
  response.authorities = result.authorities;
  return response;
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const queries: DnsQueryRecord[] = [];
  const faults = new FaultList<DnsFault>();
  const handlerFor =
    (transport: 'udp' | 'tcp'): dns2.DnsHandler =>
    (request, send) => {
      let response: DnsPacket | undefined;
      try {
        response = buildResponse(opts, request, transport, queries, faults);
      } catch {
        response = Packet.createResponseFromRequest(request);
        response.header.rcode = RCODE.SERVFAIL;
      }
      if (response === undefined) return;
      reply(send, response);
    };
  const reply = (send: Parameters<dns2.DnsHandler>[1], response: DnsPacket): void => {
    try {
      // UDP's send returns a promise; TCP's returns nothing.
      void Promise.resolve(send(response)).catch(() => undefined);
    } catch {
      /* the client went away */
    }
  };

  const fixed = opts.port !== undefined && opts.port !== 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < (fixed ? 1 : 20); attempt++) {
    const udp = new dns2.UDPServer({ type: 'udp4' });
    udp.on('request', handlerFor('udp'));
    udp.on('requestError', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(fixed ? opts.port : 0, ADDRESS, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      throw e;
    }
    udp.on('error', () => undefined);
    const port = (udp.address() as AddressInfo).port;
    const tcp = new dns2.TCPServer(handlerFor('tcp'));
    tcp.on('requestError', () => undefined);
    const sockets = new Set<Socket>();
    tcp.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, ADDRESS, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      lastError = e;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && !fixed) continue;
      throw e;
    }
    tcp.on('error', () => undefined);
    let stopped: Promise<void> | undefined;
    return {
      port,
      address: ADDRESS,
      queries,
      addFault: (fault: DnsFault) => faults.add(fault),
      clearFaults: () => faults.clear(),
      stop(): Promise<void> {
        stopped ??= Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => {
            tcp.close(() => resolve());
            for (const s of sockets) s.destroy();
          }),
        ]).then(() => undefined);
        return stopped;
      },
    };
  }
  throw lastError ?? new Error('could not bind the DNS server');
}
