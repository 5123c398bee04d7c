/**
 * The local Route 53, driven through the real @aws-sdk/client-route-53 over HTTP (a tiny
 * node:http front end here, so these tests do not depend on tests/local/aws/server.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type Change,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { Route53Service } from './aws/route53.js';
import type { ServiceRequest } from './aws/types.js';

let clock = 1_700_000_000_000;
let r53: Route53Service;
let server: Server;
let client: Route53Client;
let injectedFault: { code: string; message: string; status?: number } | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const sreq: ServiceRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const out = injectedFault ? r53.error(injectedFault) : r53.handle(sreq);
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new Route53Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  clock = 1_700_000_000_000;
  injectedFault = undefined;
  r53 = new Route53Service({ changeDelayMs: 1000, now: () => clock });
});

afterEach(() => {
  injectedFault = undefined;
});

function txt(name: string, values: string[], ttl = 60): ResourceRecordSet {
  return { Name: name, Type: 'TXT', TTL: ttl, ResourceRecords: values.map((Value) => ({ Value })) };
}

async function change(zoneId: string, changes: Change[]) {
  return client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));
}

async function records(zoneId: string) {
  const out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return (out.ResourceRecordSets ?? []).map((r) => ({
    name: r.Name,
    type: r.Type,
    ttl: r.TTL,
    values: (r.ResourceRecords ?? []).map((v) => v.Value),
  }));
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

describe('hosted zones', () => {
  it('creates a public zone with a delegation set, SOA and NS', async () => {
    const created = await client.send(
      new CreateHostedZoneCommand({
        Name: 'Example.COM',
        CallerReference: 'ref-1',
        HostedZoneConfig: { Comment: 'c' },
      }),
    );
    expect(created.HostedZone?.Id).toMatch(/^\/hostedzone\/Z[A-Z0-9]+$/);
    expect(created.HostedZone?.Name).toBe('example.com.');
    expect(created.HostedZone?.Config?.PrivateZone).toBe(false);
    expect(created.HostedZone?.Config?.Comment).toBe('c');
    expect(created.ChangeInfo?.Id).toMatch(/^\/change\/C[A-Z0-9]+$/);
    expect(created.ChangeInfo?.Status).toBe('PENDING');
    expect(created.ChangeInfo?.SubmittedAt).toEqual(new Date(clock));
    expect(created.DelegationSet?.NameServers).toEqual([
      'ns-1.local-r53.test',
      'ns-2.local-r53.test',
      'ns-3.local-r53.test',
      'ns-4.local-r53.test',
    ]);
    expect(created.Location).toContain('/2013-04-01/hostedzone/');

    const id = created.HostedZone!.Id!;
    const got = await client.send(new GetHostedZoneCommand({ Id: id }));
    expect(got.HostedZone?.Name).toBe('example.com.');
    expect(got.HostedZone?.ResourceRecordSetCount).toBe(2);
    expect(got.DelegationSet?.NameServers?.[0]).toBe('ns-1.local-r53.test');
    expect(got.VPCs).toBeUndefined();

    expect(await records(id)).toEqual([
      {
        name: 'example.com.',
        type: 'NS',
        ttl: 172800,
        values: ['ns-1.local-r53.test.', 'ns-2.local-r53.test.', 'ns-3.local-r53.test.', 'ns-4.local-r53.test.'],
      },
      {
        name: 'example.com.',
        type: 'SOA',
        ttl: 900,
        values: ['ns-1.local-r53.test. hostmaster.local-r53.test. 1 7200 900 1209600 86400'],
      },
    ]);
    // DNS serves the zone only once its creation is INSYNC.
    expect(r53.servedRecords(id)).toEqual([]);
    clock += 1000;
    expect(r53.servedRecords(id).map((r) => r.type)).toEqual(['NS', 'SOA']);
  });

  it('keeps private and public zones of the same name apart', async () => {
    const pub = await client.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'pub' }));
    const priv = await client.send(
      new CreateHostedZoneCommand({
        Name: 'example.com',
        CallerReference: 'priv',
        VPC: { VPCRegion: 'eu-west-1', VPCId: 'vpc-123' },
        HostedZoneConfig: { PrivateZone: true },
      }),
    );
    expect(priv.HostedZone?.Config?.PrivateZone).toBe(true);
    expect(priv.DelegationSet).toBeUndefined();
    expect(priv.VPC).toEqual({ VPCRegion: 'eu-west-1', VPCId: 'vpc-123' });
    const got = await client.send(new GetHostedZoneCommand({ Id: priv.HostedZone!.Id! }));
    expect(got.VPCs).toEqual([{ VPCRegion: 'eu-west-1', VPCId: 'vpc-123' }]);
    expect(got.DelegationSet).toBeUndefined();
    expect(pub.HostedZone?.Id).not.toBe(priv.HostedZone?.Id);

    await change(priv.HostedZone!.Id!, [
      { Action: 'CREATE', ResourceRecordSet: txt('_acme-challenge.example.com', ['"private"']) },
    ]);
    expect(r53.zone(priv.HostedZone!.Id!)?.records.some((r) => r.type === 'TXT')).toBe(true);
    expect(r53.zone(pub.HostedZone!.Id!)?.records.some((r) => r.type === 'TXT')).toBe(false);

    const listed = await client.send(new ListHostedZonesCommand({ HostedZoneType: 'PrivateHostedZone' }));
    expect(listed.HostedZones?.map((z) => z.Id)).toEqual([priv.HostedZone!.Id]);

    const err = await rejection(
      client.send(new CreateHostedZoneCommand({ Name: 'other.com', CallerReference: 'pub' })),
    );
    expect(err).toMatchObject({ name: 'HostedZoneAlreadyExists', status: 409 });
  });

  it('answers NoSuchHostedZone (404) for unknown zones, with or without the id prefix', async () => {
    for (const id of ['ZNOTTHERE', '/hostedzone/ZNOTTHERE']) {
      const err = await rejection(client.send(new GetHostedZoneCommand({ Id: id })));
      expect(err).toEqual({
        name: 'NoSuchHostedZone',
        message: 'No hosted zone found with ID: ZNOTTHERE',
        status: 404,
      });
    }
    const err = await rejection(
      change('ZNOTTHERE', [{ Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"x"']) }]),
    );
    expect(err.name).toBe('NoSuchHostedZone');
    expect((await rejection(client.send(new ListResourceRecordSetsCommand({ HostedZoneId: 'ZNOTTHERE' })))).name).toBe(
      'NoSuchHostedZone',
    );
  });

  it('accepts prefixed ids in the path (percent-encoded or not)', () => {
    const z = r53.createZone('example.com');
    for (const path of [
      `/2013-04-01/hostedzone/%2Fhostedzone%2F${z.id}`,
      `/2013-04-01/hostedzone/hostedzone/${z.id}`,
    ]) {
      const req: ServiceRequest = { method: 'GET', path, query: new URLSearchParams(), headers: {}, body: '' };
      expect(r53.route(req)?.operation).toBe('GetHostedZone');
      const res = r53.handle(req);
      expect(res.status).toBe(200);
      expect(res.body).toContain(`<Id>/hostedzone/${z.id}</Id>`);
    }
    const unknown: ServiceRequest = {
      method: 'GET',
      path: '/2013-04-01/nothing',
      query: new URLSearchParams(),
      headers: {},
      body: '',
    };
    expect(r53.route(unknown)?.operation).toBe('Unknown');
    expect(r53.handle(unknown).status).toBe(404);
    const rrset = (p: string, method: string): ServiceRequest => ({
      method,
      path: p,
      query: new URLSearchParams(),
      headers: {},
      body: '',
    });
    expect(r53.route(rrset(`/2013-04-01/hostedzone/${z.id}/rrset/`, 'POST'))?.operation).toBe(
      'ChangeResourceRecordSets',
    );
    expect(r53.route(rrset(`/2013-04-01/hostedzone/${z.id}/rrset`, 'POST'))?.operation).toBe(
      'ChangeResourceRecordSets',
    );
    expect(r53.route(rrset(`/2013-04-01/hostedzone/${z.id}/rrset`, 'GET'))?.operation).toBe('ListResourceRecordSets');
    expect(r53.route(rrset(`/2013-04-01/change/C1`, 'GET'))?.operation).toBe('GetChange');
  });

  it('deletes an empty zone and refuses a non-empty one', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"x"']) }]);
    expect(await rejection(client.send(new DeleteHostedZoneCommand({ Id: z.id })))).toMatchObject({
      name: 'HostedZoneNotEmpty',
    });
    await change(z.id, [{ Action: 'DELETE', ResourceRecordSet: txt('a.example.com', ['"x"']) }]);
    const del = await client.send(new DeleteHostedZoneCommand({ Id: z.id }));
    expect(del.ChangeInfo?.Status).toBe('PENDING');
    expect(r53.zone(z.id)).toBeUndefined();
  });
});

describe('ChangeResourceRecordSets', () => {
  it('creates, upserts and deletes, reflecting each change in the API view at once', async () => {
    const z = r53.createZone('example.com');
    const name = '_acme-challenge.example.com';
    const out = await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt(name, ['"v1"', '"v2"']) }]);
    expect(out.ChangeInfo?.Status).toBe('PENDING');
    expect((await records(z.id)).find((r) => r.type === 'TXT')).toEqual({
      name: '_acme-challenge.example.com.',
      type: 'TXT',
      ttl: 60,
      values: ['"v1"', '"v2"'],
    });
    expect(r53.txtValues('_acme-challenge.example.com')).toEqual(['v1', 'v2']);

    await change(z.id, [{ Action: 'UPSERT', ResourceRecordSet: txt(name, ['"v3"'], 120) }]);
    expect((await records(z.id)).find((r) => r.type === 'TXT')).toMatchObject({ ttl: 120, values: ['"v3"'] });

    await change(z.id, [{ Action: 'DELETE', ResourceRecordSet: txt(name, ['"v3"'], 120) }]);
    expect((await records(z.id)).some((r) => r.type === 'TXT')).toBe(false);
    expect(r53.txtValues(name)).toEqual([]);
  });

  it('returns wildcard names escaped as \\052 and accepts both forms', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [
      {
        Action: 'CREATE',
        ResourceRecordSet: { Name: '*.Example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
      },
    ]);
    const listed = await records(z.id);
    expect(listed.find((r) => r.type === 'A')?.name).toBe('\\052.example.com.');
    expect(r53.zone(z.id)?.records.find((r) => r.type === 'A')?.name).toBe('*.example.com.');
    const dup = await rejection(
      change(z.id, [
        {
          Action: 'CREATE',
          ResourceRecordSet: {
            Name: '\\052.example.com.',
            Type: 'A',
            TTL: 60,
            ResourceRecords: [{ Value: '192.0.2.1' }],
          },
        },
      ]),
    );
    expect(dup.message).toBe(
      "[Tried to create resource record set [name='\\052.example.com.', type='A'] but it already exists]",
    );
    await change(z.id, [
      {
        Action: 'DELETE',
        ResourceRecordSet: { Name: '\\052.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
      },
    ]);
    expect((await records(z.id)).some((r) => r.type === 'A')).toBe(false);
  });

  it('rejects invalid batches with InvalidChangeBatch and AWS messages', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [
      { Action: 'CREATE', ResourceRecordSet: txt('x.example.com', ['"a"', '"b"']) },
      {
        Action: 'CREATE',
        ResourceRecordSet: {
          Name: 'www.example.com',
          Type: 'CNAME',
          TTL: 300,
          ResourceRecords: [{ Value: 'example.net' }],
        },
      },
    ]);
    const cases: [Change[], string][] = [
      [
        [{ Action: 'CREATE', ResourceRecordSet: txt('x.example.com', ['"c"']) }],
        "Tried to create resource record set [name='x.example.com.', type='TXT'] but it already exists",
      ],
      [
        [{ Action: 'DELETE', ResourceRecordSet: txt('y.example.com', ['"c"']) }],
        "Tried to delete resource record set [name='y.example.com.', type='TXT'] but it was not found",
      ],
      [
        [{ Action: 'DELETE', ResourceRecordSet: txt('x.example.com', ['"a"']) }],
        "Tried to delete resource record set [name='x.example.com.', type='TXT'] but the values provided do not match the current values",
      ],
      [
        [{ Action: 'DELETE', ResourceRecordSet: txt('x.example.com', ['"a"', '"b"'], 61) }],
        "Tried to delete resource record set [name='x.example.com.', type='TXT'] but the values provided do not match the current values",
      ],
      [
        [{ Action: 'CREATE', ResourceRecordSet: txt('x.example.org', ['"c"']) }],
        'RRSet with DNS name x.example.org. is not permitted in zone example.com.',
      ],
      [
        [{ Action: 'CREATE', ResourceRecordSet: txt('notexample.com', ['"c"']) }],
        'RRSet with DNS name notexample.com. is not permitted in zone example.com.',
      ],
      [
        [
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: 'x.example.com',
              Type: 'CNAME',
              TTL: 60,
              ResourceRecords: [{ Value: 'y.example.com' }],
            },
          },
        ],
        'RRSet of type CNAME with DNS name x.example.com. is not permitted because a conflicting RRSet of type TXT with the same DNS name already exists in zone example.com.',
      ],
      [
        [{ Action: 'UPSERT', ResourceRecordSet: txt('www.example.com', ['"c"']) }],
        'RRSet of type TXT with DNS name www.example.com. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone example.com.',
      ],
      [
        [
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: 'example.com',
              Type: 'CNAME',
              TTL: 60,
              ResourceRecords: [{ Value: 'y.example.net' }],
            },
          },
        ],
        'RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com.',
      ],
      [
        [{ Action: 'CREATE', ResourceRecordSet: txt('z.example.com', ['abc']) }],
        "Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with 'abc''",
      ],
      [
        [{ Action: 'CREATE', ResourceRecordSet: txt('z.example.com', [`"${'a'.repeat(256)}"`]) }],
        `Invalid Resource Record: 'FATAL problem: CharacterStringTooLong (Value is too long) encountered with '"${'a'.repeat(256)}"''`,
      ],
      [
        [
          {
            Action: 'CREATE',
            ResourceRecordSet: { Name: 'z.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '1.2.3' }] },
          },
        ],
        "Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '1.2.3''",
      ],
      [
        [
          { Action: 'UPSERT', ResourceRecordSet: txt('z.example.com', ['"1"']) },
          { Action: 'UPSERT', ResourceRecordSet: txt('z.example.com', ['"2"']) },
        ],
        "The request contains an invalid set of changes for a resource record set 'TXT z.example.com.'",
      ],
      [
        [
          {
            Action: 'DELETE',
            ResourceRecordSet: {
              Name: 'example.com',
              Type: 'NS',
              TTL: 172800,
              ResourceRecords: r53.zone(z.id)!.nameServers.map((n) => ({ Value: `${n}.` })),
            },
          },
        ],
        'A HostedZone must contain at least one NS record for the zone itself.',
      ],
    ];
    for (const [changes, message] of cases) {
      const err = await rejection(change(z.id, changes));
      expect(err, message).toEqual({ name: 'InvalidChangeBatch', message: `[${message}]`, status: 400 });
    }
    // Nothing changed.
    expect((await records(z.id)).map((r) => `${r.name} ${r.type}`)).toEqual([
      'example.com. NS',
      'example.com. SOA',
      'www.example.com. CNAME',
      'x.example.com. TXT',
    ]);
  });

  it('is atomic and reports every failing change', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"a"']) }]);
    const err = await rejection(
      change(z.id, [
        { Action: 'CREATE', ResourceRecordSet: txt('new.example.com', ['"ok"']) },
        { Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"a"']) },
        { Action: 'DELETE', ResourceRecordSet: txt('gone.example.com', ['"g"']) },
      ]),
    );
    expect(err.name).toBe('InvalidChangeBatch');
    expect(err.message).toBe(
      "[Tried to create resource record set [name='a.example.com.', type='TXT'] but it already exists, " +
        "Tried to delete resource record set [name='gone.example.com.', type='TXT'] but it was not found]",
    );
    expect(r53.txtValues('new.example.com')).toEqual([]);
    expect(r53.zone(z.id)?.records).toHaveLength(3);
  });

  it('applies changes in order: DELETE then CREATE of one record set replaces it', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"old"']) }]);
    await change(z.id, [
      { Action: 'DELETE', ResourceRecordSet: txt('a.example.com', ['"old"']) },
      { Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"new"', '"other"']) },
    ]);
    expect(r53.txtValues('a.example.com')).toEqual(['new', 'other']);
    // DELETE matches the value set regardless of order.
    await change(z.id, [{ Action: 'DELETE', ResourceRecordSet: txt('a.example.com', ['"other"', '"new"']) }]);
    expect(r53.txtValues('a.example.com')).toEqual([]);
  });

  it('answers InvalidInput for malformed changes', async () => {
    const z = r53.createZone('example.com');
    const noTtl = await rejection(
      change(z.id, [
        {
          Action: 'CREATE',
          ResourceRecordSet: { Name: 'a.example.com', Type: 'TXT', ResourceRecords: [{ Value: '"x"' }] },
        },
      ]),
    );
    expect(noTtl.name).toBe('InvalidInput');
    expect(noTtl.message).toContain('Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]]');
    const noRecords = await rejection(
      change(z.id, [{ Action: 'CREATE', ResourceRecordSet: { Name: 'a.example.com', Type: 'TXT', TTL: 60 } }]),
    );
    expect(noRecords.name).toBe('InvalidInput');
    const empty = await rejection(change(z.id, []));
    expect(empty.name).toBe('InvalidInput');
    const badXml = r53.handle({
      method: 'POST',
      path: `/2013-04-01/hostedzone/${z.id}/rrset/`,
      query: new URLSearchParams(),
      headers: {},
      body: '<ChangeResourceRecordSetsRequest><ChangeBatch>',
    });
    expect(badXml.status).toBe(400);
    expect(badXml.body).toContain('<Code>InvalidInput</Code>');
  });

  it('parses injected faults (error) into the SDK error name', async () => {
    injectedFault = { code: 'Throttling', message: 'Rate exceeded' };
    const err = await rejection(client.send(new ListHostedZonesCommand({})));
    expect(err).toEqual({ name: 'Throttling', message: 'Rate exceeded', status: 400 });
    injectedFault = { code: 'ServiceUnavailable', message: 'try later', status: 503 };
    expect(await rejection(client.send(new ListHostedZonesCommand({})))).toMatchObject({
      name: 'ServiceUnavailable',
      status: 503,
    });
  });
});

describe('change propagation', () => {
  it('goes PENDING → INSYNC after changeDelayMs; DNS sees a change only once INSYNC', async () => {
    const z = r53.createZone('example.com');
    const name = '_acme-challenge.example.com';
    const first = await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt(name, ['"one"']) }]);
    const id = first.ChangeInfo!.Id!;
    const served = () =>
      r53
        .servedRecords(z.id)
        .filter((r) => r.type === 'TXT')
        .map((r) => r.values);

    expect((await client.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status).toBe('PENDING');
    expect(served()).toEqual([]);
    clock += 999;
    expect((await client.send(new GetChangeCommand({ Id: id.replace('/change/', '') }))).ChangeInfo?.Status).toBe(
      'PENDING',
    );
    clock += 1;
    const insync = await client.send(new GetChangeCommand({ Id: id }));
    expect(insync.ChangeInfo).toMatchObject({ Id: id, Status: 'INSYNC', SubmittedAt: new Date(clock - 1000) });
    expect(served()).toEqual([['"one"']]);

    // A second change: the API view moves at once, DNS keeps the previous state until INSYNC.
    clock += 5000;
    const second = await change(z.id, [{ Action: 'UPSERT', ResourceRecordSet: txt(name, ['"two"']) }]);
    expect(r53.txtValues(name)).toEqual(['two']);
    expect(served()).toEqual([['"one"']]);
    clock += 1000;
    expect(served()).toEqual([['"two"']]);
    expect((await client.send(new GetChangeCommand({ Id: second.ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe('INSYNC');
  });

  it('holds changes PENDING while holdChanges(true), and honours a runtime changeDelayMs', async () => {
    const z = r53.createZone('example.com');
    r53.holdChanges(true);
    const c = await change(z.id, [{ Action: 'CREATE', ResourceRecordSet: txt('a.example.com', ['"x"']) }]);
    clock += 60_000;
    expect((await client.send(new GetChangeCommand({ Id: c.ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe('PENDING');
    expect(r53.servedRecords(z.id).some((r) => r.type === 'TXT')).toBe(false);
    r53.holdChanges(false);
    expect((await client.send(new GetChangeCommand({ Id: c.ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe('INSYNC');

    r53.changeDelayMs = 0;
    const now = await change(z.id, [{ Action: 'DELETE', ResourceRecordSet: txt('a.example.com', ['"x"']) }]);
    expect(now.ChangeInfo?.Status).toBe('INSYNC');
    expect(r53.servedRecords(z.id).some((r) => r.type === 'TXT')).toBe(false);
  });

  it('answers NoSuchChange (404) for unknown change ids', async () => {
    const err = await rejection(client.send(new GetChangeCommand({ Id: '/change/CNOPE' })));
    expect(err).toMatchObject({ name: 'NoSuchChange', status: 404 });
  });
});

describe('listing', () => {
  it('ListHostedZonesByName orders by reversed labels and paginates', async () => {
    const names = [
      'example.com',
      'a.example.com',
      'example.net',
      'com',
      'b.example.com',
      'z.example.com',
      'example-a.com',
      'example.com',
    ];
    const ids: Record<string, string[]> = {};
    for (const n of names) (ids[n] ??= []).push(r53.createZone(n).id);
    // Reversed-label keys: com. / com.example-a. / com.example. / com.example.a. / ... / net.example.
    const expected = [
      'com.',
      'example-a.com.',
      'example.com.',
      'example.com.',
      'a.example.com.',
      'b.example.com.',
      'z.example.com.',
      'example.net.',
    ];
    const all = await client.send(new ListHostedZonesByNameCommand({}));
    expect(all.HostedZones?.map((z) => z.Name)).toEqual(expected);
    expect(all.IsTruncated).toBe(false);
    // The two example.com zones are ordered by id.
    const twins = all
      .HostedZones!.filter((z) => z.Name === 'example.com.')
      .map((z) => z.Id!.replace('/hostedzone/', ''));
    expect(twins).toEqual([...ids['example.com']!].sort());

    const seen: string[] = [];
    let dnsName: string | undefined;
    let zoneId: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await client.send(
        new ListHostedZonesByNameCommand({ DNSName: dnsName, HostedZoneId: zoneId, MaxItems: 3 }),
      );
      pages++;
      seen.push(...page.HostedZones!.map((z) => z.Name!));
      expect(page.MaxItems).toBe(3);
      if (!page.IsTruncated) break;
      dnsName = page.NextDNSName;
      zoneId = page.NextHostedZoneId;
      expect(dnsName).toBeDefined();
      expect(zoneId).toBeDefined();
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(expected);

    const from = await client.send(new ListHostedZonesByNameCommand({ DNSName: 'B.Example.Com', MaxItems: 1 }));
    expect(from.HostedZones?.map((z) => z.Name)).toEqual(['b.example.com.']);
    expect(from.DNSName).toBe('B.Example.Com');
    expect(from.NextDNSName).toBe('z.example.com.');
    // A name between zones starts at the next one.
    const between = await client.send(new ListHostedZonesByNameCommand({ DNSName: 'c.example.com', MaxItems: 1 }));
    expect(between.HostedZones?.map((z) => z.Name)).toEqual(['z.example.com.']);
    const bad = await rejection(client.send(new ListHostedZonesByNameCommand({ HostedZoneId: 'Z1' })));
    expect(bad.name).toBe('InvalidInput');
  });

  it('ListHostedZones paginates with Marker/NextMarker', async () => {
    const created = ['a.test', 'b.test', 'c.test'].map((n) => r53.createZone(n).id);
    const p1 = await client.send(new ListHostedZonesCommand({ MaxItems: 2 }));
    expect(p1.HostedZones?.map((z) => z.Id)).toEqual(created.slice(0, 2).map((id) => `/hostedzone/${id}`));
    expect(p1.IsTruncated).toBe(true);
    expect(p1.NextMarker).toBe(created[2]);
    const p2 = await client.send(new ListHostedZonesCommand({ MaxItems: 2, Marker: p1.NextMarker }));
    expect(p2.HostedZones?.map((z) => z.Name)).toEqual(['c.test.']);
    expect(p2.IsTruncated).toBe(false);
  });

  it('ListResourceRecordSets lists in AWS order from name/type and paginates', async () => {
    const z = r53.createZone('example.com');
    await change(z.id, [
      { Action: 'CREATE', ResourceRecordSet: txt('_acme-challenge.example.com', ['"t"']) },
      { Action: 'CREATE', ResourceRecordSet: txt('b.example.com', ['"b"']) },
      {
        Action: 'CREATE',
        ResourceRecordSet: { Name: 'b.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] },
      },
      {
        Action: 'CREATE',
        ResourceRecordSet: { Name: '*.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.3' }] },
      },
      { Action: 'CREATE', ResourceRecordSet: txt('a.b.example.com', ['"ab"']) },
      {
        Action: 'CREATE',
        ResourceRecordSet: { Name: 'example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
      },
    ]);
    const expected = [
      'example.com. A',
      'example.com. NS',
      'example.com. SOA',
      '\\052.example.com. A', // '*' (42) sorts before '_' and letters
      '_acme-challenge.example.com. TXT',
      'b.example.com. A',
      'b.example.com. TXT',
      'a.b.example.com. TXT',
    ];
    expect((await records(z.id)).map((r) => `${r.name} ${r.type}`)).toEqual(expected);

    const seen: string[] = [];
    let name: string | undefined;
    let type: string | undefined;
    for (;;) {
      const page = await client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: z.id,
          StartRecordName: name,
          StartRecordType: type as 'A' | undefined,
          MaxItems: 3,
        }),
      );
      seen.push(...page.ResourceRecordSets!.map((r) => `${r.Name} ${r.Type}`));
      if (!page.IsTruncated) break;
      name = page.NextRecordName;
      type = page.NextRecordType;
    }
    expect(seen).toEqual(expected);

    const fromName = await client.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: z.id,
        StartRecordName: 'B.example.com',
        StartRecordType: 'TXT',
        MaxItems: 1,
      }),
    );
    expect(fromName.ResourceRecordSets?.map((r) => `${r.Name} ${r.Type}`)).toEqual(['b.example.com. TXT']);
    expect(fromName).toMatchObject({ IsTruncated: true, NextRecordName: 'a.b.example.com.', NextRecordType: 'TXT' });

    const typeOnly = await rejection(
      client.send(new ListResourceRecordSetsCommand({ HostedZoneId: z.id, StartRecordType: 'TXT' })),
    );
    expect(typeOnly.name).toBe('InvalidInput');
  });
});
