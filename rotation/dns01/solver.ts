/**
 * The DNS-01 solver of one certificate, shaped like cert-manager's Present/Check/CleanUp solver
 * around a lego-style provider (the zones, provider.ts; Route 53 is the one the function wires in):
 *
 * - `present`: the in-flight tags on the certificate secret first (so an attempt killed after this
 *   point leaves a trace its retry can clean up: inflight.ts), then every value of the order in one
 *   change per zone.
 * - `check`: every change applied (Route 53 INSYNC), then the values visible on the zones'
 *   authoritative nameservers or DNS_RESOLVERS (propagation.ts). No fixed sleeps.
 * - `cleanUp`: the values removed, then the in-flight tags. After a `present` that never reached
 *   DNS (the tags could not be written) there is nothing to remove and it does nothing.
 * - `cleanUpLeftovers`: the values an interrupted attempt recorded in the tags, then those tags.
 *
 * The zones are built on the solver's first DNS call, once: the function's wiring loads the
 * Route 53 modules there, so steps that never touch DNS never load them.
 */
import { INFLIGHT_TAG, MAX_TAGS_PER_SECRET } from '../certificate/tags.js';
import type { Deadline } from '../lib/deadline.js';
import { RotationStateError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { allInflightTagKeys, inflightTags, leftoverRecords, readInflight } from './inflight.js';
import { challengeDomain } from './names.js';
import { waitForTxtPropagation } from './propagation.js';
import type { ChallengeRecord, DnsProvider, PlacedRecord, ZoneWriter } from './provider.js';

/** The propagation check: resolves once every placed value is visible (propagation.ts by default). */
export type PropagationCheck = (
  placed: PlacedRecord[],
  deadline: Deadline,
  nameserversFor: (zoneId: string) => Promise<string[]>,
) => Promise<void>;

/** Writes and removes tags on a secret (the invocation's Secrets Manager adapter). */
export interface TagWriter {
  tag(secretId: string, tags: Record<string, string>): Promise<void>;
  untag(secretId: string, keys: string[]): Promise<void>;
}

export interface Dns01SolverOptions {
  /** The certificate's names (the spec's): a leftover value is looked for at each of their challenge names. */
  domains: readonly string[];
  /** Builds the zones; called on the solver's first DNS call, again only if that failed. */
  zones: () => Promise<ZoneWriter>;
  /** The certificate secret, with its tags as the step found them. */
  secret: { arn: string; tags: ReadonlyArray<{ Key?: string; Value?: string }> };
  /** The rotation token: the in-flight tag's value. */
  token: string;
  tags: TagWriter;
  logger: Logger;
  /** DNS_RESOLVERS: when set, the propagation check asks them instead of the zones' nameservers. */
  resolvers?: string[];
  /** The propagation check; by default waitForTxtPropagation through `resolvers` or the nameservers. */
  propagation?: PropagationCheck;
}

export class Dns01Solver implements DnsProvider {
  private loaded: Promise<ZoneWriter> | undefined;
  /** Set from the in-flight tags' write until their removal: whether they may be on the secret. */
  private tagged = false;
  /** Set once a `present` reached the zones, until its clean-up removed the values. */
  private presented = false;
  private readonly propagation: PropagationCheck;

  constructor(private readonly opts: Dns01SolverOptions) {
    this.propagation =
      opts.propagation ??
      ((placed, deadline, nameserversFor) =>
        waitForTxtPropagation(placed, { resolvers: opts.resolvers, nameserversFor, deadline, logger: opts.logger }));
  }

  /** Whether this solver's in-flight tags may still be on the secret (written and not yet removed). */
  get inFlight(): boolean {
    return this.tagged;
  }

  async locate(domains: string[]): Promise<void> {
    return (await this.zones()).locate(domains);
  }

  /** The in-flight tags, then every value in one change per zone; returns where each value went. */
  async present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]> {
    const { secret, token } = this.opts;
    const tags = inflightTags(token, records);
    const others = secret.tags.filter((t) => !t.Key?.startsWith(INFLIGHT_TAG)).length;
    if (others + Object.keys(tags).length > MAX_TAGS_PER_SECRET) {
      throw new RotationStateError(
        `recording ${records.length} challenge values needs ${Object.keys(tags).length} tags, ` +
          `but the secret already has ${others} of the ${MAX_TAGS_PER_SECRET} allowed; remove unrelated tags or split the certificate`,
      );
    }
    this.tagged = true;
    await this.opts.tags.tag(secret.arn, tags);
    const zones = await this.zones();
    this.presented = true;
    return zones.present(records, deadline);
  }

  /** Every change of the last `present` applied, then every placed value visible where the CA will look. */
  async check(placed: PlacedRecord[], deadline: Deadline): Promise<void> {
    const zones = await this.zones();
    await zones.waitForChanges(deadline);
    await this.propagation(placed, deadline, (zoneId) => zones.authoritativeNameservers(zoneId));
  }

  /** The values removed (only ours: others' values at the same names stay), then the in-flight tags. */
  async cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void> {
    if (!this.presented) return;
    await (await this.zones()).cleanUp(records, deadline); // logs its own 'dns-cleanup' timing
    this.presented = false;
    await this.opts.tags.untag(this.opts.secret.arn, allInflightTagKeys());
    this.tagged = false;
  }

  /**
   * Removes what an interrupted attempt recorded in the in-flight tags: each recorded value at each
   * challenge name of the certificate, then those tags. Nothing recorded: no call at all.
   */
  async cleanUpLeftovers(deadline: Deadline): Promise<void> {
    const { secret, logger } = this.opts;
    const inflight = readInflight(secret.tags);
    if (inflight.tagKeys.length === 0) return;
    const records = leftoverRecords(this.opts.domains.map(challengeDomain), inflight.values);
    logger.warn('found TXT values of an interrupted attempt; removing them', {
      inflightToken: inflight.token,
      values: inflight.values.length,
    });
    if (records.length > 0) {
      await logger.time('dns-cleanup-leftovers', async () => (await this.zones()).cleanUp(records, deadline));
    }
    await this.opts.tags.untag(secret.arn, inflight.tagKeys);
  }

  private zones(): Promise<ZoneWriter> {
    if (!this.loaded) {
      const p = this.opts.zones();
      this.loaded = p;
      p.catch(() => {
        if (this.loaded === p) this.loaded = undefined;
      });
    }
    return this.loaded;
  }
}
