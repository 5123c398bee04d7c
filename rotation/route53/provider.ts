/**
 * DNS-01 on Route 53: the zones behind the solver (dns01/solver.ts), composed of
 * - zones.ts: which hosted zone (and, through `_acme-challenge` CNAMEs, which name) holds each
 *   TXT record;
 * - txt-batch.ts: the compare-and-swap change batch of each zone (DELETE exact current + CREATE
 *   merged), so concurrent rotations touching the same name cannot clobber each other;
 * - insync.ts: the GetChange wait.
 *
 * present: ONE ChangeResourceRecordSets per zone carrying every TXT value of the order, merged
 * with the values already at each name. waitForChanges: one concurrent INSYNC wait for every
 * change of that present.
 * cleanUp: removes only our values the same way; idempotent; does not wait for INSYNC.
 * A batch refused because the records changed underneath is re-read and retried after an
 * exponential backoff with full jitter.
 */
import { DnsError, errorMessage } from '../lib/errors.js';
import { backoffDelay, type Deadline } from '../lib/deadline.js';
import type { Logger } from '../lib/log.js';
import type { Route53Port } from './routed.js';
import { bareZoneId } from '../certificate/rules.js';
import type { ChallengeRecord, PlacedRecord, ZoneWriter } from '../dns01/provider.js';
import { challengeDomain } from '../dns01/names.js';
import { retry } from '../lib/retry.js';
import { waitAllInsync, type PendingChange } from './insync.js';
import {
  batchComment,
  buildTxtChanges,
  classifyChangeFailure,
  groupByZone,
  txtAfterChanges,
  uniqueRecords,
  type BatchMode,
  type NameWork,
} from './txt-batch.js';
import { ZoneLocator } from './zones.js';

export interface Route53DnsProviderOptions {
  /** The adapter, or the zone-routed one when some zones are reached through roles (routed.ts). */
  route53: Route53Port;
  /** Explicit zone ids (tag `acme:hosted-zone-ids`): only these are candidates; private allowed. */
  hostedZoneIds?: string[];
  logger: Logger;
  /** TTL of records we create (seconds). Default 60. */
  ttl?: number;
  /**
   * GetChange schedule: the first look after `pollMinMs`, then every 15% of the time waited so
   * far, between `pollMinMs` and `pollMaxMs`. Defaults 250 / 5000: a change that takes D is seen
   * at most ~15% (or 250 ms) after D, with O(log D) polls (about 30 for a minute).
   */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** Random source for jitter (tests). */
  random?: () => number;
  /** Maximum CNAME hops followed from `_acme-challenge.<domain>`. Default 5. */
  maxCnameHops?: number;
  /** Attempts of a compare-and-swap change batch before giving up. Default 6. */
  maxCasAttempts?: number;
  /**
   * Zone discovery starts with one ListHostedZonesByName without a name (first 100 zones): when
   * that is every zone of the account, no further discovery calls are needed. Set false to look
   * up each candidate name directly. Default true.
   */
  listAllZones?: boolean;
}

export class Route53DnsProvider implements ZoneWriter {
  private readonly route53: Route53Port;
  private readonly logger: Logger;
  private readonly ttl: number;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly random: () => number;
  private readonly maxCasAttempts: number;
  private readonly zones: ZoneLocator;
  /** The changes of the last present still PENDING, and how many records it carried. */
  private submitted: { pending: PendingChange[]; records: number } = { pending: [], records: 0 };

  constructor(opts: Route53DnsProviderOptions) {
    this.route53 = opts.route53;
    this.logger = opts.logger;
    this.ttl = opts.ttl ?? 60;
    this.pollMinMs = Math.max(1, opts.pollMinMs ?? 250);
    this.pollMaxMs = Math.max(this.pollMinMs, opts.pollMaxMs ?? 5000);
    this.random = opts.random ?? Math.random;
    this.maxCasAttempts = Math.max(1, opts.maxCasAttempts ?? 6);
    this.zones = new ZoneLocator({
      route53: opts.route53,
      hostedZoneIds: opts.hostedZoneIds,
      logger: opts.logger,
      ttl: this.ttl,
      maxCnameHops: opts.maxCnameHops ?? 5,
      listAllZones: opts.listAllZones ?? true,
    });
  }

