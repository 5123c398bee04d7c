/**
 * The fault matrix (tests/e2e/fault-matrix.ts), column `hang`: each external call of the
 * rotation meets this fault in its step's first attempt; the outcome must be the table's.
 */
import { defineMatrixColumn } from './fault-matrix.js';

defineMatrixColumn('hang');
