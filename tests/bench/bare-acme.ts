/**
 * The bare-protocol baseline of benchmark 2, run as a child process (forked by overhead.ts with
 * NODE_EXTRA_CA_CERTS pointing at Pebble's trust file, as the Lambda runs): acme-client's
 * low-level methods, in the order the rotation uses them, with nothing else around them.
 * TXT records are written by the parent straight into the local Route 53 (IPC `txt`), and this
 * process waits until the DNS responder serves them before answering the challenges.
 *
 * Parent → child: { type: 'run', id, names, dnsServer, directoryUrl }
 * Child → parent: { type: 'txt', id, fqdn, values, action } (answered { type: 'txtDone', id })
 *                 { type: 'done', id, ms } | { type: 'error', id, message }
 */
import acme from 'acme-client';
import { Resolver } from 'node:dns/promises';

interface RunMsg {
  type: 'run';
  id: number;
  names: string[];
  dnsServer: string;
  directoryUrl: string;
}

const send = (msg: object) => process.send?.(msg);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let txtWaiter: (() => void) | undefined;

async function setTxt(id: number, fqdn: string, values: string[], action: 'UPSERT' | 'DELETE'): Promise<void> {
  const done = new Promise<void>((resolve) => {
    txtWaiter = resolve;
  });
  send({ type: 'txt', id, fqdn, values, action });
  await done;
}

async function waitServed(dnsServer: string, fqdn: string, values: string[]): Promise<void> {
  const resolver = new Resolver({ timeout: 1_000, tries: 1 });
  const [host, port] = dnsServer.split(':');
  resolver.setServers([`${host}:${port}`]);
  for (;;) {
    try {
      const served = (await resolver.resolveTxt(fqdn)).map((chunks) => chunks.join(''));
      if (values.every((v) => served.includes(v))) return;
    } catch {
      // ENODATA / ENOTFOUND until the record is served.
    }
    await sleep(20);
  }
}

let accountKey: Buffer | undefined;
let accountUrl: string | undefined;
/** One client for the process: it keeps the directory between runs, as the warm rotation does. */
let shared: acme.Client | undefined;

async function run(msg: RunMsg): Promise<number> {
  const started = performance.now();
  accountKey ??= await acme.crypto.createPrivateEcdsaKey('P-256');
  // A tight poll: the baseline must not pay acme-client's default 5 s backoffMin.
  // The account is registered once (the warm-up run) and reused by URL, as the rotation reuses
  // its persisted account.
  shared ??= new acme.Client({
    directoryUrl: msg.directoryUrl,
    accountKey,
    backoffMin: 50,
    backoffMax: 1_000,
  });
  const client = shared;
  if (!accountUrl) {
    await client.createAccount({ termsOfServiceAgreed: true });
    accountUrl = client.getAccountUrl();
  }
  const [certKey, csr] = await acme.crypto.createCsr(
    { commonName: msg.names[0]!, altNames: msg.names },
    await acme.crypto.createPrivateEcdsaKey('P-256'),
  );
  void certKey;
  const order = await client.createOrder({ identifiers: msg.names.map((value) => ({ type: 'dns', value })) });
  const authzs = await client.getAuthorizations(order);
  const byName = new Map<string, string[]>();
  const challenges = [];
  for (const authz of authzs) {
    if (authz.status === 'valid') continue;
    const challenge = authz.challenges.find((c) => c.type === 'dns-01');
    if (!challenge) throw new Error(`no dns-01 challenge for ${authz.identifier.value}`);
    const fqdn = `_acme-challenge.${authz.identifier.value}`;
    byName.set(fqdn, [...(byName.get(fqdn) ?? []), await client.getChallengeKeyAuthorization(challenge)]);
    challenges.push(challenge);
  }
  for (const [fqdn, values] of byName) await setTxt(msg.id, fqdn, values, 'UPSERT');
  await Promise.all([...byName].map(([fqdn, values]) => waitServed(msg.dnsServer, fqdn, values)));
  await Promise.all(challenges.map((c) => client.completeChallenge(c)));
  await Promise.all(challenges.map((c) => client.waitForValidStatus(c)));
  let finalized = await client.finalizeOrder(order, csr);
  if (finalized.status !== 'valid') finalized = await client.waitForValidStatus(finalized);
  const pem = await client.getCertificate(finalized);
  if (!pem.includes('BEGIN CERTIFICATE')) throw new Error('no certificate downloaded');
  for (const [fqdn, values] of byName) await setTxt(msg.id, fqdn, values, 'DELETE');
  return performance.now() - started;
}

process.on('disconnect', () => process.exit(0));
process.on('message', (raw: unknown) => {
  const msg = raw as { type: string; id: number };
  if (msg.type === 'txtDone') {
    const w = txtWaiter;
    txtWaiter = undefined;
    w?.();
    return;
  }
  if (msg.type !== 'run') return;
  run(msg as RunMsg).then(
    (ms) => send({ type: 'done', id: msg.id, ms }),
    (err: unknown) => send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) }),
  );
});
send({ type: 'ready' });
