/**
 * docs/CONSUMERS.md's recipes stay true to the product: every JSON and YAML block parses, the
 * bundle fields they name exist, the event they match is the one the rotation sends, the systemd
 * unit's command line is one acme-rotation-fetch accepts (writing where the nginx block reads),
 * and the TypeScript snippet is valid syntax.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
    const service = blocks('ini').find((b) => b.includes('[Service]')) as string;
    const execStart = /^ExecStart=(.+)$/m.exec(service)?.[1] as string;
    const [program, ...args] = splitCommandLine(execStart);
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
    const timer = blocks('ini').find((b) => b.includes('[Timer]')) as string;
    expect(timer).toMatch(/^OnUnitActiveSec=1h$/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
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
