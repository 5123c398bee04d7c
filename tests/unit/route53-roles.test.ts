import type { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { RoleCredentials } from '../../rotation/aws/sts.js';
import { AwsServiceError, type RotationError } from '../../rotation/lib/errors.js';
import { ZoneRoutedRoute53, type Route53Port } from '../../rotation/route53/routed.js';

const ROLE = 'arn:aws:iam::111122223333:role/acme-dns';
const OTHER = 'Z0OTHERACCOUNT';
const OWN = 'Z0OWNACCOUNT';

/** A Route 53 port that records who was asked what, answering with a change id of its own. */
function port(name: string, log: string[], fail?: (op: string) => Error | undefined): Route53Port {
  const call = async <T>(op: string, value: T): Promise<T> => {
    log.push(`${name}:${op}`);
    const err = fail?.(op);
    if (err) throw err;
    return value;
  };
  return {
    listFirstZones: () => call('ListHostedZonesByName', { zones: [], complete: true }),
    listZonesByName: () => call('ListHostedZonesByName', []),
    getZone: (id) => call('GetHostedZone', { id, name: 'example.com', privateZone: false, nameServers: [] }),
    listRecordSets: () => call('ListResourceRecordSets', []),
    changeRecords: () => call('ChangeResourceRecordSets', { id: `C-${name}`, status: 'PENDING' as const }),
    getChange: () => call('GetChange', 'INSYNC' as const),
  };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as RotationError,
  );

describe('Route 53 across accounts (ROUTE53_ROLES)', () => {
  it('sends every call for a zone with a role to that role, the rest and discovery to the function', async () => {
    const log: string[] = [];
    const routed = new ZoneRoutedRoute53(port('own', log), {
      roles: { [OTHER]: ROLE },
      adapterFor: async (arn) => port(`role(${arn.split('/')[1]})`, log),
    });
    await routed.listFirstZones();
    await routed.getZone(`/hostedzone/${OTHER}`);
    await routed.listRecordSets(OTHER, '_acme-challenge.example.com');
    const change = await routed.changeRecords(OTHER, []);
    await routed.getChange(change.id);
    const ownChange = await routed.changeRecords(OWN, []);
    await routed.getChange(ownChange.id);
    expect(log).toEqual([
      'own:ListHostedZonesByName',
      'role(acme-dns):GetHostedZone',
      'role(acme-dns):ListResourceRecordSets',
      'role(acme-dns):ChangeResourceRecordSets',
      'role(acme-dns):GetChange', // a change id belongs to the account that made it
      'own:ChangeResourceRecordSets',
      'own:GetChange',
    ]);
  });

  it('a role that cannot be assumed: Route53RoleUnusable naming the role and the zone', async () => {
    const denied = new AwsServiceError(
      'STS',
      'AssumeRole',
      'AccessDenied',
      `User: arn:aws:sts::123456789012:assumed-role/acme-rotation/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`,
    );
    const routed = new ZoneRoutedRoute53(port('own', []), {
      roles: { [OTHER]: ROLE },
      externalId: 'x',
      adapterFor: async () => port('role', [], () => denied),
    });
    const err = await failure(routed.getZone(OTHER));
    expect(err?.code).toBe('Route53RoleUnusable');
    expect(err?.message).toMatch(
      new RegExp(`^cannot assume ${ROLE} for hosted zone ${OTHER}: STS AssumeRole failed \\(AccessDenied\\): User: `),
    );
    expect(err?.message).toContain(
      "the role's trust policy must let this function's role assume it with the external id",
    );
  });

  it('a role that lacks a Route 53 permission: the zone and the action named', async () => {
    const denied = new AwsServiceError('Route53', 'ChangeResourceRecordSets', 'AccessDenied', 'not authorized');
    const routed = new ZoneRoutedRoute53(port('own', []), {
      roles: { [OTHER]: ROLE },
      adapterFor: async () => port('role', [], (op) => (op === 'ChangeResourceRecordSets' ? denied : undefined)),
    });
    const err = await failure(routed.changeRecords(OTHER, []));
    expect(err?.code).toBe('AwsRoute53Error');
    expect(err?.message).toContain(
      `the role ${ROLE} for hosted zone ${OTHER} may not call route53:ChangeResourceRecordSets: give it the policy the stack exports for it`,
    );
  });
});

describe('role credentials', () => {
  function sts(expiresInMs: () => number, fail = false) {
    const sent: unknown[] = [];
    const client = {
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        if (fail) throw Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
        return {
          Credentials: {
            AccessKeyId: `ASIA${sent.length}`,
            SecretAccessKey: 's',
            SessionToken: 't',
            Expiration: new Date(Date.now() + expiresInMs()),
          },
        };
      },
    } as unknown as STSClient;
    return { client, sent };
  }

  it('assumes once, with the external id, and renews five minutes before the session ends', async () => {
    let life = 3_600_000;
    const { client, sent } = sts(() => life);
    const creds = new RoleCredentials(client, ROLE, 'ext-1', 'acme-rotation');
    const [a, b] = await Promise.all([creds.get(), creds.get()]);
    expect(a.accessKeyId).toBe('ASIA1');
    expect(b.accessKeyId).toBe('ASIA1');
    expect(sent).toEqual([
      { RoleArn: ROLE, RoleSessionName: 'acme-rotation', DurationSeconds: 3600, ExternalId: 'ext-1' },
    ]);
    life = 4 * 60_000; // the next session is already within the renewal margin
    const late = new RoleCredentials(client, ROLE, undefined, 'acme-rotation');
    await late.get();
    expect((await late.get()).accessKeyId).toBe('ASIA3');
    expect(sent).toHaveLength(3);
  });

  it('a refusal is an STS AwsServiceError (the routed adapter names the role)', async () => {
    const err = await failure(new RoleCredentials(sts(() => 0, true).client, ROLE, undefined, 's').get());
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err?.message).toBe('STS AssumeRole failed (AccessDenied): not authorized');
  });
});
