/**
 * The import-direction rules of eslint.config.js bite: a reversed import, linted as a file at the
 * place it would live, fails `npm run lint`; the same import where it belongs passes. Run through
 * ESLint's own API with the project's configuration.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

/** The no-restricted-imports messages for `source` linted as the file `filePath`. */
async function restricted(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = x;\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('imports run one way', () => {
  it.each([
    ['rotation/acme/reversed.ts', "import { x } from '../../infra/validate.js';", /rotation\/ must not import infra\//],
    [
      'rotation/function/steps/reversed.ts',
      "import { x } from '../../../tests/unit/fakes.js';",
      /rotation\/ must not import infra\/ or tests\//,
    ],
    [
      'rotation/acm/reversed.ts',
      "import { x } from '../watch/run.js';",
      /the watch program \(rotation\/watch\/\) is imported only by itself/,
    ],
    [
      'rotation/reversed.ts',
      "import { x } from './fetch/main.js';",
      /the fetch program \(rotation\/fetch\/\) is imported only by itself/,
    ],
    ['rotation/watch/reversed.ts', "import { x } from '../fetch/writer.js';", /the fetch program/],
    ['rotation/watch/reversed.ts', "import { x } from '../function/handler.js';", /the function program/],
    ['rotation/acme/reversed.ts', "import { x } from '../function/steps/context.js';", /the function program/],
    // The library's layers: a folder importing one above it (or beside it) fails.
    [
      'rotation/lib/reversed.ts',
      "import { x } from '../certificate/rules.js';",
      /rotation\/lib\/ must not import rotation\/certificate\//,
    ],
    [
      'rotation/certificate/reversed.ts',
      "import { x } from '../dns01/names.js';",
      /rotation\/certificate\/ must not import rotation\/dns01\//,
    ],
    [
      'rotation/dns01/reversed.ts',
      "import { x } from '../route53/adapter.js';",
      /rotation\/dns01\/ must not import rotation\/route53\//,
    ],
    [
      'rotation/aws/reversed.ts',
      "import { x } from '../acm/deliver.js';",
      /rotation\/aws\/ must not import rotation\/acm\//,
    ],
    [
      'rotation/acme/reversed.ts',
      "import { x } from '../config/config.js';",
      /rotation\/acme\/ must not import rotation\/config\//,
    ],
    [
      'rotation/acm/reversed.ts',
      "import { x } from '../acme/ari.js';",
      /rotation\/acm\/ must not import rotation\/acme\//,
    ],
    ['rotation/fetch/reversed.ts', "import { x } from '../watch/plan.js';", /the watch program/],
    ['infra/reversed.ts', "import { x } from '../tests/helpers/certs.js';", /infra\/ must not import tests\//],
    ['infra/reversed.ts', "import { x } from '../rotation/watch/config.js';", /infra\/ must not import a program/],
  ])('%s: %s fails the lint', async (file, source, message) => {
    const found = await restricted(file, source);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it.each([
    ['rotation/watch/inside.ts', "import { x } from './run.js';"],
    ['rotation/watch/library.ts', "import { x } from '../acme/ari.js';"],
    ['rotation/fetch/library.ts', "import { x } from '../certificate/bundle.js';"],
    ['rotation/route53/library.ts', "import { x } from '../dns01/names.js';"],
    ['rotation/config/library.ts', "import { x } from '../acme/choice.js';"],
    ['rotation/function/steps/library.ts', "import { x } from '../../route53/adapter.js';"],
    ['infra/library.ts', "import { x } from '../rotation/certificate/tags.js';"],
    ['tests/unit/anything.ts', "import { x } from '../../rotation/watch/run.js';"],
  ])('%s: %s is allowed', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
