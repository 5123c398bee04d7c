/**
 * The prose of docs/PERFORMANCE.md that numbers cannot write: per benchmark id, what bounds the
 * figure and what would fix a miss. `always` is printed every run, `miss`/`pass` by the outcome.
 * Id 0 is a closing section. Written from the code (rotation/) and the first benchmark runs.
 */
export const ANALYSIS: Record<number, { always?: string; miss?: string; pass?: string }> = {
  1: {
    miss:
      "The floor is one PENDING period (D) per rotation: every zone's change is submitted at once and waited for " +
      'concurrently (`waitAllInsync`), so two zones should cost no more than one. What the figure pays on top is the ' +
      'GetChange polling schedule in `rotation/dns/route53-provider.ts`: `backoffDelay(attempt, 250, 5000)` with full ' +
      'jitter, first look after 250 ms, then ≤ 500, ≤ 1000, ≤ 2000, ≤ 4000 ms. The poll that first sees INSYNC can land ' +
      'up to one (doubling) interval after D, i.e. anywhere between D and ≈ 2 × D; with two zones the wait is the ' +
      '*maximum* of two independent jittered sequences, which is why two zones come out worse than one. Larger ' +
      'certificates add the longer propagation check and per-name CA work (see the phases column). ' +
      'Fixes: (a) cap the poll interval near the expected delay instead of doubling past it (e.g. poll every ' +
      "≤ 500 ms once the elapsed time nears the zone's usual INSYNC time — real Route 53 takes tens of seconds, so " +
      'a 0.5–1 s cap costs a handful of extra GetChange calls against a 5 req/s budget, which benchmark 5/6 must ' +
      'weigh); (b) share one poll schedule across zones and poll the zone still PENDING, so two zones cost the same as ' +
      'one; (c) start the DNS propagation check for a zone as soon as *its* change is INSYNC.',
  },
  2: {
    miss:
      'The bare-protocol baseline is tens of milliseconds against a local Pebble, so any fixed wait dominates. The ' +
      'phases column shows it: `dns-insync-wait` ≈ 250 ms even with D = 0, because `waitInsync` deliberately sleeps ' +
      'the first backoff step (`pollMinMs` = 250 ms) before the first GetChange ("a new change is PENDING; look after ' +
      'the first backoff step"). Everything else (Secrets Manager calls, account load, TLS handshake in testSecret, ' +
      "the four invocations' IPC) is ≈ 100 ms. Fixes: use the status ChangeResourceRecordSets already returns (skip " +
      'the wait when it says INSYNC) and make the first GetChange look early (e.g. 50 ms) — that alone takes the ' +
      'rotation from ≈ 400 ms to ≈ 150 ms here. The rest is bounded by what the rotation must do beyond the order ' +
      '(≈ 16 Secrets Manager calls, verification with a real handshake): a ratio near 2 is the realistic floor on a ' +
      "loopback CA; against Let's Encrypt, where the protocol itself takes seconds, the same fixed cost is < 1.1. Rotation times are bimodal (≈ 400 ms or ≈ 650 ms): some runs pay one more ≈ 250 ms poll step (a second GetChange or order-status look), so the median flips between ratios of ≈ 6 and ≈ 11 from run to run.",
  },
  3: {
    always:
      'The init-time bundle is index.mjs plus its static chunks (the SDK clients for Secrets Manager and Route 53, ' +
      'the handler, verification); acme-client, axios and the ACME account code live in lazy chunks loaded by ' +
      'createSecret only, and node-forge is stubbed out by `scripts/build.mjs`.',
    miss:
      "Import time is at the target's edge (≈ 0.5) even though the file is a third of the naive size: the static " +
      'graph still evaluates both SDK clients (Secrets Manager and Route 53, with their shared Smithy core) at init, and ' +
      'SNS/EventBridge are loaded whenever a topic or bus is configured. Fixes: import the Route 53 client lazily from ' +
      'createSecret (setSecret, testSecret and finishSecret never touch DNS), and the notifier clients only when a ' +
      'notice is sent; with ESM splitting already on this is a matter of `await import()` at the call sites. ' +
      "Note the second row: a cold container's *first createSecret* loads the lazy ACME chunks too and pays about " +
      'what the naive bundle pays — laziness moves the cost rather than removing it for that step; dropping axios ' +
      "(acme-client's HTTP layer) for `fetch` would be the next saving.",
    pass: 'Both size and import time are within the target.',
  },
  4: {
    always:
      'Memory setting: the Pulumi default is `memoryMb` = 512 (`infra/config.ts`, range 128–10240). The measured peak ' +
      'fits the 128 MiB minimum, so 512 is chosen for CPU, not memory: Lambda allots CPU in proportion to memory, and ' +
      'key generation (rsa-4096 especially) and the TLS handshake in testSecret are CPU-bound. Deployments that care ' +
      'more about cost than seconds can set 128–256.',
    miss:
      'Over 128 MiB: look at the growth between stages (a warm container accumulating state) and the largest ' +
      'certificates; lazy-loading the SDK clients (see 3) also lowers the baseline.',
  },
  5: {
    always:
      'Per rotation, Route 53: `ListHostedZonesByName` (zone discovery by longest suffix, once per rotation), ' +
      '`ListResourceRecordSets` before each change (the current TXT values at `_acme-challenge.<name>`, so values are ' +
      "merged with others' and clean-up removes only ours — one read before the create and one before the clean-up, per " +
      'zone), `ChangeResourceRecordSets` (one create + one clean-up per zone), and `GetChange` polls (the count follows ' +
      'D and the backoff schedule of benchmark 1; the clean-up change is not waited for). Secrets Manager: each of the ' +
      'four invocations begins with `DescribeSecret` (the standard checks and the spec tags); createSecret also reads ' +
      'the current and pending values, the ACME account secret, writes the in-flight order tag and clears it ' +
      '(`TagResource`/`UntagResource`), and `PutSecretValue`; testSecret reads the pending value; finishSecret moves ' +
      'the stage and writes the status tags. CA: every signed POST is preceded by a `HEAD /nonce-plz` in the log — ' +
      'acme-client fetches a fresh nonce whenever it has none banked, and the parallel `completeChallenge` / ' +
      'authorization requests each need their own.',
    miss: 'More than one create and one clean-up change per zone: the rotation is splitting its change batch.',
    pass:
      'The target holds: exactly one create and one clean-up change per zone. Cheapest further savings: reuse ' +
      'nonces from responses (≈ 40 % of CA requests are HEAD /nonce-plz), cache zone discovery per container, ' +
      'and fewer GetChange polls (which pulls against benchmark 1 — see there).',
  },
  6: {
    always:
      '**The "Pebble stall" (an earlier run failed rotations with `could not reach the CA ... during ' +
      'getAuthorizations: ECONNABORTED timeout of 15000ms`).** Investigated with BENCH_DIAG_DIR (Pebble log, the ' +
      "functions' logs, a per-second Pebble probe, event-loop lag and load samples): in the runs since, Pebble itself " +
      'answered every probe and no CA request timed out, also with two extra CPU-bound processes competing. What the ' +
      'diagnostics do show is the harness starving itself: 100 containers cold-starting at once on 2 cores push the ' +
      'load average past 25 (about 20 with pre-warming); createSecret took a median 11 s from its start to the ACME order (a few Secrets Manager ' +
      'calls and ≈ 0.1 s of CPU each for the lazy ACME chunks — the rest is waiting for a core), and in the ' +
      '50-container e2e test ' +
      'simultaneous inits overran the 10 s init limit (`Init phase timed out`). A container that gets a few percent ' +
      "of a core for 15 s sees acme-client's 15 s request timeout fire (Node runs expired timers before reading a " +
      'response that arrived meanwhile), so any extra load on the machine (e.g. another test run) turns the cold-start ' +
      'burst into CA timeouts across the board. That burst is a harness artefact — in Lambda every sandbox inits on ' +
      "its own CPU — so the containers' init phases now run before the timed window, 4 at a time; the lazy ACME " +
      'chunks still load inside it. Pebble 2.4 has no request limit of its own that 100 orders reach (its VA runs each ' +
      'validation in its own goroutine; 3 DNS lookups per challenge against the local responder). If the stall comes ' +
      'back, the probe line above tells Pebble (slow probe) from the containers (fast probe, CA timeouts in the ' +
      'functions).',
    miss:
      "Failures: Route 53 answers `Throttling` and the SDK's adaptive retry gives up after `maxAttempts: 10` " +
      '(`rotation/index.ts`); with 100 independent sandboxes each has its own client-side rate estimator, so they ' +
      'collectively keep offering ≈ 3× more requests than the bucket admits (see the throttled count), and the unlucky ' +
      'ones exhaust their attempts — mostly on the first Route 53 call (`ListHostedZonesByName`, zone discovery), ' +
      'before any record was written. In AWS, Secrets Manager would retry the rotation later, but the ' +
      'target is zero failures. The ratio counts the calls of failed rotations in the floor, so it is only meaningful ' +
      "when none failed. Fixes: (a) retry throttling until the step's deadline instead of a fixed attempt count (a " +
      'custom retry strategy with jittered backoff, capped at a few seconds and bounded by `getRemainingTimeInMillis` ' +
      'minus the clean-up reserve), for every Route 53 call; (b) fewer calls per rotation: skip ' +
      '`ListHostedZonesByName` when `acme:hosted-zone-ids` is set or cache it per container, drop the pre-clean-up ' +
      "`ListResourceRecordSets` when the create batch's view can be reused (a conflict makes the compare-and-swap " +
      're-read anyway), and poll GetChange less often when throttled (or share one poll schedule per zone).',
  },
  0: {
    always: [
      '## Top optimisation opportunities',
      '',
      "1. **GetChange polling** (benchmarks 1, 2): no blind 250 ms first sleep (use the change's returned status, look " +
        'early), and cap/share the poll interval across zones instead of doubling past D. Biggest single win for ' +
        'latency and for the overhead ratio.',
      '2. **Throttling resilience** (benchmark 6): retry Route 53 throttling until the invocation deadline rather than ' +
        '10 attempts, and trim per-rotation Route 53 calls (zone-discovery cache, fewer reads and polls) — zero ' +
        'failures is the target and every call saved is 0.2 s of floor at 5 req/s.',
      '3. **Cold start and CA round trips** (benchmarks 3, 5): lazy-load the Route 53 and notifier clients, replace ' +
        'axios, and reuse nonces (about four in ten CA requests are nonce fetches).',
    ].join('\n'),
  },
};
