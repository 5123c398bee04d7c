import type { Deadline } from '../lib/deadline.js';

/** One DNS-01 TXT value for one identifier (wildcard already stripped: `*.example.com` → `example.com`). */
export interface ChallengeRecord {
  /** The identifier the challenge is for, without `*.`, lowercase, no trailing dot. */
  domain: string;
  /** The TXT value (base64url SHA-256 of the key authorization). */
  value: string;
}

/** Where a challenge record actually lives after zone discovery and CNAME following. */
export interface PlacedRecord extends ChallengeRecord {
  /** FQDN of the TXT record set, no trailing dot (normally `_acme-challenge.<domain>`). */
  fqdn: string;
  /** Hosted zone id without the `/hostedzone/` prefix. */
  zoneId: string;
  /** The zone's name, no trailing dot. */
  zoneName: string;
}

/**
 * DNS-01 as an ACME order sees it (acme/issue.ts), like cert-manager's solver: `present` publishes
 * every value of an order (one change per zone, merged with values already at the name); `check`
 * waits until the CA can see them; `cleanUp` removes exactly those values, leaving anyone else's
 * values at the same names in place, and is idempotent. The solver (solver.ts) is the one the
 * order is given.
 */
export interface DnsProvider {
  /**
   * Find where each name's TXT record would go (hosted zone, CNAME target) without changing
   * anything, so a name that has no zone fails before an order exists at the CA. What it reads
   * is reused by the next `present`. Several failing names are reported together.
   */
  locate(domains: string[]): Promise<void>;
  present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]>;
  /** Every placed value applied and visible where the CA will look (no fixed sleeps). */
  check(placed: PlacedRecord[], deadline: Deadline): Promise<void>;
  cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void>;
}

/**
 * The zones behind the solver (Route 53: rotation/route53/provider.ts). Its `present` submits the
 * changes and returns without waiting for them; the solver's check waits with `waitForChanges`,
 * then asks the zones' `authoritativeNameservers` (or DNS_RESOLVERS) for the values.
 */
export interface ZoneWriter extends Omit<DnsProvider, 'check'> {
  /** Waits until every change of the last `present` is applied (Route 53: INSYNC). */
  waitForChanges(deadline: Deadline): Promise<void>;
  /** Nameserver host names authoritative for a placed record's zone (for the propagation check). */
  authoritativeNameservers(zoneId: string): Promise<string[]>;
}
