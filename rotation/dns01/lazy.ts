import type { Deadline } from '../lib/deadline.js';
import type { ChallengeRecord, DnsProvider, PlacedRecord } from './provider.js';

/**
 * A DnsProvider built on first use: the Route 53 client and provider code load only when a step
 * touches DNS (createSecret, or a leftover clean-up), not at init for setSecret/testSecret/finishSecret.
 */
export class LazyDnsProvider implements DnsProvider {
  private real: Promise<DnsProvider> | undefined;

  constructor(private readonly create: () => Promise<DnsProvider>) {}

  private provider(): Promise<DnsProvider> {
    if (!this.real) {
      const p = this.create();
      this.real = p;
      p.catch(() => {
        if (this.real === p) this.real = undefined;
      });
    }
    return this.real;
  }

  async locate(domains: string[]): Promise<void> {
    return (await this.provider()).locate(domains);
  }

  async present(records: ChallengeRecord[], deadline: Deadline): Promise<PlacedRecord[]> {
    return (await this.provider()).present(records, deadline);
  }

  async cleanUp(records: ChallengeRecord[], deadline: Deadline): Promise<void> {
    return (await this.provider()).cleanUp(records, deadline);
  }

  async authoritativeNameservers(zoneId: string): Promise<string[]> {
    return (await this.provider()).authoritativeNameservers(zoneId);
  }
}
