import { describe, expect, it, vi } from 'vitest';

import type { ChangeStatus } from '../../rotation/route53/adapter.js';
import { Deadline } from '../../rotation/lib/deadline.js';
import { waitAllInsync, type InsyncWaitOptions } from '../../rotation/route53/insync.js';
import { DeadlineError } from '../../rotation/lib/errors.js';
import { createLogger } from '../../rotation/lib/log.js';

/** GetChange answering PENDING `pending[id]` times for each change, then INSYNC; a throwing id fails. */
function getChanges(pending: Record<string, number>, failing?: string) {
  const polls: string[] = [];
  const getChange = vi.fn((id: string): Promise<ChangeStatus> => {
    polls.push(id);
    if (id === failing) return Promise.reject(new Error(`GetChange ${id} failed`));
    const left = pending[id] ?? 0;
    pending[id] = left - 1;
    return Promise.resolve(left > 0 ? 'PENDING' : 'INSYNC');
  });
  return { polls, getChange };
}

function options(getChange: InsyncWaitOptions['route53']['getChange'], pollMaxMs = 4): InsyncWaitOptions {
  return { route53: { getChange }, logger: createLogger({}, { sink: () => {} }), pollMinMs: 1, pollMaxMs };
}

describe('waitAllInsync', () => {
  it('polls every change until it is INSYNC, each within the schedule', async () => {
    const { polls, getChange } = getChanges({ C1: 2, C2: 0 });
    const deadline = new Deadline(60_000, 0);
    const sleep = vi.spyOn(deadline, 'sleep');

    await waitAllInsync(
      [
        { zoneId: 'Z1', changeId: 'C1' },
        { zoneId: 'Z2', changeId: 'C2' },
      ],
      deadline,
      options(getChange),
    );

    expect(polls.filter((id) => id === 'C1')).toHaveLength(3);
    expect(polls.filter((id) => id === 'C2')).toHaveLength(1);
    for (const [ms] of sleep.mock.calls) {
      expect(ms).toBeGreaterThanOrEqual(1);
      expect(ms).toBeLessThanOrEqual(4);
    }
  });

  it('waits for nothing when there is no change', async () => {
    const { getChange } = getChanges({});
    await waitAllInsync([], new Deadline(60_000, 0), options(getChange));
    expect(getChange).not.toHaveBeenCalled();
  });

  it('throws DeadlineError naming the change and its polls when it stays PENDING', async () => {
    const { getChange } = getChanges({ C1: Number.POSITIVE_INFINITY });

    const err = await waitAllInsync(
      [{ zoneId: 'Z1', changeId: 'C1' }],
      new Deadline(40, 0),
      options(getChange, 5),
    ).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as DeadlineError).message).toMatch(/^Route 53 change C1 \(zone Z1\) still PENDING after \d+ polls: /);
    expect((err as DeadlineError).cause).toBeInstanceOf(DeadlineError);
  });

  it('stops polling the other changes once one wait has failed', async () => {
    const { polls, getChange } = getChanges({ C1: Number.POSITIVE_INFINITY }, 'C2');

    const err = await waitAllInsync(
      [
        { zoneId: 'Z1', changeId: 'C1' },
        { zoneId: 'Z2', changeId: 'C2' },
      ],
      new Deadline(60_000, 0),
      options(getChange),
    ).catch((e: unknown) => e);
    const pollsAtFailure = polls.length;
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect((err as Error).message).toBe('GetChange C2 failed');
    expect(polls).toHaveLength(pollsAtFailure);
  });
});
