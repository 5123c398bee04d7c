/**
 * How the validator reports: every problem is collected (one `pulumi preview` shows them all),
 * each message starting with the key it is about, and thrown together as one StackConfigError.
 */

export class StackConfigError extends Error {
  override name = 'StackConfigError';
  /** `what`: what was invalid, e.g. `stack configuration` or `AcmeRotation arguments of "certs"`. */
  constructor(
    readonly problems: string[],
    what = 'stack configuration',
  ) {
    super(
      `invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

export const quote = (v: unknown): string => JSON.stringify(v);

export class Problems {
  readonly list: string[] = [];
  /** `prefix`: `<namespace>:` (stack config) or '' (component args). */
  constructor(private readonly prefix: string) {}
  key(key: string): string {
    return `${this.prefix}${key}`;
  }
  add(key: string, message: string): void {
    this.list.push(`${this.key(key)}: ${message}`);
  }
  addRaw(message: string): void {
    this.list.push(message);
  }
}
