/**
 * Local SNS (awsQuery protocol: form-encoded POST `Action=Publish&...`, XML responses).
 * Records published messages in `messages` for assertions.
 */
import { randomUUID } from 'node:crypto';
import { LocalServiceError } from './errors.js';
import { escapeXml, isQueryRequest, xmlErrorResponse } from './protocols.js';
import type { AwsFaultError, Call, LocalService, ServiceRequest, ServiceResponse } from './types.js';

export const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

export interface SnsMessageAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export interface SnsMessage {
  TopicArn: string;
  Subject?: string;
  Message: string;
  MessageAttributes?: Record<string, SnsMessageAttribute>;
  MessageId: string;
}

/** The decoded form of an awsQuery request (the call's recorded input). */
export interface SnsInput {
  Action?: string;
  [field: string]: unknown;
}

export interface SnsOptions {
  accountId?: string;
  region?: string;
}

export class SnsService implements LocalService {
  readonly name = 'sns';
  readonly protocol = 'xml';
  readonly internalErrorCode = 'InternalFailure';
  readonly accountId: string;
  readonly region: string;
  readonly messages: SnsMessage[] = [];
  readonly topics = new Set<string>();

  constructor(opts: SnsOptions = {}) {
    this.accountId = opts.accountId ?? '123456789012';
    this.region = opts.region ?? 'us-east-1';
  }

  /** Create a topic directly (idempotent); returns its ARN. */
  createTopic(name: string): string {
    if (!/^[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(name)) {
      throw new LocalServiceError(
        'InvalidParameter',
        'Invalid parameter: Topic Name must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.',
      );
    }
    const arn = `arn:aws:sns:${this.region}:${this.accountId}:${name}`;
    this.topics.add(arn);
    return arn;
  }

  /** Any Query-protocol request STS did not claim (the dispatcher asks STS first). */
  route(request: ServiceRequest): Call | undefined {
    if (!isQueryRequest(request)) return undefined;
    const input = decodeForm(request.body);
    return { operation: String(input.Action), input, request };
  }

  serve(call: Call): ServiceResponse {
    return {
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body: this.handle(call.operation, call.input as SnsInput),
    };
  }

  error(err: AwsFaultError): ServiceResponse {
    return xmlErrorResponse(SNS_XMLNS, err);
  }

  /** Run an operation; returns the XML response body or throws an LocalServiceError. */
  handle(operation: string, input: SnsInput): string {
    switch (operation) {
      case 'CreateTopic': {
        const name = str(input, 'Name');
        if (name === undefined) throw invalid('Invalid parameter: Name');
        const arn = this.createTopic(name);
        return respond('CreateTopic', `<TopicArn>${escapeXml(arn)}</TopicArn>`);
      }
      case 'DeleteTopic': {
        const arn = str(input, 'TopicArn');
        if (arn !== undefined) this.topics.delete(arn);
        return respond('DeleteTopic', undefined);
      }
      case 'ListTopics': {
        const members = [...this.topics]
          .map((arn) => `<member><TopicArn>${escapeXml(arn)}</TopicArn></member>`)
          .join('');
        return respond('ListTopics', `<Topics>${members}</Topics>`);
      }
      case 'Publish':
        return this.publish(input);
      default:
        throw new LocalServiceError('InvalidAction', `The action ${operation} is not valid for this endpoint.`);
    }
  }

  private publish(input: SnsInput): string {
    const topicArn = str(input, 'TopicArn') ?? str(input, 'TargetArn');
    if (topicArn === undefined) {
      throw invalid('Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    }
    const message = str(input, 'Message');
    if (message === undefined || message === '') throw invalid('Invalid parameter: Empty message');
    if (Buffer.byteLength(message) > 262_144) {
      throw invalid('Invalid parameter: Message too long');
    }
    const subject = str(input, 'Subject');
    if (subject !== undefined && (subject.length > 100 || subject === '' || /[\r\n]/.test(subject))) {
      throw invalid('Invalid parameter: Subject');
    }
    if (!this.topics.has(topicArn)) {
      throw new LocalServiceError('NotFound', 'Topic does not exist', 404);
    }
    const messageId = randomUUID();
    const record: SnsMessage = { TopicArn: topicArn, Message: message, MessageId: messageId };
    if (subject !== undefined) record.Subject = subject;
    const attributes = input['MessageAttributes'];
    if (attributes !== undefined) {
      record.MessageAttributes = attributes as Record<string, SnsMessageAttribute>;
    }
    this.messages.push(record);
    return respond('Publish', `<MessageId>${messageId}</MessageId>`);
  }
}

/** Decode the form body into the recorded input (MessageAttributes folded into a map). */
function decodeForm(body: string): SnsInput {
  const params = new URLSearchParams(body);
  const out: SnsInput = {};
  const attributes: Record<string, SnsMessageAttribute> = {};
  const entries = new Map<string, Record<string, string>>();
  for (const [key, value] of params) {
    const m = /^MessageAttributes\.entry\.(\d+)\.(.+)$/.exec(key);
    if (m) {
      const entry = entries.get(m[1]!) ?? {};
      entry[m[2]!] = value;
      entries.set(m[1]!, entry);
    } else {
      out[key] = value;
    }
  }
  for (const entry of entries.values()) {
    const name = entry['Name'];
    if (name === undefined) continue;
    const attr: SnsMessageAttribute = { DataType: entry['Value.DataType'] ?? 'String' };
    if (entry['Value.StringValue'] !== undefined) attr.StringValue = entry['Value.StringValue'];
    if (entry['Value.BinaryValue'] !== undefined) attr.BinaryValue = entry['Value.BinaryValue'];
    attributes[name] = attr;
  }
  if (entries.size > 0) out['MessageAttributes'] = attributes;
  return out;
}

function respond(action: string, result: string | undefined): string {
  const resultXml = result === undefined ? '' : `<${action}Result>${result}</${action}Result>`;
  return (
    `<${action}Response xmlns="${SNS_XMLNS}">${resultXml}` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
  );
}

function str(input: SnsInput, field: string): string | undefined {
  const v = input[field];
  return typeof v === 'string' ? v : undefined;
}

function invalid(message: string): LocalServiceError {
  return new LocalServiceError('InvalidParameter', message);
}
