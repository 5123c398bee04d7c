/**
 * Entry point of `acme-rotation-fetch` (dist/fetch/index.mjs, the package's bin). Wiring only:
 * see main.ts for what it does and args.ts for its options.
 */
import { main } from './main.js';

// `acme-rotation-fetch --help | head`: a reader that stops early is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

main({
  argv: process.argv.slice(2),
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`acme-rotation-fetch: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
