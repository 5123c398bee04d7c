/**
 * The fault matrix (tests/e2e/fault-matrix.ts), column `hang`: each external call of the
 * rotation meets this fault in its step's first attempt; the outcome must be the table's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CELLS, EXPECTED, runCell, startMatrixStack, type MatrixStack } from './fault-matrix.js';

let m: MatrixStack | undefined;
const table: string[] = [];

beforeAll(async () => {
  m = await startMatrixStack();
}, 60_000);

afterAll(async () => {
  console.log(`fault matrix, hang:\n${table.join('\n')}`);
  await m?.stack.stop();
});

describe('fault matrix: hang', () => {
  for (const cell of CELLS) {
    it(`${cell.call} during ${cell.step}`, async () => {
      const result = await runCell(m!, cell, 'hang');
      table.push(
        `| ${cell.call} | ${cell.step} | ${result.outcome} | ${result.failedStep ?? ''} | ${result.firstError ?? ''} |`,
      );
      expect(result.outcome).toBe(EXPECTED[cell.call]?.['hang']);
    });
  }
});
