/**
 * docs/CONSUMERS.md's recipes stay true to the product: every JSON and YAML block parses, the
 * bundle fields they name exist, the event they match is the one the rotation sends, the systemd
 * unit's command line is one acme-rotation-fetch accepts (writing where the nginx block reads),
 * its sandbox lets it write there and nowhere it does not need, its timer's Persistent= has an
 * OnCalendar= to work with, and the TypeScript snippet is valid syntax.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

import { DETAIL_TYPES } from '../../rotation/aws/notify.js';
import { parseArgs } from '../../rotation/fetch/args.js';
import { makeTestPki } from '../helpers/certs.js';

// js-yaml is already installed (a dependency of @pulumi/pulumi and eslint) and ships no types.
const yaml = createRequire(import.meta.url)('js-yaml') as { loadAll(text: string): unknown[] };

const DOC = readFileSync(fileURLToPath(new URL('../../docs/CONSUMERS.md', import.meta.url)), 'utf8');

/** The fenced code blocks of one language, in order. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  for (const m of DOC.matchAll(/^```([\w-]*)\n([\s\S]*?)^```$/gm)) {
    if (m[1] === lang) out.push(m[2] as string);
  }
  return out;
}

/** The bundle's field names, from a bundle the product builds. */
const BUNDLE_FIELDS = new Set(Object.keys(makeTestPki({ names: ['doc.example.com'] }).bundle));

type Json = Record<string, unknown>;
const jsonBlocks = (): Json[] => blocks('json').map((b) => JSON.parse(b) as Json);
const yamlDocs = (): Json[] => blocks('yaml').flatMap((b) => yaml.loadAll(b) as Json[]);

/** Splits a systemd ExecStart command line: words, and double-quoted strings as one word. */
function splitCommandLine(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
}

