/**
 * `npm run local`: a full certificate rotation on this machine — Pebble as the CA, the local AWS
 * endpoint as Secrets Manager and Route 53, the built bundle (dist/rotation/index.mjs) as the
 * function — then a forced renewal. Pebble sits behind a CA front of our own that adds what Let's
 * Encrypt has and Pebble 2.4 lacks (ACME Renewal Information, `replaces`): the renewal is sent as
 * an ARI replacement of the first certificate; then the CA moves the window into the past (a
 * revocation drill) and the renewal watch renews. Then the bad days: an ACM certificate refuses
 * the import (AWSCURRENT and the other ARN go ahead, the watch delivers once it is fixed), and the
 * first CA is down (the renewal falls back to a second CA that requires EAB). `--verbose` echoes
 * the function's logs.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { ACMClient, ImportCertificateCommand } from '@aws-sdk/client-acm';

import { normaliseSerial } from '../../rotation/certificate/bundle.js';
import { acmArnTags } from '../../rotation/certificate/spec.js';
import { makeTestPki } from '../helpers/certs.js';
import { rotate, type RotationRun, type StepRecord } from './driver.js';
import { revocationDrill } from './revocation-drill.js';
import { startTwoCas, type TwoCas } from './second-ca.js';
import { serveRotations } from './rotation-service.js';
import { ensurePebble } from './ensure-pebble.js';
import { DEFAULT_BUNDLE_PATH, startLocalStack, type LocalStack } from './stack.js';

// Local Node is 20; the function deploys on nodejs22.x. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');
const ZONE = 'example.test';
const DOMAINS = ['example.test', '*.example.test'];
const SECRET_NAME = 'local/example-test';
const ACCOUNT_SECRET_NAME = 'local/acme-account';
const ACM_REGIONS = ['us-east-1', 'eu-west-1'];
const TOPIC_NAME = 'acme-rotation-local-notices';
const WATCH_BUNDLE_PATH = fileURLToPath(new URL('../../dist/watch/index.mjs', import.meta.url));

/** Imports a placeholder of the default key type into ACM in `region`; returns its ARN. */
async function acmPlaceholder(s: LocalStack, region: string): Promise<string> {
  const pki = makeTestPki({ names: ['placeholder.invalid'] });
  const client = new ACMClient({
    region,
    endpoint: s.aws.url,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    const out = await client.send(
      new ImportCertificateCommand({
        Certificate: Buffer.from(pki.leaf.certPem),
        PrivateKey: Buffer.from(pki.leaf.keyPem),
        CertificateChain: Buffer.from(pki.chainPem),
      }),
    );
    return out.CertificateArn as string;
  } finally {
    client.destroy();
  }
}

/**
 * Prints what each ACM certificate holds; true when every one holds `serial`. `refusing` is an ARN
 * expected to keep its previous certificate (it refused the import).
 */
function acmReport(s: LocalStack, arns: string[], serial: string, refusing?: string): boolean {
  let ok = true;
  for (const arn of arns) {
    const held = normaliseSerial(s.aws.acm.certificate(arn)?.serial ?? '');
    const same = held === normaliseSerial(serial);
    ok &&= same;
    const verdict = same
      ? '(AWSCURRENT ✓)'
      : arn === refusing
        ? '(refused: still the previous certificate, reported)'
        : '(NOT AWSCURRENT ✗)';
    say(`  ACM ${arn.split(':')[3]?.padEnd(10)}serial ${held} ${verdict}`);
  }
  return ok;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const say = (line = '') => process.stdout.write(`${line}\n`);

let stack: LocalStack | undefined;
let twoCas: TwoCas | undefined;
let interrupted = false;

async function shutdown(): Promise<void> {
  const s = stack;
  const cas = twoCas;
  stack = undefined;
  twoCas = undefined;
  await cas?.stop();
  await s?.stop();
}

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    // Second Ctrl-C: leave now; the exit hooks SIGKILL Pebble and the Lambda container.
    process.exit(130);
  }
  interrupted = true;
  say(`\n${signal}: stopping the local stack…`);
  shutdown()
    .catch((err: unknown) => process.stderr.write(`while stopping: ${String(err)}\n`))
    .finally(() => process.exit(130));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

interface CertSummary {
  names: string[];
  issuer: string;
  serial: string;
  notAfter: string;
  pem: string;
}

async function currentCertificate(s: LocalStack, stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<CertSummary> {
  const out = await s.sm.send(new GetSecretValueCommand({ SecretId: SECRET_NAME, VersionStage: stage }));
  const bundle = JSON.parse(out.SecretString ?? '{}') as { certificate?: string };
  if (!bundle.certificate) throw new Error(`${stage} holds no certificate`);
  const cert = new X509Certificate(bundle.certificate);
  const names = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  return {
    names,
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber,
    notAfter: new Date(cert.validTo).toISOString(),
    pem: bundle.certificate,
  };
}

function printStep(r: StepRecord): void {
  if (interrupted) return; // Ctrl-C reaches the function's process too: its "crash" is ours.
  const attempt = r.attempt > 1 ? ` (attempt ${r.attempt})` : '';
  if (r.result.ok) {
    say(`  ✓ ${r.step.padEnd(13)} ${seconds(r.result.durationMs).padStart(7)}${attempt}`);
  } else {
    const how = r.result.timedOut ? 'timed out' : r.result.crashed ? 'crashed' : 'failed';
    say(
      `  ✗ ${r.step.padEnd(13)} ${seconds(r.result.durationMs).padStart(7)}${attempt} ${how}: ${r.result.error.name}: ${r.result.error.message}`,
    );
  }
}

function failRun(run: RotationRun, logs: string[]): never {
  const e = run.lastError;
  const err = new Error(
    `rotation failed at ${e?.step ?? '?'}: ${e?.name ?? 'Error'}: ${e?.message ?? 'unknown error'}`,
  );
  if (!verbose && logs.length) {
    say('  last function log lines:');
    for (const line of logs.slice(-15)) say(`    ${line}`);
  }
  throw err;
}

async function main(): Promise<void> {
  ensurePebble();
  if (!existsSync(DEFAULT_BUNDLE_PATH)) {
    throw new Error(`${DEFAULT_BUNDLE_PATH} is missing: run \`npm run build\` first (npm run local does).`);
  }

  const started = Date.now();
  const local = await startLocalStack({ route53ChangeDelayMs: 1_000, ari: true });
  stack = local;
  const s = local;
  say(`Local stack up in ${seconds(Date.now() - started)}`);
  say(`  ACME           ${s.ca.directoryUrl}  (Pebble behind a front with renewalInfo and replaces)`);
  say(`  AWS endpoint   ${s.aws.url}   (Route 53 changes INSYNC after 1 s)`);
  say(`  DNS responder  ${s.dns.address}:${s.dns.port}`);

  const zone = s.aws.route53.createZone(ZONE);
  const account = await s.createEmptySecret(ACCOUNT_SECRET_NAME);
  // An ACM certificate per region, as the stack creates them (a placeholder the rotation replaces).
  const acmArns = await Promise.all(ACM_REGIONS.map((region) => acmPlaceholder(s, region)));
  const secret = await s.createCertificateSecret(
    SECRET_NAME,
    { domains: DOMAINS },
    { placeholder: '{}', extraTags: acmArnTags(acmArns) },
  );
  say(`  hosted zone    ${ZONE} (${zone.id})`);
  say(`  secret         ${secret.name}  for ${DOMAINS.join(', ')}`);
  for (const arn of acmArns) say(`  ACM            ${arn}`);

  const topicArn = s.aws.sns.createTopic(TOPIC_NAME);
  const lambda = s.newLambda(
    { ACME_ACCOUNT_SECRET_ID: account.arn, NOTIFICATION_TOPIC_ARN: topicArn },
    verbose ? { onLog: (line) => say(`    │ ${line}`) } : {},
  );

  // First rotation: issues the first certificate.
  say('\nRotation 1 (first certificate)');
  const r1Start = Date.now();
  const run1 = await rotate({ client: s.sm, lambda, secretId: secret.arn, onStep: printStep });
  if (interrupted) return;
  if (!run1.succeeded) failRun(run1, lambda.logs);
  const first = await currentCertificate(s, 'AWSCURRENT');
  const r53Calls = s.aws.calls.filter((c) => c.service === 'route53');
  const byOp = new Map<string, number>();
  for (const c of r53Calls) byOp.set(c.operation, (byOp.get(c.operation) ?? 0) + 1);
  const leftover = s.aws.route53.txtValues(`_acme-challenge.${ZONE}`);
  say(`  done in ${seconds(Date.now() - r1Start)}`);
  say(`  AWSCURRENT    ${first.names.join(', ')}`);
  say(`    issuer      ${first.issuer}`);
  say(`    serial      ${first.serial}`);
  say(`    notAfter    ${first.notAfter}`);
  const window = s.ari.certificateOf(first.pem)?.window;
  say(`    ARI window  ${window ? `${window.start.toISOString()} → ${window.end.toISOString()}` : 'none'}`);
  const acm1 = acmReport(s, acmArns, first.serial);
  say(`  Route 53      ${r53Calls.length} calls (${[...byOp].map(([op, n]) => `${op} ${n}`).join(', ')})`);
  say(
    `  TXT records   ${leftover.length === 0 ? 'none left behind' : `${leftover.length} LEFT BEHIND: ${leftover.join(', ')}`}`,
  );

  // Second rotation: a forced renewal, as `aws secretsmanager rotate-secret` would do.
  say('\nRotation 2 (forced renewal: RotateSecret again)');
  const r2Start = Date.now();
  const run2 = await rotate({ client: s.sm, lambda, secretId: secret.name, onStep: printStep });
  if (interrupted) return;
  if (!run2.succeeded) failRun(run2, lambda.logs);
  const second = await currentCertificate(s, 'AWSCURRENT');
  const previous = await currentCertificate(s, 'AWSPREVIOUS');
  say(`  done in ${seconds(Date.now() - r2Start)}`);
  say(`  AWSCURRENT    serial ${second.serial}, notAfter ${second.notAfter}`);
  const firstId = s.ari.certificateOf(first.pem)?.certId;
  const replaces = s.ari.orders.at(-1)?.replaces;
  say(
    `  newOrder      replaces ${replaces ?? 'nothing'} ${replaces !== undefined && replaces === firstId ? '(the first certificate: an ARI renewal ✓)' : '✗'}`,
  );
  say(
    `  AWSPREVIOUS   serial ${previous.serial} ${previous.serial === first.serial ? '(the first certificate ✓)' : '(NOT the first certificate ✗)'}`,
  );
  const acm2 = acmReport(s, acmArns, second.serial);
  const leftover2 = s.aws.route53.txtValues(`_acme-challenge.${ZONE}`);
  say(`  TXT records   ${leftover2.length === 0 ? 'none left behind' : `${leftover2.length} LEFT BEHIND`}`);
  say(
    `  Lambda        ${lambda.coldStarts} cold start(s) for ${run1.attempts.flat().length + run2.attempts.flat().length} invocations`,
  );

  if (second.serial === first.serial) throw new Error('the forced renewal did not produce a new certificate');
  if (previous.serial !== first.serial) throw new Error('AWSPREVIOUS does not hold the first certificate');
  if (replaces === undefined || replaces !== firstId)
    throw new Error('the renewal did not name the first certificate in replaces');
  if (leftover.length || leftover2.length) throw new Error('challenge TXT records were left in Route 53');
  if (!acm1 || !acm2) throw new Error('an ACM certificate does not hold the AWSCURRENT certificate');

  // Third: the CA asks for early renewal (a revocation drill) and the renewal watch acts on it.
  say('\nRotation 3 (the CA moves the window into the past: the renewal watch renews)');
  const watch = s.newLambda(
    { NOTIFICATION_TOPIC_ARN: topicArn },
    { bundlePath: WATCH_BUNDLE_PATH, functionName: 'acme-rotation-watch' },
  );
  await watch.invoke({}); // its first look: the window is ahead, it asks again after Retry-After
  const secondId = s.ari.certificateOf(second.pem)?.certId;
  if (!secondId) throw new Error('the ARI CA did not see the second certificate');
  await revocationDrill(s, [{ secretArn: secret.arn, certId: secondId }]);
  const service = serveRotations(s, { env: { ACME_ACCOUNT_SECRET_ID: account.arn }, pool: [lambda] });
  const r3Start = Date.now();
  const look = await watch.invoke({});
  const runs = await service.settled();
  service.detach();
  if (!look.ok) throw new Error(`the watch failed: ${look.error.message}`);
  const summary = look.result as { checked: number; due: number; started: number };
  const third = await currentCertificate(s, 'AWSCURRENT');
  say(`  watch         checked ${summary.checked}, due ${summary.due}, started ${summary.started}`);
  for (const run of runs) if (!run.succeeded) throw new Error(`the renewal failed: ${run.lastError?.message}`);
  say(`  done in ${seconds(Date.now() - r3Start)}`);
  say(`  AWSCURRENT    serial ${third.serial}`);
  const replaces3 = s.ari.orders.at(-1)?.replaces;
  say(
    `  newOrder      replaces ${replaces3 ?? 'nothing'} ${replaces3 === secondId ? '(the revoked certificate ✓)' : '✗'}`,
  );
  const acm3 = acmReport(s, acmArns, third.serial);
  const leftover3 = s.aws.route53.txtValues(`_acme-challenge.${ZONE}`);
  say(`  TXT records   ${leftover3.length === 0 ? 'none left behind' : `${leftover3.length} LEFT BEHIND`}`);
  if (leftover3.length) throw new Error('challenge TXT records were left in Route 53');
  if (summary.started !== 1 || third.serial === second.serial)
    throw new Error('the watch did not renew the certificate');
  if (replaces3 !== secondId) throw new Error('the watch-started renewal did not name the certificate it replaces');
  if (!acm3) throw new Error('an ACM certificate does not hold the AWSCURRENT certificate');

  // Fourth: one ACM target refuses the import. AWSCURRENT is the truth: the certificate is
  // promoted and the other ARN takes it; the refusal is a notice of its own; the watch's next run
  // delivers once the ARN is fixed.
  const refusing = acmArns[1] as string;
  const region = (arn: string) => arn.split(':')[3] ?? '?';
  say(`\nRotation 4 (the ${region(refusing)} ACM certificate refuses the import)`);
  const removeRefusal = s.aws.addFault({
    service: 'acm',
    operation: 'ImportCertificate',
    match: (input) => (input as { CertificateArn?: string }).CertificateArn === refusing,
    action: {
      type: 'error',
      error: { code: 'AccessDeniedException', message: 'not authorized to perform acm:ImportCertificate' },
    },
  });
  const run4 = await rotate({ client: s.sm, lambda, secretId: secret.arn, onStep: printStep });
  removeRefusal();
  if (interrupted) return;
  if (!run4.succeeded) failRun(run4, lambda.logs);
  const fourth = await currentCertificate(s, 'AWSCURRENT');
  say(
    `  AWSCURRENT    serial ${fourth.serial} ${fourth.serial !== third.serial ? '(promoted although a target refused ✓)' : '(NOT renewed ✗)'}`,
  );
  const refusal = s.aws.sns.messages
    .map((m) => JSON.parse(m.Message) as Record<string, string>)
    .filter((m) => m.status === 'delivery_failed' && m.acm_certificate_arn === refusing)
    .at(-1);
  say(
    `  notice        ${refusal ? `Certificate Delivery Failed for ${region(refusing)}: ${refusal.aws_error_code}` : 'NONE ✗'}`,
  );
  if (refusal) say(`    remedy      ${refusal.remedy}`);
  acmReport(s, acmArns, fourth.serial, refusing);
  const heldBy = (arn: string) => normaliseSerial(s.aws.acm.certificate(arn)?.serial ?? '');
  const otherTook = heldBy(acmArns[0] as string) === normaliseSerial(fourth.serial);
  const refusedKept = heldBy(refusing) !== normaliseSerial(fourth.serial);
  say('  the permission is fixed; the watch runs');
  const look4 = await watch.invoke({});
  if (!look4.ok) throw new Error(`the watch failed: ${look4.error.message}`);
  const reconciled = (look4.result as { acm?: { checked: number; delivered: number; failed: number } }).acm;
  say(
    `  watch         ACM: ${reconciled ? `checked ${reconciled.checked}, re-delivered ${reconciled.delivered}, failed ${reconciled.failed}` : 'no reconciliation ✗'}`,
  );
  const acm4 = acmReport(s, acmArns, fourth.serial);
  if (fourth.serial === third.serial) throw new Error('rotation 4 did not promote a new certificate');
  if (!refusal) throw new Error('no DeliveryFailed notice named the refusing ARN');
  if (!otherTook || !refusedKept) throw new Error('the refusing ARN held back the other ARN, or did not refuse');
  if (reconciled?.delivered !== 1 || !acm4)
    throw new Error("the watch's reconciliation did not deliver to the fixed ARN");

  // Fifth: the first CA is down. The renewal falls back to the second CA (which requires External
  // Account Binding, as ZeroSSL, Google Trust Services and AWS's ACME endpoints do).
  say('\nRotation 5 (the first CA is down: the renewal falls back to a second CA, which requires EAB)');
  twoCas = await startTwoCas(s);
  const { env: casEnv } = await twoCas.accounts();
  await twoCas.frontA.down();
  say(`  ACME_CAS      ca-a ${twoCas.frontA.directoryUrl} (down), ca-b ${twoCas.frontB.directoryUrl}`);
  const fallbackLambda = s.newLambda(
    { ...casEnv, NOTIFICATION_TOPIC_ARN: topicArn },
    verbose ? { onLog: (line) => say(`    │ ${line}`) } : {},
  );
  const run5 = await rotate({ client: s.sm, lambda: fallbackLambda, secretId: secret.arn, onStep: printStep });
  if (interrupted) return;
  if (!run5.succeeded) failRun(run5, fallbackLambda.logs);
  const fifth = await currentCertificate(s, 'AWSCURRENT');
  const stored = JSON.parse(
    (await s.sm.send(new GetSecretValueCommand({ SecretId: SECRET_NAME, VersionStage: 'AWSCURRENT' }))).SecretString ??
      '{}',
  ) as { chain?: string; acme_ca?: string; acme_fallbacks?: { ca: string; error_code: string; reason: string }[] };
  const issuedByB = twoCas.issuedBy(stored.chain ?? '') === 'b';
  say(
    `  AWSCURRENT    serial ${fifth.serial}, issued by ${stored.acme_ca ?? '?'} ${issuedByB ? '(the second CA ✓)' : '✗'}`,
  );
  for (const f of stored.acme_fallbacks ?? []) say(`  fell back     from ${f.ca}: ${f.error_code} (${f.reason})`);
  const success = s.aws.sns.messages
    .map((m) => JSON.parse(m.Message) as { status?: string; ca?: string; ca_fallbacks?: unknown[] })
    .filter((m) => m.status === 'success')
    .at(-1);
  say(`  notice        success, ca ${success?.ca ?? '?'}, ${success?.ca_fallbacks?.length ?? 0} fallback(s)`);
  const acm5 = acmReport(s, acmArns, fifth.serial);
  const leftover5 = s.aws.route53.txtValues(`_acme-challenge.${ZONE}`);
  say(`  TXT records   ${leftover5.length === 0 ? 'none left behind' : `${leftover5.length} LEFT BEHIND`}`);
  if (!issuedByB || stored.acme_ca !== 'ca-b') throw new Error('the fallback renewal was not issued by the second CA');
  if (stored.acme_fallbacks?.[0]?.ca !== 'ca-a') throw new Error('the bundle does not record the fallback from ca-a');
  if (leftover5.length) throw new Error('challenge TXT records were left in Route 53');
  if (!acm5) throw new Error('an ACM certificate does not hold the AWSCURRENT certificate');
}

try {
  await main();
  if (!interrupted) {
    await shutdown();
    say('\nOK — local stack stopped.');
  }
} catch (err) {
  if (!interrupted) {
    process.stderr.write(`\nFAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown().catch((stopErr: unknown) => process.stderr.write(`while stopping: ${String(stopErr)}\n`));
    process.exitCode = 1;
  }
}
