/**
 * `npm run bench`: the benchmarks in one run on the local stack, each figure a
 * ratio measured in the same run. Prints a table and writes docs/PERFORMANCE.md.
 *
 *   tsx tests/bench/run.ts [--only 1,3] [--no-write] [--details]
 *   npm run bench -- throughput        (benchmarks by name: latency overhead coldstart memory calls throughput fleet watch)
 *   BENCH_CONTAINERS=50 — LocalLambda containers in benchmark 6 (default 100)
 *   BENCH_DIAG_DIR=/tmp/x — benchmark 6 writes Pebble's log, the functions' logs and load samples there
 * A partial run prints its table but does not rewrite docs/PERFORMANCE.md.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

import { ensurePebble } from '../local/ensure-pebble.js';
import { DEFAULT_BUNDLE_PATH } from '../local/stack.js';
import { ANALYSIS } from './analysis.js';
import { benchCalls } from './calls.js';
import { benchColdStart } from './coldstart.js';
import { benchLatency } from './latency.js';
import { benchMemory } from './memory.js';
import { benchOverhead } from './overhead.js';
import { benchFleet, benchWatchBadDay } from './fleet.js';
import { benchThroughput } from './throughput.js';
import { fmtRatio, type BenchResult } from './types.js';
import { log, RUN_ID } from './util.js';

const DOC = fileURLToPath(new URL('../../docs/PERFORMANCE.md', import.meta.url));

const BENCHES: { id: number; name: string; title: string; run: () => Promise<BenchResult> }[] = [
  { id: 1, name: 'latency', title: 'Propagation-bound latency', run: () => benchLatency() },
  { id: 2, name: 'overhead', title: 'Overhead over the bare protocol', run: () => benchOverhead() },
  { id: 3, name: 'coldstart', title: 'Cold start', run: () => benchColdStart() },
  { id: 4, name: 'memory', title: 'Memory', run: () => benchMemory() },
  { id: 5, name: 'calls', title: 'Calls per rotation', run: () => benchCalls() },
  {
    id: 6,
    name: 'throughput',
    title: 'Throughput under throttling',
    run: () => benchThroughput({ containers: Number(process.env.BENCH_CONTAINERS) || 100 }),
  },
  { id: 7, name: 'fleet', title: 'Fleet renewal by the watch', run: () => benchFleet() },
  { id: 8, name: 'watch', title: "The watch's bad day", run: () => benchWatchBadDay() },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const verdict = (pass: boolean | undefined) => (pass === undefined ? '' : pass ? 'pass' : 'MISS');

function printTable(results: BenchResult[]): void {
  const rows: string[][] = [['#', 'figure', 'measured', 'ratio', 'target', '']];
  for (const r of results) {
    if (r.error)
      rows.push([String(r.id), `${r.title}: NOT MEASURED`, r.error.split('\n')[0]!.slice(0, 80), '', '', '']);
    for (const f of r.figures) {
      rows.push([String(r.id), f.label, f.value, fmtRatio(f.ratio), f.target ?? '', verdict(f.pass)]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function markdown(results: BenchResult[], totalSeconds: number): string {
  const out: string[] = [];
  out.push(
    '# Performance',
    '',
    '<!-- Written by `npm run bench` (tests/bench/run.ts); figures are from the run below. Edit tests/bench/analysis.ts, not this file. -->',
    '',
    `Benchmarks, measured on the local stack (Pebble, the local AWS endpoint, the built bundle in ` +
      `LocalLambda containers). Every figure is a ratio of two quantities measured in the same run, so a slow or ` +
      `noisy machine moves both sides. Run \`npm run bench\` (not part of \`npm test\`).`,
    '',
    `Last run: ${new Date().toISOString()} (run id \`${RUN_ID}\`), Node ${process.version}, ${cpus().length} CPU(s), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${totalSeconds.toFixed(0)} s in total.`,
    '',
    '## Summary',
    '',
    '| # | figure | measured | ratio | target | result |',
    '|---|---|---|---|---|---|',
  );
  for (const r of results) {
    if (r.error)
      out.push(`| ${r.id} | ${r.title} | not measured: ${r.error.split('\n')[0]!.replace(/\|/g, '/')} | | | error |`);
    for (const f of r.figures) {
      out.push(
        `| ${r.id} | ${f.label} | ${f.value} | ${fmtRatio(f.ratio)} | ${f.target ?? ''} | ${f.pass === undefined ? 'info' : f.pass ? 'pass' : '**miss**'} |`,
      );
    }
  }
  out.push('');
  for (const r of results) {
    out.push(`## ${r.id}. ${r.title}`, '');
    out.push('**Method.**', '', ...r.method.flatMap((p) => [p, '']));
    if (r.error) out.push(`**Not measured in this run:** \`${r.error.split('\n')[0]}\``, '');
    if (r.details.length) out.push(`**Figures** (${r.seconds.toFixed(0)} s):`, '', ...r.details, '');
    const missed = r.figures.some((f) => f.pass === false) || r.error !== undefined;
    const a = ANALYSIS[r.id];
    if (a) {
      if (a.always) out.push(a.always, '');
      if (missed && a.miss) out.push('**Why it misses, and what would fix it.**', '', a.miss, '');
      if (!missed && a.pass) out.push(a.pass, '');
    }
  }
  const extra = ANALYSIS[0];
  if (extra?.always) out.push(extra.always, '');
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

async function main(): Promise<void> {
  ensurePebble();
  if (!existsSync(DEFAULT_BUNDLE_PATH))
    throw new Error(`${DEFAULT_BUNDLE_PATH} is missing: run \`npm run build\` first.`);
  // Benchmarks by id (--only 1,6) or by name (positional: `npm run bench -- throughput calls`).
  const byName = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--only');
  for (const name of byName) {
    if (!BENCHES.some((b) => b.name === name))
      throw new Error(`unknown benchmark "${name}" (known: ${BENCHES.map((b) => b.name).join(', ')})`);
  }
  const ids = [
    ...(arg('--only')
      ?.split(',')
      .map((s) => Number(s.trim())) ?? []),
    ...BENCHES.filter((b) => byName.includes(b.name)).map((b) => b.id),
  ];
  const only = ids.length > 0 ? ids : undefined;
  const started = performance.now();
  const results: BenchResult[] = [];
  for (const b of BENCHES) {
    if (only && !only.includes(b.id)) continue;
    log(`benchmark ${b.id}: ${b.title}`);
    const t = performance.now();
    try {
      results.push(await b.run());
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`benchmark ${b.id} failed: ${message}`);
      results.push({
        id: b.id,
        title: b.title,
        figures: [],
        method: [],
        details: [],
        error: message,
        seconds: (performance.now() - t) / 1000,
      });
    }
    log(`benchmark ${b.id} took ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  console.log('');
  printTable(results);
  // --details: each benchmark's figures and breakdowns, as the document would show them.
  if (process.argv.includes('--details')) for (const r of results) console.log(`\n${r.details.join('\n')}`);
  console.log(`\n${totalSeconds.toFixed(0)} s in total`);
  if (!process.argv.includes('--no-write') && !only) {
    // The document is generated: format it as the repository's prettier config would.
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(DOC)) ?? {};
    await writeFile(DOC, await prettier.format(markdown(results, totalSeconds), { ...options, parser: 'markdown' }));
    console.log(`wrote ${DOC}`);
  }
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();
