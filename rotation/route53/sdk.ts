/**
 * The Route 53 SDK client, loaded by a dynamic import of this module when a step first touches DNS.
 * (A dynamic import of the SDK package itself reaches its CommonJS build through esbuild's
 * interop without the named exports; a static re-export here keeps them.)
 */
export { Route53Client } from '@aws-sdk/client-route-53';
