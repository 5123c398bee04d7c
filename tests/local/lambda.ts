/**
 * A local Lambda runtime: one warm container (a `node lambda-child.mjs` child process) that imports
 * the bundle once and serves invocations over IPC, one at a time, like a warm Lambda sandbox.
 *
 * - The container's environment is PATH, HOME, AWS_LAMBDA_FUNCTION_NAME plus `opts.env` only, so
 *   NODE_EXTRA_CA_CERTS, AWS_* and the function's settings are the caller's (NODE_EXTRA_CA_CERTS is
 *   read at process start, hence a process rather than an in-process import).
 * - `timeoutMs` is the function timeout: an invocation running longer is killed (`timedOut`).
 * - `kill()` simulates the sandbox dying mid-invocation (SIGKILL): the pending invoke resolves
 *   with `crashed: true`. After a crash, kill or timeout the next invoke cold-starts a new container.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type InvokeResult =
  | { ok: true; result: unknown; durationMs: number }
  | {
      ok: false;
      error: { name: string; message: string; stack?: string };
      crashed?: boolean;
      timedOut?: boolean;
      durationMs: number;
    };

export interface LocalLambdaOptions {
  /** Path of the ES module exporting `handler(event, context)`, e.g. dist/rotation/index.mjs. */
  bundlePath: string;
  /** The function's environment (added to a minimal PATH/HOME environment). */
  env: Record<string, string>;
  /** Function timeout per invocation; default 900 000 ms (Lambda's maximum). */
  timeoutMs?: number;
  /** Bound on importing the bundle in a cold container; default 10 000 ms (Lambda's init limit). */
  initTimeoutMs?: number;
  functionName?: string;
  /** The function's ARN (context.invokedFunctionArn); default built from AWS_REGION and functionName. */
  functionArn?: string;
  /** Called with every log line as it arrives (e.g. to echo the function's logs). */
  onLog?: (line: string) => void;
}

const CHILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'lambda-child.mjs');

type ChildMessage =
  | { type: 'ready' }
  | { type: 'initError'; error: { name: string; message: string; stack?: string } }
  | { type: 'result'; id: string; ok: true; result: unknown }
  | { type: 'result'; id: string; ok: false; error: { name: string; message: string; stack?: string } };

type Exit = { code: number | null; signal: NodeJS.Signals | null };

interface Container {
  proc: ChildProcess;
  /** Set once the process has exited. */
  exit?: Exit;
  closed: Promise<Exit>;
  /** Resolves when the bundle is imported (or fails to be). */
  ready: Promise<
    { ok: true } | { ok: false; error: { name: string; message: string; stack?: string } } | { exited: Exit }
  >;
  pending?: { id: string; resolve: (msg: ChildMessage & { type: 'result' }) => void };
}

