/**
 * Lambda entry point of the expiry check (bundled by infra/bundle.ts; the AWS SDK comes from the
 * nodejs22.x runtime). The certificate list ships next to the code as certificates.json.
 */
import { readFileSync } from 'node:fs';

import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import { runCheck, type CheckConfig } from './check.js';

let client: SecretsManagerClient | undefined;
let config: CheckConfig | undefined;

export const handler = async (): Promise<{ checked: number; atRisk: number }> => {
  config ??= JSON.parse(readFileSync(new URL('./certificates.json', import.meta.url), 'utf8')) as CheckConfig;
  client ??= new SecretsManagerClient({});
  const sm = client;
  const result = await runCheck({
    config,
    describe: async (secretName) => {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: secretName }));
      return { ...(out.CreatedDate ? { createdDate: out.CreatedDate } : {}), tags: out.Tags ?? [] };
    },
    // Raw lines on stdout: CloudWatch Logs reads the EMF line as metrics.
    write: (line) => process.stdout.write(`${line}\n`),
  });
  return { checked: result.checked, atRisk: result.atRisk.length };
};
