import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.local-stack/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        performance: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      // Input validation rejects control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['tests/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  // Imports run one way: tests → infra → rotation; inside rotation/, the programs (the function, the
  // watch, the fetch command) use the library and never each other, and nothing in the library reaches into
  // a program. tests/unit/import-direction.test.ts proves each rule bites.
  ...importDirection(),
);

function importDirection() {
  const no = (what, regex, why) => ({ regex, message: `${what} ${why}` });
  const outward = [
    no('rotation/ must not import', '(^|/)(infra|tests)/', 'infra/ or tests/: they depend on it, not it on them'),
  ];
  const program = (name) =>
    no(
      `the ${name} program (rotation/${name}/)`,
      `^\\.{1,2}/(\\.\\./)*${name}/`,
      'is imported only by itself: move what others need into a library folder of rotation/',
    );
  const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
  const programs = ['function', 'watch', 'fetch'];
  // The library's folders in layers: each may import only the folders listed for it, so the
  // arrows run one way and no two folders import each other.
  const below = {
    lib: [],
    certificate: ['lib'],
    x509: ['lib', 'certificate'],
    aws: ['lib', 'certificate'],
    dns01: ['lib', 'certificate'],
    route53: ['lib', 'certificate', 'aws', 'dns01'],
    acme: ['lib', 'certificate', 'aws', 'dns01', 'x509'],
    acm: ['lib', 'certificate', 'aws', 'x509'],
    config: ['lib', 'certificate', 'dns01', 'acme'],
  };
  const library = Object.keys(below);
  const above = (folder) =>
    library
      .filter((other) => other !== folder && !below[folder].includes(other))
      .map((other) =>
        no(
          `rotation/${folder}/ must not import rotation/${other}/:`,
          `^\\.\\./(\\.\\./)*${other}/`,
          `it may use only ${below[folder].map((b) => `${b}/`).join(', ') || 'Node and its packages'} (the layers in eslint.config.js)`,
        ),
      );
  return [
    {
      files: ['rotation/**/*.ts'],
      ignores: programs.map((p) => `rotation/${p}/**`),
      rules: restrict([...outward, ...programs.map(program)]),
    },
    ...library.map((folder) => ({
      files: [`rotation/${folder}/**/*.ts`],
      rules: restrict([...outward, ...programs.map(program), ...above(folder)]),
    })),
    ...programs.map((p) => ({
      files: [`rotation/${p}/**/*.ts`],
      rules: restrict([...outward, ...programs.filter((o) => o !== p).map(program)]),
    })),
    {
      files: ['infra/**/*.ts'],
      rules: restrict([
        no('infra/ must not import', '(^|/)tests/', 'tests/: the package ships infra/, never tests/'),
        no(
          'infra/ must not import',
          '(^|/)rotation/(function|watch|fetch)/',
          "a program of rotation/: what the stack shares with them lives in rotation/'s library (e.g. certificate/rules.ts)",
        ),
      ]),
    },
  ];
}