  async locate(domains: string[]): Promise<void> {
    const unique = [...new Set(domains.map((d) => challengeDomain(d)).filter((d) => d.length > 0))];
    const { known, failures } = await this.zones.placeEach(unique);
    for (const [fqdn, txt] of known) this.zones.remember(fqdn, txt);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const first = failures[0];
      throw new DnsError(
        first instanceof DnsError ? first.code : 'NoHostedZone',
        `no usable hosted zone for ${failures.length} names: ${failures.map(errorMessage).join(' | ')}`,
        { cause: first },
      );
    }
  }

  async present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]> {
    this.submitted = { pending: [], records: 0 };
    const wanted = uniqueRecords(records);
    if (wanted.length === 0) return [];

    const { placed, byZone, failures } = await this.placeAll(wanted);
    if (failures.length > 0) throw failures[0];
    const zoneIds = [...byZone.keys()];

    const changes = await this.logger.time(
      'dns-change',
      async () => {
        const out: { zoneId: string; changeId: string; status: string }[] = [];
        // Zones one after another: keeps the request rate low; typically there is one zone.
        for (const [zoneId, works] of byZone) {
          const change = await this.casChange(zoneId, works, 'present', deadline);
          if (change !== null) out.push({ zoneId, changeId: change.id, status: change.status });
        }
        this.logger.info('route53 changes submitted', {
          changes: out,
          zoneIds,
          records: wanted.length,
        });
        return out;
      },
      { zoneIds, records: wanted.length, names: [...new Set(placed.map((p) => p.fqdn))] },
    );

    // A change Route 53 reports INSYNC in its answer needs no GetChange.
    this.submitted = { pending: changes.filter((c) => c.status !== 'INSYNC'), records: wanted.length };
    return placed;
  }

  async waitForChanges(deadline: Deadline): Promise<void> {
    const { pending, records } = this.submitted;
    if (pending.length === 0) return;
    const wait = { route53: this.route53, logger: this.logger, pollMinMs: this.pollMinMs, pollMaxMs: this.pollMaxMs };
    await this.logger.time('dns-insync-wait', () => waitAllInsync(pending, deadline, wait), {
      zoneIds: pending.map((c) => c.zoneId),
      changeIds: pending.map((c) => c.changeId),
      records,
    });
    this.submitted = { pending: [], records: 0 };
  }

  async cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void> {
    const wanted = uniqueRecords(records);
    if (wanted.length === 0) return;
    // Names whose zone cannot be found are reported after the others are cleaned.
    const { byZone, failures } = await this.placeAll(wanted);
    const zoneIds = [...byZone.keys()];

    await this.logger.time(
      'dns-cleanup',
      async () => {
        const results: { zoneId: string; changeId: string | null }[] = [];
        for (const [zoneId, works] of byZone) {
          try {
            results.push({ zoneId, changeId: (await this.casChange(zoneId, works, 'cleanUp', deadline))?.id ?? null });
          } catch (err) {
            failures.push(err);
          }
        }
        this.logger.info('route53 clean-up submitted', { changes: results, records: wanted.length });
        if (failures.length === 1) throw failures[0];
        if (failures.length > 1) {
          throw new DnsError(
            'CleanUpFailed',
            `TXT clean-up failed for ${failures.length} zones/names: ${failures.map(errorMessage).join(' | ')}`,
            { cause: failures[0] },
          );
        }
      },
      { zoneIds, records: wanted.length },
    );
  }

  async authoritativeNameservers(zoneId: string): Promise<string[]> {
    const zone = await this.zones.zoneById(bareZoneId(zoneId));
    return [...zone.nameServers];
  }

  /** Places every record's domain and sorts them into one batch per zone; failures are collected. */
  private async placeAll(
    wanted: ChallengeRecord[],
  ): Promise<{ placed: PlacedRecord[]; byZone: Map<string, NameWork[]>; failures: unknown[] }> {
    const { placementOf, known, failures } = await this.zones.placeEach([...new Set(wanted.map((r) => r.domain))]);
    return { ...groupByZone(wanted, placementOf, known), failures };
  }

  /**
   * Submit one batch for a zone, re-reading and retrying when the records changed underneath.
   * Returns the change, or null when there was nothing to change.
   *
   * A submission whose answer was lost (a timeout or a 5xx after Route 53 applied it) is retried
   * by the SDK and then conflicts with its own result; the re-read finds our values in place and
   * the change is not submitted again. Its id is lost with the answer, so the wait for it is the
   * propagation check on the authoritative servers, which follows anyway.
   */
  private casChange(
    zoneId: string,
    works: NameWork[],
    mode: BatchMode,
    deadline: Deadline,
  ): Promise<{ id: string; status: string } | null> {
    const what = `retrying the Route 53 change for zone ${zoneId}`;
    return retry(
      async (attempt) => {
        // Every attempt after the first follows a conflict: what was read is stale.
        const conflicted = attempt > 1;
        if (conflicted) for (const w of works) w.current = undefined;
        for (const w of works) {
          if (w.current === undefined) w.current = await this.zones.readTxt(zoneId, w.fqdn);
        }
        const changes = buildTxtChanges(works, mode, this.ttl);
        const names = works.map((w) => w.fqdn);
        if (changes.length === 0) {
          if (conflicted) {
            this.logger.info(
              'route53: the records are already as wanted (an earlier submission was applied); not resubmitting',
              { zoneId, mode, names },
            );
          } else {
            this.logger.debug('route53: nothing to change', { zoneId, mode, names });
          }
          return null;
        }
        const change = await this.route53.changeRecords(zoneId, changes, batchComment(works, mode));
        // What the batch left at each name is known: the clean-up that follows can build its
        // compare-and-swap on it without reading again (a conflict re-reads anyway).
        for (const [fqdn, txt] of txtAfterChanges(works, changes)) this.zones.remember(fqdn, txt);
        this.logger.debug('route53 change submitted', {
          zoneId,
          changeId: change.id,
          status: change.status,
          mode,
          names,
          attempt: attempt - 1,
        });
        return change;
      },
      {
        // Only a compare-and-swap conflict is retried (InvalidChangeBatch, which only the
        // submission answers); any other failure passes through as it is.
        retryable: (err) => classifyChangeFailure(err) === 'conflict',
        maxAttempts: this.maxCasAttempts,
        waitMs: (_err, attempt) => backoffDelay(attempt - 1, 100, 2000, this.random),
        onWait: (err, attempt, delay) =>
          this.logger.warn('route53 records changed concurrently; re-reading and retrying', {
            zoneId,
            mode,
            attempt: attempt - 1,
            delayMs: delay,
            error: errorMessage(err),
          }),
        giveUp: (err, why) => {
          if (why.reason === 'attempts') {
            return new DnsError(
              'ConcurrentModification',
              `TXT records in zone ${zoneId} kept changing underneath (${this.maxCasAttempts} attempts): ${errorMessage(err)}`,
              { cause: err },
            );
          }
          if (classifyChangeFailure(err) === 'rejected') {
            return new DnsError(
              'ChangeRejected',
              `Route 53 rejected the ${mode} change batch for zone ${zoneId}: ${errorMessage(err)}`,
              { cause: err },
            );
          }
          return err;
        },
        // Clean-up runs in the deadline's reserve, so it sleeps without drawing on it.
        sleep: mode === 'present' ? (ms) => deadline.sleep(ms, what) : undefined,
      },
    );
  }
}
