import type { StepContext } from './context.js';

/**
 * setSecret: publish the pending certificate to deployment targets. None are built in: consumers
 * read AWSCURRENT after finishSecret. Kept as an explicit step so targets can be added here.
 */
export async function setSecret(ctx: StepContext): Promise<void> {
  ctx.logger.info('no deployment targets configured; consumers read AWSCURRENT');
  return Promise.resolve();
}
