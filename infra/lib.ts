/**
 * The package's entry (`import { AcmeRotation } from 'acme-rotation'`), compiled by
 * scripts/build-lib.mjs to dist/pulumi/. The component finds the Lambda bundles the package
 * carries (dist/rotation, dist/watch) relative to its own compiled file.
 */
export { AcmeRotation, AcmeRotationArgsError, COMPONENT_TYPE, type Route53RoleOutputs } from './component.js';
export type { CertificateOutputs } from './certificates.js';
export type { AcmArgs, AcmeRotationArgs, CertificateArgs, HostedZoneArgs } from './args.js';
export type { Settings } from './settings.js';
export { KNOWN_KEYS, StackConfigError, loadStackArgs, type ConfigSource } from './validate.js';
export { PACKAGE_NAME } from './bundle.js';
