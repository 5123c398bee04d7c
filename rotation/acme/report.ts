/**
 * What a promoted certificate says about its CA, for the success notice/event and the metrics:
 * which CA issued it and, when the rotation fell back, which CAs failed first and why.
 */
import type { CertificateBundle } from '../certificate/bundle.js';
import { METRICS, metricLine, type MetricNames } from '../lib/metrics.js';

/** Success-notice fields: `ca`, `ca_directory_url`, and `ca_fallbacks` when the rotation fell back. */
export function issuerFields(bundle: CertificateBundle): {
  ca?: string;
  ca_directory_url?: string;
  ca_fallbacks?: { ca: string; directory_url: string; error_code: string; reason: string }[];
} {
  return {
    ...(bundle.acme_ca ? { ca: bundle.acme_ca } : {}),
    ...(bundle.acme_directory_url ? { ca_directory_url: bundle.acme_directory_url } : {}),
    ...(bundle.acme_fallbacks?.length ? { ca_fallbacks: bundle.acme_fallbacks.map((f) => ({ ...f })) } : {}),
  };
}

/** A directory URL's host (with its port), the metrics' `Ca` dimension; the text itself when it is no URL. */
export function caHost(directoryUrl: string): string {
  try {
    return new URL(directoryUrl).host;
  } catch {
    return directoryUrl;
  }
}

/**
 * EMF lines for a promoted certificate: `CertificatesIssued` = 1 with `Ca` = the issuing CA's
 * directory host, and `CaFallbacks` = 1 per CA fallen away from, with `Ca` = that CA's host.
 * Counted at promotion, so a retried createSecret never counts one certificate twice.
 */
export function issuerMetricLines(bundle: CertificateBundle, names: MetricNames, now?: Date): string[] {
  const lines: string[] = [];
  const at = now ? { now } : {};
  if (bundle.acme_directory_url) {
    lines.push(
      metricLine(names, [{ name: METRICS.certificatesIssued, value: 1 }], {
        dimensions: { Ca: caHost(bundle.acme_directory_url) },
        fields: { ca: bundle.acme_ca, serial: bundle.serial },
        message: 'certificate issued',
        ...at,
      }),
    );
  }
  for (const fallback of bundle.acme_fallbacks ?? []) {
    lines.push(
      metricLine(names, [{ name: METRICS.caFallbacks, value: 1 }], {
        dimensions: { Ca: caHost(fallback.directory_url || fallback.ca) },
        fields: { ca: fallback.ca, errorCode: fallback.error_code, reason: fallback.reason },
        message: 'fell back from this CA',
        ...at,
      }),
    );
  }
  return lines;
}
