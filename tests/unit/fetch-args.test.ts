/**
 * acme-rotation-fetch's command line: the layouts it accepts, and every refusal naming the flag.
 */
import { describe, expect, it } from 'vitest';

import { DEFAULT_RELOAD_TIMEOUT_SECONDS, HELP, parseArgs, UsageError } from '../../rotation/fetch/args.js';

const CWD = '/srv/app';

function run(argv: string[]) {
  const parsed = parseArgs(argv, CWD);
  if (parsed.kind !== 'run') throw new Error(`expected a run, got ${parsed.kind}`);
  return parsed.options;
}

function refusal(argv: string[]): string {
  try {
    parseArgs(argv, CWD);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parseArgs', () => {
  it('--dir gives fullchain.pem and privkey.pem in it, relative to the current directory', () => {
    expect(run(['--secret-id', 'certs/web', '--dir', 'tls'])).toEqual({
      secretId: 'certs/web',
      fullchainPath: '/srv/app/tls/fullchain.pem',
      keyPath: '/srv/app/tls/privkey.pem',
      reloadTimeoutMs: DEFAULT_RELOAD_TIMEOUT_SECONDS * 1000,
    });
  });

  it('takes explicit paths, --flag=value, the optional files, reload, timeout and region', () => {
    expect(
      run([
        '--secret-id=arn:aws:secretsmanager:eu-west-1:123456789012:secret:certs/web-AbCdEf',
        '--fullchain',
        '/etc/nginx/tls/web.crt',
        '--key=/etc/nginx/tls/web.key',
        '--cert',
        'leaf.pem',
        '--chain',
        '/etc/nginx/tls/chain.pem',
        '--reload',
        'nginx -t && systemctl reload nginx',
        '--reload-timeout',
        '30',
        '--region',
        'eu-west-1',
      ]),
    ).toEqual({
      secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:certs/web-AbCdEf',
      fullchainPath: '/etc/nginx/tls/web.crt',
      keyPath: '/etc/nginx/tls/web.key',
      certPath: '/srv/app/leaf.pem',
      chainPath: '/etc/nginx/tls/chain.pem',
      reload: 'nginx -t && systemctl reload nginx',
      reloadTimeoutMs: 30_000,
      region: 'eu-west-1',
    });
  });

  it('an explicit path overrides one file of the --dir layout', () => {
    const options = run(['--secret-id', 's', '--dir', '/tls', '--key', '/private/web.key']);
    expect(options.fullchainPath).toBe('/tls/fullchain.pem');
    expect(options.keyPath).toBe('/private/web.key');
  });

  it('--help and -h win over anything else', () => {
    expect(parseArgs(['--bogus', '--help'], CWD)).toEqual({ kind: 'help' });
    expect(parseArgs(['-h'], CWD)).toEqual({ kind: 'help' });
    expect(parseArgs(['--version', '-h'], CWD)).toEqual({ kind: 'help' });
  });

  it('--version wins over anything but help', () => {
    expect(parseArgs(['--version'], CWD)).toEqual({ kind: 'version' });
    expect(parseArgs(['--secret-id', 's', '--bogus', '--version'], CWD)).toEqual({ kind: 'version' });
  });

  it("a flag's value that looks like -h or --version is a value, with --flag=value for one that starts with --", () => {
    expect(run(['--secret-id', 's', '--dir', '/tls', '--reload', '-h']).reload).toBe('-h');
    expect(run(['--secret-id', 's', '--dir', '/tls', '--reload=--version']).reload).toBe('--version');
  });

  it.each([
    [[], /--secret-id is required/],
    [['--dir', '/tls'], /--secret-id is required/],
    [['--secret-id', 's'], /--dir <directory>.*or both --fullchain and --key/],
    [['--secret-id', 's', '--fullchain', 'a.pem'], /or both --fullchain and --key/],
    [['--secret-id', 's', '--key', 'k.pem'], /or both --fullchain and --key/],
    [['--secret-id', 's', '--dir'], /--dir needs a value/],
    [['--secret-id', '--dir', '/tls'], /--secret-id needs a value/],
    [['--secret-id', 's', '--dir', '/tls', '--secret-id', 't'], /--secret-id is given more than once/],
    [['--secret-id', 's', '--dir', '/tls', '--reload', ''], /--reload must not be empty/],
    [['--secret-id', 's', '--dir', '/tls', '--secret'], /unknown option --secret /],
    [['--secret-id', 's', '--dir', '/tls', '--force'], /unknown option --force/],
    [['--secret-id', 's', '/tls'], /unexpected argument "\/tls"/],
    [['--secret-id', 's', '--fullchain', 'x.pem', '--key', './x.pem'], /--fullchain and --key name the same file/],
    [['--secret-id', 's', '--dir', '/tls', '--chain', '/tls/fullchain.pem'], /--fullchain and --chain name the same/],
    [['--secret-id', 's', '--dir', '/tls', '--reload', 'true', '--reload-timeout', '0'], /--reload-timeout must/],
    [['--secret-id', 's', '--dir', '/tls', '--reload', 'true', '--reload-timeout', '1.5'], /--reload-timeout must/],
    [['--secret-id', 's', '--dir', '/tls', '--reload', 'true', '--reload-timeout', '3601'], /--reload-timeout must/],
    [['--secret-id', 's', '--dir', '/tls', '--reload-timeout', '10'], /--reload-timeout without --reload/],
    [['--secret-id', 's', '--dir', '/tls', '--reload', '--version'], /--reload needs a value/],
    [['--secret-id', 's', '--dir', '/tls', '-x'], /unknown option -x /],
    [['--secret-id', 's', '--dir', '/tls', '--', 'x'], /unexpected argument "--"/],
    [['--secret-id', 's', '--dir=', '/tls'], /--dir must not be empty/],
  ])('refuses %j', (argv, message) => {
    expect(refusal(argv)).toMatch(message);
  });

  it('the help documents every option and the exit statuses', () => {
    for (const flag of [
      '--secret-id',
      '--dir',
      '--fullchain',
      '--key',
      '--cert',
      '--chain',
      '--reload',
      '--reload-timeout',
      '--region',
      '--version',
      '--help',
    ]) {
      expect(HELP).toMatch(new RegExp(`^ {2}(-h, )?${flag} `, 'm'));
    }
    expect(HELP).toMatch(/Exit status: 0 .*; 1 .*2 usage error;\s+3 the reload failed/s);
    expect(HELP).toContain('0600');
    expect(HELP).toContain('AWS_ENDPOINT_URL');
  });
});
