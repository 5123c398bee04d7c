/**
 * Two CAs for the local stack, as `ACME_CAS` lists them: the stack's Pebble and a second Pebble
 * requiring External Account Binding (as ZeroSSL, Google Trust Services and AWS's ACME endpoints
 * do), each behind its own fault-injecting CA front (ca-proxy.ts) that adds `meta.caaIdentities`
 * to the directory (Pebble 2.4 lists none) and can leave orders stuck in `processing`. For the
 * CA-fallback e2e test and `npm run local`'s fallback demonstration.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';

import { splitPemCertificates } from '../../rotation/certificate/bundle.js';
import { startCaProxy, type CaAnswer, type CaExtension, type CaProxy, type CaRequestInfo } from './ca-proxy.js';
import { startPebble, type Pebble } from './pebble.js';
import type { LocalStack } from './stack.js';

/** The second CA's EAB credentials (a test key id and HMAC key, base64url). */
export const SECOND_CA_EAB = {
  kid: 'kid-local',
  hmacKey: 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W',
};

/** What a front adds to Pebble: caaIdentities, and (when `stuck`) orders that never become valid. */
export class CaFront implements CaExtension {
  /** Leave every order `processing` (an order that never becomes valid). */
  stuck = false;
  constructor(readonly identities: string[]) {}

  answered(req: CaRequestInfo, answer: CaAnswer): CaAnswer {
    if (answer.status >= 300) return answer;
    const rewrite = (edit: (doc: Record<string, unknown>) => void): CaAnswer => {
      const doc = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
      edit(doc);
      const body = Buffer.from(JSON.stringify(doc));
      return { ...answer, body, headers: { ...answer.headers, 'content-length': String(body.length) } };
    };
    if (req.operation === 'directory') {
      return rewrite((dir) => {
        dir.meta = { ...((dir.meta as Record<string, unknown> | undefined) ?? {}), caaIdentities: this.identities };
      });
    }
    if (this.stuck && (req.operation === 'finalize' || req.operation === 'order')) {
      return rewrite((order) => {
        if (order.status === 'valid' || order.status === 'processing') {
          order.status = 'processing';
          delete order.certificate;
        }
      });
    }
    return answer;
  }
}

export interface TwoCas {
  /** The first CA: the stack's Pebble behind `frontA` (CAA identity `ca-a.test`). */
  frontA: CaProxy;
  extA: CaFront;
  /** The second CA: an EAB-requiring Pebble behind `frontB` (CAA identity `ca-b.test`). */
  pebbleB: Pebble;
  frontB: CaProxy;
  extB: CaFront;
  rootsA: X509Certificate[];
  rootsB: X509Certificate[];
  /** NODE_EXTRA_CA_CERTS trusting both Pebbles (listeners and issuing roots). */
  trustFile: string;
  /**
   * Two fresh account secrets — the second holding the EAB credentials unless `eab: false` — and
   * the function environment naming both CAs (ACME_CAS, names `ca-a` and `ca-b`).
   */
  accounts(opts?: { eab?: boolean }): Promise<{
    env: Record<string, string>;
    acctA: { arn: string; name: string };
    acctB: { arn: string; name: string };
  }>;
  /** Which CA's root the chain ends at. */
  issuedBy(chainPem: string): 'a' | 'b' | undefined;
  stop(): Promise<void>;
}

async function front(pebble: Pebble, extension: CaExtension): Promise<CaProxy> {
  const [cert, key] = await Promise.all([
    readFile(pebble.listenerCertPath, 'utf8'),
    readFile(pebble.listenerKeyPath, 'utf8'),
  ]);
  return startCaProxy({ target: pebble.directoryUrl, targetCa: pebble.listenerCaPem, cert, key, extension });
}

let accountSeq = 0;

/** Starts the second Pebble and both fronts next to a running local stack. */
export async function startTwoCas(stack: LocalStack): Promise<TwoCas> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const pebbleB = await startPebble({
      dnsServer: `${stack.dns.address}:${stack.dns.port}`,
      workDir: stack.workDir,
      certificateValidityPeriod: 90 * 86_400,
      externalAccountMacKeys: { [SECOND_CA_EAB.kid]: SECOND_CA_EAB.hmacKey },
    });
    stops.push(() => pebbleB.stop());
    const extA = new CaFront(['ca-a.test']);
    const extB = new CaFront(['ca-b.test']);
    const frontA = await front(stack.pebble, extA);
    stops.push(() => frontA.stop());
    const frontB = await front(pebbleB, extB);
    stops.push(() => frontB.stop());
    const rootsA = splitPemCertificates(await stack.pebble.issuingRootsPem()).map((p) => new X509Certificate(p));
    const rootsB = splitPemCertificates(await pebbleB.issuingRootsPem()).map((p) => new X509Certificate(p));
    const trustFile = join(stack.workDir, 'trust-two-cas.pem');
    const pems = [stack.pebble.listenerCaPem, ...rootsA.map(String), pebbleB.listenerCaPem, ...rootsB.map(String)];
    await writeFile(trustFile, `${pems.map((p) => p.trim()).join('\n')}\n`);

    return {
      frontA,
      extA,
      pebbleB,
      frontB,
      extB,
      rootsA,
      rootsB,
      trustFile,
      async accounts(opts = {}) {
        const n = ++accountSeq;
        const acctA = await stack.createEmptySecret(`acme/account-a-${n}-${Date.now()}`);
        const out = await stack.sm.send(
          new CreateSecretCommand({
            Name: `acme/account-b-${n}-${Date.now()}`,
            SecretString: JSON.stringify(
              opts.eab === false ? {} : { eab: { kid: SECOND_CA_EAB.kid, hmac_key: SECOND_CA_EAB.hmacKey } },
            ),
          }),
        );
        const acctB = { arn: out.ARN as string, name: out.Name as string };
        const env = {
          ACME_CAS: JSON.stringify([
            { name: 'ca-a', directoryUrl: frontA.directoryUrl, accountSecretId: acctA.name },
            { name: 'ca-b', directoryUrl: frontB.directoryUrl, accountSecretId: acctB.name },
          ]),
          NODE_EXTRA_CA_CERTS: trustFile,
        };
        return { env, acctA, acctB };
      },
      issuedBy(chainPem) {
        const top = splitPemCertificates(chainPem)
          .map((p) => new X509Certificate(p))
          .at(-1);
        if (!top) return undefined;
        if (rootsA.some((r) => top.checkIssued(r))) return 'a';
        if (rootsB.some((r) => top.checkIssued(r))) return 'b';
        return undefined;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