/** Containers still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(proc: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

function closedPromise(proc: ChildProcess): Promise<Exit> {
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const pipes = Promise.all(
    [proc.stdout, proc.stderr].map((s) => (s && !s.closed ? new Promise((r) => s.once('close', r)) : undefined)),
  );
  return exited.then((exit) =>
    Promise.race([pipes, new Promise((r) => setTimeout(r, 1_000).unref())]).then(() => exit),
  );
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

function exitText(exit: Exit): string {
  return exit.signal ? `signal: ${exit.signal === 'SIGKILL' ? 'killed' : exit.signal}` : `exit status ${exit.code}`;
}

export class LocalLambda {
  readonly logs: string[] = [];
  coldStarts = 0;
  readonly functionName: string;
  readonly functionArn: string;
  private readonly opts: LocalLambdaOptions;
  private readonly timeoutMs: number;
  private container: Container | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(opts: LocalLambdaOptions) {
    this.opts = opts;
    this.timeoutMs = opts.timeoutMs ?? 900_000;
    this.functionName = opts.functionName ?? 'acme-rotation';
    const region = opts.env.AWS_REGION ?? 'us-east-1';
    this.functionArn = opts.functionArn ?? `arn:aws:lambda:${region}:123456789012:function:${this.functionName}`;
  }

  /** The current container's process id, if one is running. */
  get pid(): number | undefined {
    const c = this.container;
    return c && !c.exit ? c.proc.pid : undefined;
  }

  /** Invokes the function; concurrent calls are served one after another. */
  invoke(event: object): Promise<InvokeResult> {
    const run = this.queue.then(() => this.invokeNow(event));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Kills the running container with SIGKILL (a sandbox dying mid-invocation). */
  kill(): void {
    const c = this.container;
    if (c && !c.exit) c.proc.kill('SIGKILL');
  }

  /** Shuts the container down and waits for it to exit. Further invokes are refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.container;
    if (!c) return;
    if (!c.exit) {
      if (c.proc.connected) c.proc.disconnect(); // the child exits on disconnect
      const killer = setTimeout(() => c.proc.kill('SIGKILL'), 2_000);
      await c.closed;
      clearTimeout(killer);
    }
    await c.closed;
  }

  private log(line: string): void {
    this.logs.push(line);
    this.opts.onLog?.(line);
  }

  private spawnContainer(): Container {
    this.coldStarts++;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      AWS_LAMBDA_FUNCTION_NAME: this.functionName,
      ...this.opts.env,
    };
    const proc = fork(CHILD_SCRIPT, [this.opts.bundlePath], {
      env,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    track(proc);
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (l) => this.log(l));
    }
    const container: Container = {
      proc,
      // Not the 'close' event: it never fires after the parent disconnect()s the IPC channel
      // (Node 20 counts the channel but not its closing). Exit plus both pipes drained instead.
      // A grandchild holding the pipes open must not block: wait for them at most 1 s after exit.
      closed: closedPromise(proc),
      ready: Promise.resolve({ ok: true }),
    };
    container.ready = new Promise((resolve) => {
      proc.on('message', (raw: unknown) => {
        const msg = raw as ChildMessage;
        if (msg.type === 'ready') resolve({ ok: true });
        else if (msg.type === 'initError') resolve({ ok: false, error: msg.error });
        else if (msg.type === 'result' && container.pending?.id === msg.id) {
          const pending = container.pending;
          container.pending = undefined;
          pending.resolve(msg);
        }
      });
      proc.once('exit', (code, signal) => {
        container.exit = { code, signal };
        resolve({ exited: container.exit });
      });
      proc.once('error', (err) => {
        this.log(`lambda container error: ${err.message}`);
        proc.kill('SIGKILL');
      });
    });
    return container;
  }

  /** Kills a container (if still alive) and forgets it, so the next invoke is a cold start. */
  private async discard(c: Container): Promise<Exit> {
    if (this.container === c) this.container = undefined;
    if (!c.exit) c.proc.kill('SIGKILL');
    return c.closed;
  }

  private async invokeNow(event: object): Promise<InvokeResult> {
    if (this.stopped) throw new Error(`LocalLambda ${this.functionName} is stopped`);
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    const awsRequestId = randomUUID();

    if (this.container?.exit) this.container = undefined;
    const c = (this.container ??= this.spawnContainer());

    // Init phase (cold start only; a warm container's ready promise is already settled).
    const initTimeoutMs = this.opts.initTimeoutMs ?? 10_000;
    let initTimer: NodeJS.Timeout | undefined;
    const init = await Promise.race([
      c.ready,
      new Promise<'timeout'>((r) => {
        initTimer = setTimeout(() => r('timeout'), initTimeoutMs);
      }),
    ]);
    clearTimeout(initTimer);
    if (init === 'timeout') {
      await this.discard(c);
      return {
        ok: false,
        error: { name: 'Runtime.InitTimeout', message: `Init phase timed out after ${initTimeoutMs} ms` },
        timedOut: true,
        durationMs: elapsed(),
      };
    }
    if ('exited' in init) {
      await this.discard(c);
      await nextTurn();
      return {
        ok: false,
        error: {
          name: 'Runtime.ExitError',
          message: `RequestId: ${awsRequestId} Error: Runtime exited with error: ${exitText(init.exited)}`,
        },
        crashed: true,
        durationMs: elapsed(),
      };
    }
    if (!init.ok) {
      await this.discard(c);
      return { ok: false, error: init.error, durationMs: elapsed() };
    }

    // Invoke phase.
    const id = randomUUID();
    const deadline = Date.now() + this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await new Promise<
      { kind: 'result'; msg: ChildMessage & { type: 'result' } } | { kind: 'exit'; exit: Exit } | { kind: 'timeout' }
    >((resolve) => {
      c.pending = { id, resolve: (msg) => resolve({ kind: 'result', msg }) };
      void c.closed.then((exit) => resolve({ kind: 'exit', exit }));
      timer = setTimeout(() => resolve({ kind: 'timeout' }), this.timeoutMs);
      try {
        c.proc.send({
          type: 'invoke',
          id,
          event,
          deadline,
          awsRequestId,
          functionName: this.functionName,
          functionArn: this.functionArn,
        });
      } catch (err) {
        // The container died between init and now: treated like an exit.
        this.log(`lambda container send failed: ${(err as Error).message}`);
        c.proc.kill('SIGKILL');
      }
    });
    clearTimeout(timer);
    c.pending = undefined;

    if (outcome.kind === 'result') {
      // Let log lines written just before the result be read first.
      await nextTurn();
      await nextTurn();
      const { msg } = outcome;
      return msg.ok
        ? { ok: true, result: msg.result, durationMs: elapsed() }
        : { ok: false, error: msg.error, durationMs: elapsed() };
    }
    if (outcome.kind === 'timeout') {
      await this.discard(c);
      const seconds = (this.timeoutMs / 1000).toFixed(2);
      this.log(`${new Date().toISOString()} ${awsRequestId} Task timed out after ${seconds} seconds`);
      return {
        ok: false,
        error: {
          name: 'Sandbox.Timedout',
          message: `RequestId: ${awsRequestId} Error: Task timed out after ${seconds} seconds`,
        },
        timedOut: true,
        durationMs: elapsed(),
      };
    }
    await this.discard(c);
    return {
      ok: false,
      error: {
        name: 'Runtime.ExitError',
        message: `RequestId: ${awsRequestId} Error: Runtime exited with error: ${exitText(outcome.exit)}`,
      },
      crashed: true,
      durationMs: elapsed(),
    };
  }
}
