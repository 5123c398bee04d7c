// Compiles the Pulumi library consumers import (`import { AcmeRotation } from 'acme-rotation'`):
// dist/pulumi/index.js (ES module), dist/pulumi/index.cjs (CommonJS, for programs run by ts-node)
// and the type declarations (dist/pulumi/index.d.ts over dist/pulumi/types/). @pulumi/* are the
// consumer's (peer dependencies), never bundled; the rotation's pure helpers the validator shares
// are. No source maps: the library is readable as built (not minified).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';

const out = 'dist/pulumi';
await rm(out, { recursive: true, force: true });

const common = {
  entryPoints: ['infra/lib.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['@pulumi/*', '@aws-sdk/*'],
  logLevel: 'warning',
};
await build({ ...common, format: 'esm', outfile: `${out}/index.js` });
// CommonJS has no import.meta: the component locates the bundles from its own file's URL.
await build({
  ...common,
  format: 'cjs',
  outfile: `${out}/index.cjs`,
  define: { 'import.meta.url': '__acmeRotationModuleUrl' },
  banner: { js: "const __acmeRotationModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.lib.json'], { stdio: 'inherit' });
await mkdir(out, { recursive: true });
const types = "export * from './types/infra/lib.js';\n";
await writeFile(`${out}/index.d.ts`, types);
await writeFile(`${out}/index.d.cts`, types);
console.log(`built ${out}/index.js, index.cjs and the type declarations`);
