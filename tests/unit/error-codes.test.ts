/**
 * The error codes the function reports are the ones docs/OPERATIONS.md explains: the ErrorCode
 * union (ERROR_CODES) and the first column of the error-code table, exactly.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../rotation/lib/errors.js';

/** The codes in the first column of the "Error codes" table (`A`, `B` in one cell count separately). */
function documentedCodes(markdown: string): string[] {
  const section = markdown.split(/^## Error codes$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = section.split('\n').filter((l) => l.startsWith('|'));
  // rows[0] is the header, rows[1] the separator.
  return rows.slice(2).flatMap((row) => {
    const cell = row.split('|')[1] ?? '';
    return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
  });
}

describe('error codes', () => {
  const doc = readFileSync(new URL('../../docs/OPERATIONS.md', import.meta.url), 'utf8');
  const documented = documentedCodes(doc);

  it('finds the table', () => {
    expect(documented.length).toBeGreaterThan(10);
    expect(documented).toContain('InvalidSpec');
  });

  it('documents every code the function reports, and no other', () => {
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('documents each code once', () => {
    expect(new Set(documented).size).toBe(documented.length);
  });
});
