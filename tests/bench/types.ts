/** What each benchmark hands to the report (tests/bench/run.ts writes it, with analysis.ts). */
export interface Figure {
  /** e.g. "20 names, two zones". */
  label: string;
  /** The measured quantity in human units, e.g. "2.41 s". */
  value: string;
  /** The ratio the target applies to (undefined when the figure is informational). */
  ratio?: number;
  /** e.g. "≤ 1.3". */
  target?: string;
  /** undefined = no target for this row. */
  pass?: boolean;
}

export interface BenchResult {
  id: number;
  title: string;
  figures: Figure[];
  /** How it was measured (markdown, one paragraph per entry). */
  method: string[];
  /** Extra measured detail (markdown lines: tables, breakdowns). */
  details: string[];
  /** Set when the benchmark could not run to the end. */
  error?: string;
  seconds: number;
}

export const fmtRatio = (r: number | undefined) => (r === undefined || Number.isNaN(r) ? '—' : r.toFixed(2));
export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
