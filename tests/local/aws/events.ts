/**
 * Local EventBridge (JSON 1.1 protocol, `X-Amz-Target: AWSEvents.<Op>`).
 * PutEvents records accepted entries in `entries`; an entry for an unknown bus fails on its own
 * (per-entry ErrorCode, counted in FailedEntryCount) as the real service does.
 */
import { randomUUID } from 'node:crypto';
import { LocalServiceError } from './errors.js';
import { JsonService } from './protocols.js';
import type { Call } from './types.js';

export interface EventEntry {
  Source: string;
  DetailType: string;
  /** The JSON text as sent. */
  Detail: string;
  /** As sent (name or ARN); 'default' when left out. */
  EventBusName: string;
  Resources?: string[];
  /** Epoch seconds, if the caller set Time. */
  Time?: number;
  EventId: string;
}

export interface EventsOptions {
  accountId?: string;
  region?: string;
}

type Input = Record<string, unknown>;

const MAX_ENTRIES = 10;

export class EventsService extends JsonService {
  readonly name = 'events';
  protected readonly targetPrefix = 'AWSEvents';
  readonly accountId: string;
  readonly region: string;
  readonly entries: EventEntry[] = [];
  /** Bus names; 'default' always exists. */
  readonly buses = new Set<string>(['default']);

  constructor(opts: EventsOptions = {}) {
    super();
    this.accountId = opts.accountId ?? '123456789012';
    this.region = opts.region ?? 'us-east-1';
  }

  busArn(name: string): string {
    return `arn:aws:events:${this.region}:${this.accountId}:event-bus/${name}`;
  }

  /** Create a bus directly; returns its ARN. */
  createEventBus(name: string): string {
    if (this.buses.has(name)) {
      throw new LocalServiceError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
    }
    if (!/^[/.\-_A-Za-z0-9]{1,256}$/.test(name) || name === 'default') {
      throw new LocalServiceError('ValidationException', `Event bus name ${name} is not valid.`);
    }
    this.buses.add(name);
    return this.busArn(name);
  }

  protected run(call: Call): unknown {
    return this.handle(call.operation, call.input as Input);
  }

  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'PutEvents':
        return this.putEvents(input);
      case 'CreateEventBus': {
        const name = input['Name'];
        if (typeof name !== 'string') {
          throw new LocalServiceError('ValidationException', 'Name is required.');
        }
        return { EventBusArn: this.createEventBus(name) };
      }
      case 'DescribeEventBus': {
        const ref = typeof input['Name'] === 'string' ? input['Name'] : 'default';
        const name = this.busName(ref);
        if (name === undefined) {
          throw new LocalServiceError('ResourceNotFoundException', `Event bus ${ref} does not exist.`);
        }
        return { Name: name, Arn: this.busArn(name) };
      }
      case 'DeleteEventBus': {
        const name = input['Name'];
        if (typeof name === 'string' && name !== 'default') this.buses.delete(name);
        return {};
      }
      default:
        throw new LocalServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by the local EventBridge.`,
        );
    }
  }

  /** A bus name or ARN of this account/region → its name, if the bus exists. */
  private busName(ref: string): string | undefined {
    const prefix = `arn:aws:events:${this.region}:${this.accountId}:event-bus/`;
    const name = ref.startsWith('arn:') ? (ref.startsWith(prefix) ? ref.slice(prefix.length) : undefined) : ref;
    return name !== undefined && this.buses.has(name) ? name : undefined;
  }

  private putEvents(input: Input): unknown {
    const entries = input['Entries'];
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new LocalServiceError(
        'ValidationException',
        "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
      );
    }
    if (entries.length > MAX_ENTRIES) {
      throw new LocalServiceError(
        'ValidationException',
        `1 validation error detected: Value '[...]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ENTRIES}`,
      );
    }
    let failed = 0;
    const results = entries.map((raw: unknown) => {
      const result = this.putEntry((raw ?? {}) as Input);
      if ('ErrorCode' in result) failed++;
      return result;
    });
    return { FailedEntryCount: failed, Entries: results };
  }

  private putEntry(e: Input): { EventId: string } | { ErrorCode: string; ErrorMessage: string } {
    const bus = typeof e['EventBusName'] === 'string' ? e['EventBusName'] : 'default';
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      if (typeof e[field] !== 'string' || e[field] === '') {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    const detail = e['Detail'] as string;
    if (!isJsonObject(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (this.busName(bus) === undefined) {
      return {
        ErrorCode: 'ResourceNotFoundException',
        ErrorMessage: `Event bus ${bus} does not exist.`,
      };
    }
    const entry: EventEntry = {
      Source: e['Source'] as string,
      DetailType: e['DetailType'] as string,
      Detail: detail,
      EventBusName: bus,
      EventId: randomUUID(),
    };
    if (Array.isArray(e['Resources'])) entry.Resources = e['Resources'] as string[];
    if (typeof e['Time'] === 'number') entry.Time = e['Time'];
    this.entries.push(entry);
    return { EventId: entry.EventId };
  }
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
