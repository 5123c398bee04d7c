/**
 * A certificate's `acm` setting: the ACM certificates every new certificate is imported into,
 * and the ARNs' shape before ACM has created them.
 */
import { parseAcmArn } from '../../rotation/certificate/acm-arns.js';
import { type AcmTarget, isRecord, type Problems, quote, stringList } from '../settings.js';

/** The fields of a certificate's `acm` setting. */
export const ACM_FIELDS = ['regions', 'arns'] as const;

/** An AWS region name: us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2. */
export const AWS_REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The partition of a region (for the length of ARNs not known before deploy time). */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * A certificate's `acm` setting: `{regions: [us-east-1, …]}` (new ACM certificates, one per
 * region) and/or `{arns: [arn:aws:acm:…]}` (existing imported ones). At most one target per
 * region: the stack exports them as a map region → ARN, and one ACM certificate serves every
 * load balancer or distribution of its region. Whether an ARN is of the stack's account is known
 * only at deploy time (checked there).
 */
export function acmTargets(p: Problems, at: string, value: unknown): AcmTarget[] {
  const key = `${at}.acm`;
  if (!isRecord(value)) {
    p.add(key, `expected an object like {regions: [us-east-1]} or {arns: [arn:aws:acm:…]}, got ${quote(value)}`);
    return [];
  }
  for (const field of Object.keys(value)) {
    if (!(ACM_FIELDS as readonly string[]).includes(field)) {
      p.add(`${key}.${field}`, `is not an acm field (known: ${ACM_FIELDS.join(', ')})`);
    }
  }
  const targets: AcmTarget[] = [];
  const byRegion = new Map<string, string>();
  const claim = (region: string, where: string): boolean => {
    const first = byRegion.get(region);
    if (first !== undefined) {
      p.add(
        where,
        `is a second ACM certificate in ${region} (${first} is one): one certificate per region serves every listener and distribution there`,
      );
      return false;
    }
    byRegion.set(region, where.slice(at.length + 1));
    return true;
  };
  if (value.regions !== undefined) {
    const list = stringList(p, `${key}.regions`, value.regions, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const region = item.toLowerCase();
      if (!AWS_REGION_RE.test(region)) {
        p.add(`${key}.regions[${i}]`, `${quote(item)} is not an AWS region name (like us-east-1)`);
      } else if (claim(region, `${key}.regions[${i}]`)) targets.push({ region });
    });
  }
  if (value.arns !== undefined) {
    const list = stringList(p, `${key}.arns`, value.arns, { nonEmpty: true }) ?? [];
    list.forEach((item, i) => {
      const parsed = parseAcmArn(item);
      if (typeof parsed === 'string') p.add(`${key}.arns[${i}]`, `${quote(item)} is not one: ${parsed}`);
      else if (claim(parsed.region, `${key}.arns[${i}]`)) targets.push({ region: parsed.region, arn: parsed.arn });
    });
  }
  if (value.regions === undefined && value.arns === undefined) {
    p.add(key, 'needs regions (new ACM certificates) or arns (existing imported ones), or both');
  }
  return targets;
}

/**
 * ARNs as long as the real ones will be, for the tag budget and the rotation's parser: a new
 * certificate's ARN is known only once ACM creates it.
 */
export function probeAcmArns(targets: readonly AcmTarget[]): string[] {
  return targets.map(
    (t) =>
      t.arn ??
      `arn:${partitionOfRegion(t.region)}:acm:${t.region}:000000000000:certificate/00000000-0000-0000-0000-000000000000`,
  );
}
