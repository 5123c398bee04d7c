/**
 * Structured JSON logs: one JSON object per line on stdout (Lambda ships it to CloudWatch).
 * Context (secret, step, token) is bound once per invocation; `time()` records phase timings.
 * Anything that looks like PEM private key material is redacted before it is written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const PRIVATE_KEY_RE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

/** Replace any PEM private key in a string with a marker. */
export function redact(text: string): string {
  return text.replace(PRIVATE_KEY_RE, '[REDACTED PRIVATE KEY]');
}

/**
 * Redact every string inside a value (objects, arrays, errors' messages), so the JSON built from
 * it stays valid even when a key is truncated (no END line to stop the match at).
 */
export function redactDeep(value: unknown, path = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactDeep(toJSON.call(value), path); // Dates → ISO strings
  if (path.has(value)) return '[Circular]';
  path.add(value); // only the objects on the current path: a repeated (non-circular) object is kept
  try {
    if (Array.isArray(value)) return value.map((v) => redactDeep(v, path));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, path);
    return out;
  } finally {
    path.delete(value);
  }
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** Run `fn`, then log `phase` with its duration in ms (also on failure). */
  time<T>(phase: string, fn: () => Promise<T>, fields?: LogFields): Promise<T>;
}

export type LogSink = (line: string) => void;

function serialiseError(err: unknown): unknown {
  if (err instanceof Error) {
    const out: Record<string, unknown> = { name: err.name, message: err.message };
    const code = (err as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (err.cause !== undefined) out.cause = serialiseError(err.cause);
    return out;
  }
  return err;
}

export function createLogger(base: LogFields = {}, options: { level?: LogLevel; sink?: LogSink } = {}): Logger {
  const envLevel = (process.env.LOG_LEVEL ?? '').toLowerCase() as LogLevel;
  const level: LogLevel = options.level ?? (envLevel in LEVELS ? envLevel : 'info');
  const sink: LogSink = options.sink ?? ((line) => process.stdout.write(line + '\n'));

  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < LEVELS[level]) return;
    const entry: LogFields = { timestamp: new Date().toISOString(), level: lvl, message: msg, ...base };
    if (fields) {
      for (const [k, v] of Object.entries(fields))
        entry[k] = k === 'error' || v instanceof Error ? serialiseError(v) : v;
    }
    sink(JSON.stringify(redactDeep(entry)));
  };

  const logger: Logger = {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { level, sink }),
    async time(phase, fn, fields) {
      const start = performance.now();
      try {
        const result = await fn();
        write('info', `${phase} done`, { phase, durationMs: Math.round(performance.now() - start), ...fields });
        return result;
      } catch (err) {
        write('warn', `${phase} failed`, {
          phase,
          durationMs: Math.round(performance.now() - start),
          ...fields,
          error: err,
        });
        throw err;
      }
    },
  };
  return logger;
}
