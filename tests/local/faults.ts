/**
 * The injected faults of a local server (AWS endpoint, DNS responder, CA proxy): the first
 * fault that matches and has hits left wins, and each hit uses one (`times`, default 1;
 * Infinity for always).
 */
export class FaultList<F extends { times?: number }> {
  private active: { fault: F; remaining: number }[] = [];

  /** Arms a fault; returns a function removing it. */
  add(fault: F): () => void {
    const entry = { fault, remaining: fault.times ?? 1 };
    this.active.push(entry);
    return () => {
      this.active = this.active.filter((a) => a !== entry);
    };
  }

  clear(): void {
    this.active = [];
  }

  /** The first fault with hits left that `matches`, its hit counted; undefined when none. */
  take(matches: (fault: F) => boolean): F | undefined {
    const entry = this.active.find((a) => a.remaining > 0 && matches(a.fault));
    if (!entry) return undefined;
    entry.remaining--;
    return entry.fault;
  }
}
