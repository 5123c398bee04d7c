// Builds the two Lambda bundles (ESM, minified, source maps) for nodejs22.x:
// dist/rotation/index.mjs (the rotation function) and dist/watch/index.mjs (the renewal watch),
// and the command hosts run themselves, dist/fetch/index.mjs (`acme-rotation-fetch`, package.json bin).
import { build } from 'esbuild';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';

/** Each bundle's VERSION: the package version it was built for (the Pulumi component checks it). */
const { version } = JSON.parse(await readFile('package.json', 'utf8'));

/** acme-client requires node-forge for legacy helpers we never call; ship a stub instead (~865 KiB). */
const dropNodeForge = {
  name: 'drop-node-forge',
  setup(b) {
    b.onResolve({ filter: /^node-forge$/ }, () => ({ path: 'node-forge', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      // Property reads at load time (e.g. promisify(forge.pki.rsa.generateKeyPair)) must work;
      // only a call throws.
      contents: `
const fail = () => { throw new Error('node-forge is not bundled in acme-rotation'); };
const make = () => new Proxy(function forgeStub() {}, {
  get: (_t, k) => (typeof k === 'symbol' || k === '__esModule' ? undefined : make()),
  apply: fail,
  construct: fail,
});
module.exports = make();
`,
      loader: 'js',
    }));
  },
};

/**
 * One bundle: `entry` → `<outdir>/index.mjs` plus its lazily loaded chunks. `executable`: a
 * command run from a shell (a `#!/usr/bin/env node` line first, mode 0755).
 */
async function bundle(entry, outdir, { executable = false } = {}) {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    metafile: true,
    plugins: [dropNodeForge],
    // CommonJS dependencies (acme-client, axios) call require() for Node built-ins.
    banner: {
      js:
        (executable ? '#!/usr/bin/env node\n' : '') +
        "import { createRequire as __acmeRotationCreateRequire } from 'node:module'; const require = __acmeRotationCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  if (executable) await chmod(`${outdir}/index.mjs`, 0o755);
  await writeFile(`${outdir}/VERSION`, `${version}\n`);
  const size = (await stat(`${outdir}/index.mjs`)).size;
  const total = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(
    `built ${outdir}/index.mjs (${(size / 1024).toFixed(0)} KiB; ${(total / 1024).toFixed(0)} KiB with chunks and maps)`,
  );
}

await bundle('rotation/function/index.ts', 'dist/rotation');
await bundle('rotation/watch/index.ts', 'dist/watch');
await bundle('rotation/fetch/index.ts', 'dist/fetch', { executable: true });
