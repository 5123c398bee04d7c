import { describe, expect, it } from 'vitest';
import { DEFAULT_INTERVAL_SECONDS } from '../../rotation/certificate/rules.js';
import { loadWatchSettings } from '../../rotation/watch/config.js';

const BASE = { ACME_DIRECTORY_URL: 'https://acme-v02.api.letsencrypt.org/directory' };

describe('the watch settings', () => {
  it('WATCH_INTERVAL_SECONDS: the schedule gap RFC 9773 §4.2 is measured against, an hour by default', () => {
    expect(loadWatchSettings(BASE).nextRunMs).toBe(DEFAULT_INTERVAL_SECONDS * 1000);
    expect(loadWatchSettings({ ...BASE, WATCH_INTERVAL_SECONDS: '1800' }).nextRunMs).toBe(1_800_000);
    for (const bad of ['0', '59', '345601', '1h', '-60']) {
      expect(() => loadWatchSettings({ ...BASE, WATCH_INTERVAL_SECONDS: bad })).toThrow(
        `WATCH_INTERVAL_SECONDS="${bad}" is invalid: expected a whole number from 60 to 345600`,
      );
    }
  });
});
