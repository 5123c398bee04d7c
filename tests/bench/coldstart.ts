/**
 * Benchmark 3 — cold start. Size of dist/rotation/index.mjs and the time to import it in a fresh
 * process (median of N), each ÷ the same for a naive bundle built here with esbuild: one minified
 * file, every SDK client and acme-client imported eagerly, node-forge included.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

import { DEFAULT_BUNDLE_PATH } from '../local/stack.js';
import { log, median } from './util.js';
import { fmtMs, fmtRatio, type BenchResult } from './types.js';

const TARGET = 0.5;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

const NAIVE_ENTRY = `
import * as secretsManager from '@aws-sdk/client-secrets-manager';
import * as route53 from '@aws-sdk/client-route-53';
import * as sns from '@aws-sdk/client-sns';
import * as eventBridge from '@aws-sdk/client-eventbridge';
import acme from 'acme-client';
export { secretsManager, route53, sns, eventBridge, acme };
export const handler = async () => null;
`;

async function buildNaive(outdir: string): Promise<string> {
  const outfile = join(outdir, 'naive.mjs');
  await build({
    stdin: { contents: NAIVE_ENTRY, resolveDir: ROOT, sourcefile: 'naive-entry.mjs', loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    legalComments: 'none',
    // The same CommonJS shim the real build uses (acme-client and axios require() built-ins).
    banner: {
      js: "import { createRequire as __naiveCreateRequire } from 'node:module'; const require = __naiveCreateRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}

/** Milliseconds to import the given modules in a fresh `node` process (measured inside it). */
async function importMs(files: string[]): Promise<number> {
  const urls = JSON.stringify(files.map((f) => pathToFileURL(f).href));
  const script = `const t = performance.now(); for (const u of ${urls}) await import(u); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  return Number(stdout);
}

export async function benchColdStart(opts: { runs?: number } = {}): Promise<BenchResult> {
  const runs = opts.runs ?? 9;
  const started = performance.now();
  const result: BenchResult = {
    id: 3,
    title: 'Cold start (bundle size and import time ÷ a naive bundle)',
    figures: [],
    method: [
      `The naive bundle is built in the same run with esbuild (bundle, minify, ESM, node22, one file, no splitting, ` +
        `node-forge not stubbed) from an entry that imports all four SDK clients (Secrets Manager, Route 53, SNS, EventBridge) ` +
        `and acme-client eagerly. Import time = \`performance.now()\` around \`await import()\` inside a fresh \`node\` process ` +
        `(process start-up excluded, identical for both), median of ${runs}, runs alternating between the two bundles. ` +
        `The ratio is measured on what Lambda's init phase loads: index.mjs and its static chunks. ` +
        `"createSecret's lazy chunks" additionally imports the chunks the rotation loads on demand (ACME client, account), ` +
        `i.e. what the first createSecret of a cold container pays in total.`,
    ],
    details: [],
    seconds: 0,
  };
  const outdir = await mkdtemp(join(tmpdir(), 'acme-bench-naive-'));
  try {
    const naive = await buildNaive(outdir);
    const distDir = join(DEFAULT_BUNDLE_PATH, '..');
    const lazy = (await readdir(distDir))
      .filter((f) => /^(ca|account)-[A-Z0-9]+\.mjs$/.test(f))
      .map((f) => join(distDir, f));
    const ourSize = (await stat(DEFAULT_BUNDLE_PATH)).size;
    const naiveSize = (await stat(naive)).size;
    let allMjs = 0;
    for (const f of await readdir(distDir)) if (f.endsWith('.mjs')) allMjs += (await stat(join(distDir, f))).size;

    const ours: number[] = [];
    const oursFull: number[] = [];
    const theirs: number[] = [];
    await importMs([naive]); // warm the page cache for both
    await importMs([DEFAULT_BUNDLE_PATH, ...lazy]);
    for (let i = 0; i < runs; i++) {
      ours.push(await importMs([DEFAULT_BUNDLE_PATH]));
      theirs.push(await importMs([naive]));
      oursFull.push(await importMs([DEFAULT_BUNDLE_PATH, ...lazy]));
    }
    const sizeRatio = ourSize / naiveSize;
    const timeRatio = median(ours) / median(theirs);
    const fullRatio = median(oursFull) / median(theirs);
    log(`cold start: size ${ourSize}/${naiveSize} = ${fmtRatio(sizeRatio)}; import ${fmtRatio(timeRatio)}`);
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    result.figures.push(
      {
        label: 'index.mjs size',
        value: `${kib(ourSize)} vs ${kib(naiveSize)}`,
        ratio: sizeRatio,
        target: `≤ ${TARGET}`,
        pass: sizeRatio <= TARGET,
      },
      {
        label: 'import time (init)',
        value: `${fmtMs(median(ours))} vs ${fmtMs(median(theirs))}`,
        ratio: timeRatio,
        target: `≤ ${TARGET}`,
        pass: timeRatio <= TARGET,
      },
      {
        label: "import incl. createSecret's lazy chunks",
        value: `${fmtMs(median(oursFull))} vs ${fmtMs(median(theirs))}`,
        ratio: fullRatio,
      },
    );
    result.details.push(
      `| | size | import runs (ms) |`,
      `|---|---|---|`,
      `| dist/rotation/index.mjs | ${kib(ourSize)} (all .mjs chunks: ${kib(allMjs)}) | ${ours.map((t) => t.toFixed(0)).join(', ')} |`,
      `| index.mjs + ${lazy.map((f) => f.split('/').pop()).join(' + ')} | | ${oursFull.map((t) => t.toFixed(0)).join(', ')} |`,
      `| naive bundle | ${kib(naiveSize)} | ${theirs.map((t) => t.toFixed(0)).join(', ')} |`,
    );
  } finally {
    await rm(outdir, { recursive: true, force: true });
    result.seconds = (performance.now() - started) / 1000;
  }
  return result;
}
