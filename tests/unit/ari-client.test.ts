/**
 * The watch's renewalInfo client (rotation/acme/renewal-info.ts) against a real HTTP server: every request
 * bounded as a whole (a CA that accepts and never answers, or trickles its body, costs one timeout),
 * the CA's Retry-After kept on a refusal, and which failures are the CA's (counted towards "down
 * for this run") and which are about one certificate.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AriClient } from '../../rotation/acme/renewal-info.js';

type Handler = (path: string, res: ServerResponse) => void;
let server: Server;
let base = '';
let handle: Handler = (_p, res) => res.end();
const open = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handle(req.url ?? '', res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of open) res.destroy();
  await new Promise((r) => server.close(r));
});

const WINDOW = '{"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T00:00:00Z"}}';

describe('AriClient', () => {
  it('answers with the window and the Retry-After', async () => {
    handle = (path, res) => {
      expect(path).toBe('/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '21600' }).end(WINDOW);
    };
    const result = await new AriClient(2_000).renewalInfo(
      `${base}/renewal-info/`,
      'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    );
    expect(result).toEqual({
      ok: true,
      answer: {
        start: new Date('2027-01-01T00:00:00Z'),
        end: new Date('2027-01-02T00:00:00Z'),
        retryAfterMs: 21_600_000,
      },
    });
  });

  it('gives up on a CA that accepts the request and never answers, within the timeout', async () => {
    handle = () => undefined; // headers never come
    const t = Date.now();
    const result = await new AriClient(300).renewalInfo(`${base}/renewal-info`, 'a.b');
    expect(Date.now() - t).toBeLessThan(2_000);
    expect(result).toMatchObject({
      ok: false,
      caFailure: true,
      error: expect.stringMatching(/no answer within 300 ms$/),
    });
  });

  it('gives up on a CA that sends its headers and then trickles the body', async () => {
    handle = (_p, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"suggestedWindow":');
      const drip = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(drip));
    };
    const t = Date.now();
    const result = await new AriClient(400).renewalInfo(`${base}/renewal-info`, 'a.b');
    expect(Date.now() - t).toBeLessThan(2_000);
    expect(result).toMatchObject({
      ok: false,
      caFailure: true,
      error: expect.stringMatching(/no answer within 400 ms$/),
    });
  });

  it("keeps the CA's Retry-After on 429 and 503; both count against the CA, a 404 does not", async () => {
    const answer = (status: number, headers: Record<string, string> = {}) =>
      (handle = (_p, res) => {
        res.writeHead(status, { 'content-type': 'application/problem+json', ...headers }).end('{"detail":"slow down"}');
      });
    const client = new AriClient(2_000);
    answer(429, { 'retry-after': '3600' });
    expect(await client.renewalInfo(`${base}/ri`, 'a.b')).toMatchObject({
      ok: false,
      caFailure: true,
      retryAfterMs: 3_600_000,
      error: expect.stringMatching(/answered HTTP 429: slow down$/),
    });
    answer(503, { 'retry-after': '120' });
    expect(await client.renewalInfo(`${base}/ri`, 'a.b')).toMatchObject({ caFailure: true, retryAfterMs: 120_000 });
    answer(404);
    expect(await client.renewalInfo(`${base}/ri`, 'a.b')).toMatchObject({ ok: false, caFailure: false });
    handle = (_p, res) => res.writeHead(200).end('<html>');
    expect(await client.renewalInfo(`${base}/ri`, 'a.b')).toMatchObject({ ok: false, caFailure: false });
  });

  it('reads the directory once and finds renewalInfo; an unreachable directory is an error value', async () => {
    let reads = 0;
    handle = (_p, res) => {
      reads++;
      res.writeHead(200).end(JSON.stringify({ newOrder: `${base}/new-order`, renewalInfo: `${base}/renewal-info` }));
    };
    const client = new AriClient(2_000);
    expect(await client.renewalInfoBase(`${base}/directory`)).toEqual({ ok: true, base: `${base}/renewal-info` });
    expect(await client.renewalInfoBase(`${base}/directory`)).toEqual({ ok: true, base: `${base}/renewal-info` });
    expect(reads).toBe(1);
    // A port nothing listens on (taken, then freed).
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    const port = (spare.address() as AddressInfo).port;
    await new Promise((r) => spare.close(r));
    const closed = await client.renewalInfoBase(`http://127.0.0.1:${port}/directory`);
    expect(closed).toMatchObject({
      ok: false,
      error: expect.stringContaining(`could not read the directory http://127.0.0.1:${port}/directory: ECONNREFUSED`),
    });
  });
});
