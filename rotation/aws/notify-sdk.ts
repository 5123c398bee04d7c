/**
 * The SNS and EventBridge SDK clients, loaded by a dynamic import of this module on the first
 * notice. (A dynamic import of the SDK packages themselves reaches their CommonJS builds through
 * esbuild's interop without the named exports; static re-exports here keep them.)
 */
export { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
export { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
