/**
 * AcmeRotation's args, checked before anything is registered (invalid args declare nothing):
 * the stack's rules and messages, and the default AWS provider's aws:ignoreTags as the stack
 * checks it.
 */
import * as pulumi from '@pulumi/pulumi';

import type { AcmeRotationArgs } from './args.js';
import { ignoreTagsProblems } from './config/ignore-tags.js';
import type { Settings } from './settings.js';
import { StackConfigError, validateArgs } from './validate.js';

/** Invalid AcmeRotation args: every problem, each naming its field. Shown without a stack trace. */
export class AcmeRotationArgsError extends pulumi.RunError {
  override name = 'AcmeRotationArgsError';
  constructor(
    readonly problems: string[],
    message: string,
  ) {
    super(message);
  }
}

/** Whether `opts` names an explicit AWS provider (its ignoreTags are not in the stack config). */
function explicitAwsProvider(opts: pulumi.ComponentResourceOptions | undefined): boolean {
  if (!opts) return false;
  if (opts.provider) return true;
  const providers = opts.providers;
  if (Array.isArray(providers)) return providers.length > 0;
  return providers !== undefined && Object.keys(providers).includes('aws');
}

/**
 * The args, validated (the stack's rules and messages), with the default AWS provider's
 * aws:ignoreTags checked as the stack does; throws AcmeRotationArgsError listing every problem.
 */
export function settingsOf(
  name: string,
  args: AcmeRotationArgs,
  opts: pulumi.ComponentResourceOptions | undefined,
): Settings {
  const problems: string[] = [];
  let settings: Settings | undefined;
  try {
    settings = validateArgs(
      args,
      { project: pulumi.getProject(), stack: pulumi.getStack() },
      `AcmeRotation arguments of "${name}"`,
    );
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (!explicitAwsProvider(opts)) problems.push(...ignoreTagsProblems(new pulumi.Config('aws').get('ignoreTags')));
  if (problems.length > 0 || !settings) {
    const what = args.configNamespace ? 'stack configuration' : `AcmeRotation arguments of "${name}"`;
    throw new AcmeRotationArgsError(problems, new StackConfigError(problems, what).message);
  }
  return settings;
}