/** `[Section]` → its `Key=value` lines (comments and blank lines left out), in order. */
function iniEntries(text: string): { section: string; key: string; value: string }[] {
  const out: { section: string; key: string; value: string }[] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a Key=value line: ${line}`);
    out.push({ section, key: line.slice(0, eq), value: line.slice(eq + 1) });
  }
  return out;
}

/** The one ini block of the page holding `marker` ("[Service]", "[Timer]"). */
function unit(marker: string): string {
  const found = blocks('ini').filter((b) => b.includes(marker));
  expect(found, marker).toHaveLength(1);
  return found[0] as string;
}

const keys = (text: string, section: string): string[] =>
  iniEntries(text)
    .filter((e) => e.section === section)
    .map((e) => e.key);

/** The value of a key set exactly once in the section. */
function only(text: string, section: string, key: string): string {
  const values = iniEntries(text).filter((e) => e.section === section && e.key === key);
  expect(values, `${section} ${key}`).toHaveLength(1);
  return (values[0] as { value: string }).value;
}

/** Space-separated words of every line of a list-valued key. */
const words = (text: string, section: string, key: string): string[] =>
  iniEntries(text)
    .filter((e) => e.section === section && e.key === key)
    .flatMap((e) => e.value.split(/\s+/).filter((w) => w !== ''));

/** A systemd time span ("15min", "1h", "90s", "1h 30min") in seconds. */
function seconds(span: string): number {
  const UNITS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600, d: 86_400 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+)([a-z]*)$/.exec(part);
    const unitSeconds = m ? UNITS[m[2] || 's'] : undefined;
    if (!m || unitSeconds === undefined) throw new Error(`not a time span this test reads: ${span}`);
    total += Number(m[1]) * unitSeconds;
  }
  return total;
}

/** Periods of OnCalendar='s shorthands (systemd.time(7)). */
const CALENDAR_PERIODS: Record<string, number> = { minutely: 60, hourly: 3600, daily: 86_400, weekly: 604_800 };

/**
 * What systemd.timer(5) says makes a timer not do what it looks like: Persistent= "only has an
 * effect on timers configured with OnCalendar="; a random delay as long as the period runs into
 * the next one.
 */
function timerProblems(text: string): string[] {
  const entries = iniEntries(text).filter((e) => e.section === 'Timer');
  const get = (key: string): string | undefined => entries.find((e) => e.key === key)?.value;
  const problems: string[] = [];
  const calendar = get('OnCalendar');
  const persistent = get('Persistent');
  if (persistent !== undefined && /^(yes|true|on|1)$/.test(persistent) && calendar === undefined) {
    problems.push(`Persistent=${persistent} has no effect without OnCalendar=`);
  }
  const delay = get('RandomizedDelaySec');
  const period = calendar === undefined ? undefined : CALENDAR_PERIODS[calendar];
  if (delay !== undefined && period !== undefined && seconds(delay) >= period) {
    problems.push(`RandomizedDelaySec=${delay} is not shorter than the period of OnCalendar=${calendar}`);
  }
  return problems;
}

/**
 * Directives systemd documents for these sections (systemd.exec(5), systemd.service(5),
 * systemd.timer(5)), the ones a recipe like this uses: a misspelt one is ignored by systemd with a
 * warning, so a typo would silently drop a protection.
 */
const SERVICE_DIRECTIVES = [
  'Type',
  'Environment',
  'EnvironmentFile',
  'ExecStart',
  'User',
  'Group',
  'ProtectSystem',
  'ReadWritePaths',
  'ReadOnlyPaths',
  'NoNewPrivileges',
  'PrivateTmp',
  'ProtectHome',
  'PrivateDevices',
  'ProtectKernelTunables',
  'ProtectKernelModules',
  'ProtectKernelLogs',
  'ProtectControlGroups',
  'ProtectClock',
  'ProtectHostname',
  'RestrictAddressFamilies',
  'RestrictNamespaces',
  'RestrictRealtime',
  'RestrictSUIDSGID',
  'LockPersonality',
  'SystemCallArchitectures',
  'SystemCallFilter',
  'SystemCallErrorNumber',
  'CapabilityBoundingSet',
  'UMask',
  'TimeoutStartSec',
];
const TIMER_DIRECTIVES = ['OnCalendar', 'RandomizedDelaySec', 'Persistent', 'AccuracySec', 'FixedRandomDelay'];

describe('docs/CONSUMERS.md', () => {
  it('every JSON block parses, and there are the policy, the task definition and the event pattern', () => {
    const docs = jsonBlocks();
    expect(docs).toHaveLength(3);
    const [policy, task, pattern] = docs as [Json, Json, Json];
    expect(policy).toMatchObject({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue' }],
    });
    expect(task.executionRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    expect(pattern).toEqual({
      source: ['acme-rotation'],
      'detail-type': [DETAIL_TYPES.success],
      detail: { secret_name: ['certs/web'] },
    });
  });

  it('the ECS secrets name bundle fields with an empty stage and version (AWSCURRENT)', () => {
    const task = jsonBlocks()[1] as { containerDefinitions: { secrets: { name: string; valueFrom: string }[] }[] };
    const secrets = task.containerDefinitions[0]?.secrets ?? [];
    expect(secrets.map((s) => s.name)).toEqual(['TLS_FULLCHAIN', 'TLS_PRIVATE_KEY']);
    const keys = secrets.map((s) => {
      const m = /^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}:([a-z_]+)::$/.exec(
        s.valueFrom,
      );
      expect(m, s.valueFrom).not.toBeNull();
      return m?.[1] as string;
    });
    expect(keys).toEqual(['fullchain', 'private_key']);
    for (const key of keys) expect(BUNDLE_FIELDS.has(key), key).toBe(true);
  });

  it('every YAML document parses; the ExternalSecret makes a kubernetes.io/tls Secret from fullchain and private_key', () => {
    const docs = yamlDocs();
    expect(docs.map((d) => d.kind)).toEqual(['SecretStore', 'ExternalSecret', 'Ingress']);
    const [store, external, ingress] = docs as [Json, Json, Json];
    expect(store).toMatchObject({
      apiVersion: 'external-secrets.io/v1',
      spec: { provider: { aws: { service: 'SecretsManager' } } },
    });

    const spec = external.spec as {
      secretStoreRef: { kind: string; name: string };
      target: { name: string; template: { type: string; data: Record<string, string> } };
      data: { secretKey: string; remoteRef: { key: string; property: string } }[];
    };
    expect(external.apiVersion).toBe('external-secrets.io/v1');
    expect(spec.secretStoreRef).toEqual({ kind: 'SecretStore', name: (store.metadata as Json).name });
    expect(spec.target.template.type).toBe('kubernetes.io/tls');
    expect(spec.target.template.data).toEqual({ 'tls.crt': '{{ .fullchain }}', 'tls.key': '{{ .private_key }}' });
    // Each template variable is a fetched secretKey, and each fetched property a bundle field.
    expect(spec.data.map((d) => d.secretKey).sort()).toEqual(['fullchain', 'private_key']);
    for (const d of spec.data) {
      expect(d.remoteRef.key).toBe('certs/web');
      expect(d.remoteRef.property).toBe(d.secretKey);
      expect(BUNDLE_FIELDS.has(d.remoteRef.property)).toBe(true);
    }
    expect((ingress.spec as { tls: { secretName: string }[] }).tls[0]?.secretName).toBe(spec.target.name);
  });

  it("the systemd unit's ExecStart is a command line acme-rotation-fetch accepts, writing where nginx reads", () => {
    const [program, ...args] = splitCommandLine(only(unit('[Service]'), 'Service', 'ExecStart'));
    expect(program).toBe('/usr/local/bin/acme-rotation-fetch');
    const parsed = parseArgs(args, '/');
    expect(parsed).toMatchObject({
      kind: 'run',
      options: {
        secretId: 'certs/web',
        fullchainPath: '/etc/ssl/acme/web/fullchain.pem',
        keyPath: '/etc/ssl/acme/web/privkey.pem',
        reload: 'nginx -t && systemctl reload nginx',
      },
    });
    const nginx = blocks('nginx')[0] as string;
    expect(nginx).toContain('ssl_certificate     /etc/ssl/acme/web/fullchain.pem;');
    expect(nginx).toContain('ssl_certificate_key /etc/ssl/acme/web/privkey.pem;');
  });

  it('the service is sandboxed, and the sandbox lets the command write every file it writes', () => {
    const service = unit('[Service]');
    for (const key of keys(service, 'Service')) expect(SERVICE_DIRECTIVES, `[Service] ${key}`).toContain(key);
    const parsed = parseArgs(splitCommandLine(only(service, 'Service', 'ExecStart')).slice(1), '/');
    if (parsed.kind !== 'run') throw new Error('ExecStart does not run the command');
    const { fullchainPath, keyPath, certPath, chainPath } = parsed.options;

    expect(only(service, 'Service', 'ProtectSystem')).toBe('strict');
    // Each path may carry "-" (ignored when missing); the command writes temporary files beside its targets.
    const writable = words(service, 'Service', 'ReadWritePaths').map((p) => p.replace(/^-/, ''));
    for (const target of [fullchainPath, keyPath, certPath, chainPath]) {
      if (target === undefined) continue;
      const dir = dirname(target);
      expect(
        writable.some((w) => dir === w || dir.startsWith(`${w}/`)),
        `${dir} writable`,
      ).toBe(true);
    }
    expect(writable).toContain('/var/log/nginx'); // "nginx -t" in the reload opens its logs
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['PrivateTmp', 'yes'],
      ['ProtectHome', 'yes'],
      ['RestrictSUIDSGID', 'yes'],
      ['SystemCallErrorNumber', 'EPERM'], // a call outside the filter fails, it does not kill the run
    ] as const) {
      expect(only(service, 'Service', key), key).toBe(value);
    }
    // HTTPS to Secrets Manager, and systemctl's socket for the reload.
    expect(words(service, 'Service', 'RestrictAddressFamilies')).toEqual(
      expect.arrayContaining(['AF_INET', 'AF_INET6', 'AF_UNIX']),
    );
    // Keeping a replaced file's owner and group takes chown.
    expect(words(service, 'Service', 'CapabilityBoundingSet')).toContain('CAP_CHOWN');
    // Node's V8 compiles code at run time: systemd.exec(5) says MemoryDenyWriteExecute= breaks JIT engines.
    expect(keys(service, 'Service')).not.toContain('MemoryDenyWriteExecute');
  });

  it('the timer runs hourly by the calendar, so Persistent= catches up a run missed while the host was off', () => {
    const timer = unit('[Timer]');
    for (const key of keys(timer, 'Timer')) expect(TIMER_DIRECTIVES, `[Timer] ${key}`).toContain(key);
    expect(timerProblems(timer)).toEqual([]);
    expect(only(timer, 'Timer', 'OnCalendar')).toBe('hourly');
    expect(only(timer, 'Timer', 'Persistent')).toBe('true');
    expect(seconds(only(timer, 'Timer', 'RandomizedDelaySec'))).toBeGreaterThan(0);
    expect(only(timer, 'Install', 'WantedBy')).toBe('timers.target');
  });

  it('the timer rules bite: Persistent= without OnCalendar= and a delay as long as the period are refused', () => {
    const monotonic = '[Timer]\nOnBootSec=2min\nOnUnitActiveSec=1h\nRandomizedDelaySec=10min\nPersistent=true\n';
    expect(timerProblems(monotonic)).toEqual(['Persistent=true has no effect without OnCalendar=']);
    expect(timerProblems('[Timer]\nOnCalendar=hourly\nRandomizedDelaySec=1h\nPersistent=yes\n')).toEqual([
      'RandomizedDelaySec=1h is not shorter than the period of OnCalendar=hourly',
    ]);
    expect(timerProblems('[Timer]\nOnCalendar=hourly\n')).toEqual([]);
  });

  it('the Lambda extension snippet is valid TypeScript using the documented endpoint and header', () => {
    const snippet = blocks('ts')[0] as string;
    const out = ts.transpileModule(snippet, {
      reportDiagnostics: true,
      compilerOptions: { target: ts.ScriptTarget.ES2022 },
    });
    expect(out.diagnostics ?? []).toEqual([]);
    expect(snippet).toContain("process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? '2773'");
    expect(snippet).toContain('/secretsmanager/get?secretId=${encodeURIComponent(secretId)}');
    expect(snippet).toContain("'X-Aws-Parameters-Secrets-Token': process.env.AWS_SESSION_TOKEN");
    for (const field of ['fullchain', 'private_key', 'serial', 'expiry']) expect(BUNDLE_FIELDS.has(field)).toBe(true);
  });

  it('the README links it from the consumers section', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const section = readme.split('## Reading the certificate (consumers)')[1]?.split('\n## ')[0] ?? '';
    expect(section).toContain('[docs/CONSUMERS.md](docs/CONSUMERS.md)');
  });
});
