import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AwsServiceError } from '../../rotation/lib/errors.js';
import { createLogger, redact } from '../../rotation/lib/log.js';
import { captureLogger } from './fakes.js';
import { PKCS1_RSA_KEY_FOOTER, PKCS1_RSA_KEY_HEADER, PKCS8_KEY_HEADER } from '../helpers/pem-markers.js';

const ecPkcs8 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const ecSec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'sec1', format: 'pem' })
  .toString();
/** A distinctive piece of each key's base64 body. */
const bodyOf = (pem: string): string => pem.split('\n')[2] as string;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('redact', () => {
  it('replaces PKCS#8, SEC1 (EC) and PKCS#1 (RSA) private keys, and only those', () => {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const rsa = `${PKCS1_RSA_KEY_HEADER}\nMIIEow\n${PKCS1_RSA_KEY_FOOTER}`;
    const text = `a ${ecPkcs8} b ${ecSec1} c ${rsa} d ${cert}`;
    expect(redact(text)).toBe(
      `a [REDACTED PRIVATE KEY]\n b [REDACTED PRIVATE KEY]\n c [REDACTED PRIVATE KEY] d ${cert}`,
    );
  });

  it('redacts a truncated key to the end of the text', () => {
    expect(redact(`key: ${PKCS8_KEY_HEADER}\nMIGHAgEA`)).toBe('key: [REDACTED PRIVATE KEY]');
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line with timestamp, level, message and base fields', () => {
    const log = captureLogger({ service: 'acme-rotation' });
    log.logger.info('hello', { n: 1, nested: { a: [1, 2] } });
    expect(log.raw).toHaveLength(1);
    expect(log.raw[0]).not.toContain('\n');
    const line = log.lines()[0]!;
    expect(line).toMatchObject({
      level: 'info',
      message: 'hello',
      service: 'acme-rotation',
      n: 1,
      nested: { a: [1, 2] },
    });
    expect(Date.parse(line.timestamp as string)).not.toBeNaN();
  });

  it('filters by level (option, then LOG_LEVEL, default info)', () => {
    const lines: string[] = [];
    const warnOnly = createLogger({}, { level: 'warn', sink: (l) => lines.push(l) });
    warnOnly.debug('d');
    warnOnly.info('i');
    warnOnly.warn('w');
    warnOnly.error('e');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['w', 'e']);

    lines.length = 0;
    vi.stubEnv('LOG_LEVEL', 'DEBUG');
    createLogger({}, { sink: (l) => lines.push(l) }).debug('shown');
    vi.stubEnv('LOG_LEVEL', 'chatty');
    createLogger({}, { sink: (l) => lines.push(l) }).debug('hidden');
    createLogger({}, { sink: (l) => lines.push(l) }).info('default info');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['shown', 'default info']);
  });

  it('child loggers add context without changing the parent; the sink and level are shared', () => {
    const log = captureLogger({ service: 'acme-rotation' });
    const child = log.logger.child({ secretName: 'acme/x', step: 'createSecret' });
    const grandchild = child.child({ step: 'finishSecret', token: 't-1' });
    child.debug('from child');
    grandchild.info('from grandchild');
    log.logger.info('from parent');
    const [c, g, p] = log.lines();
    expect(c).toMatchObject({ level: 'debug', service: 'acme-rotation', secretName: 'acme/x', step: 'createSecret' });
    expect(g).toMatchObject({ service: 'acme-rotation', secretName: 'acme/x', step: 'finishSecret', token: 't-1' });
    expect(p).not.toHaveProperty('secretName');
    expect(p).not.toHaveProperty('step');
  });

  it('redacts private keys in the message, in fields, in nested fields and in arrays', () => {
    const log = captureLogger();
    log.logger.info(`message with ${ecPkcs8}`, {
      field: ecSec1,
      nested: { bundle: { private_key: ecPkcs8, certificate: 'CERT' } },
      list: ['x', ecPkcs8],
    });
    const raw = log.raw.join('\n');
    expect(raw).not.toContain(PKCS8_KEY_HEADER.slice('-----BEGIN '.length));
    expect(raw).not.toContain(bodyOf(ecPkcs8));
    expect(raw).not.toContain(bodyOf(ecSec1));
    const line = log.lines()[0]!;
    expect(line.message).toBe('message with [REDACTED PRIVATE KEY]\n');
    expect(line).toMatchObject({
      field: '[REDACTED PRIVATE KEY]\n',
      nested: { bundle: { private_key: '[REDACTED PRIVATE KEY]\n', certificate: 'CERT' } },
      list: ['x', '[REDACTED PRIVATE KEY]\n'],
    });
  });

  it('redacts private keys inside error messages and their causes', () => {
    const log = captureLogger();
    const cause = Object.assign(new Error(`could not decode ${ecPkcs8}`), { code: 'ERR_OSSL' });
    const err = new AwsServiceError('SecretsManager', 'PutSecretValue', 'ValidationException', `bad value ${ecSec1}`, {
      cause,
    });
    log.logger.error('failed', { error: err, other: new Error(`also ${ecPkcs8}`) });
    const raw = log.raw.join('\n');
    expect(raw).not.toContain(bodyOf(ecPkcs8));
    expect(raw).not.toContain(bodyOf(ecSec1));
    expect(log.lines()[0]).toMatchObject({
      error: {
        name: 'AwsServiceError',
        code: 'AwsSecretsManagerError',
        message: 'SecretsManager PutSecretValue failed (ValidationException): bad value [REDACTED PRIVATE KEY]\n',
        cause: { name: 'Error', code: 'ERR_OSSL', message: 'could not decode [REDACTED PRIVATE KEY]\n' },
      },
      other: { name: 'Error', message: 'also [REDACTED PRIVATE KEY]\n' },
    });
  });

  it('keeps every line valid JSON, even when a truncated key is logged', () => {
    const log = captureLogger();
    log.logger.error('decode failed', {
      error: new Error(`bad input: ${PKCS8_KEY_HEADER}\nMIGHAgEAMBMG`),
      step: 'x',
    });
    expect(log.raw[0]).not.toContain('MIGHAgEAMBMG');
    expect(() => JSON.parse(log.raw[0] as string) as unknown).not.toThrow();
    expect(JSON.parse(log.raw[0] as string)).toMatchObject({ message: 'decode failed', step: 'x' });
  });

  it('writes fields as JSON.stringify would: Dates as ISO strings, a repeated object in full', () => {
    const log = captureLogger();
    const shared = { zoneId: 'Z1' };
    log.logger.info('fields', { when: new Date(0), first: shared, second: shared, list: [shared, shared] });
    expect(log.lines()[0]).toMatchObject({
      when: '1970-01-01T00:00:00.000Z',
      first: { zoneId: 'Z1' },
      second: { zoneId: 'Z1' },
      list: [{ zoneId: 'Z1' }, { zoneId: 'Z1' }],
    });
  });

  it('never throws on a circular field', () => {
    const log = captureLogger();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    expect(() => log.logger.info('circular', { loop })).not.toThrow();
    expect(log.lines()[0]).toMatchObject({ message: 'circular', loop: { name: 'loop' } });
  });

  it('time() logs the phase with its duration, also when it fails', async () => {
    const log = captureLogger({ step: 'createSecret' });
    await expect(log.logger.time('acme-order', () => Promise.resolve(42), { names: 2 })).resolves.toBe(42);
    const failure = new Error('boom');
    await expect(log.logger.time('dns-cleanup', () => Promise.reject(failure))).rejects.toBe(failure);
    const [ok, failed] = log.lines();
    expect(ok).toMatchObject({
      level: 'info',
      message: 'acme-order done',
      phase: 'acme-order',
      names: 2,
      step: 'createSecret',
    });
    expect(ok?.durationMs).toBeTypeOf('number');
    expect(failed).toMatchObject({
      level: 'warn',
      message: 'dns-cleanup failed',
      phase: 'dns-cleanup',
      error: { name: 'Error', message: 'boom' },
    });
  });

  it('writes non-Error values of the error field as they are', () => {
    const log = captureLogger();
    log.logger.warn('odd', { error: 'just a string' });
    expect(log.lines()[0]).toMatchObject({ error: 'just a string' });
  });
});
