/**
 * DNS_RESOLVERS: the resolvers the propagation check and the CAA lookup ask instead of the zone's
 * authoritative nameservers.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../lib/errors.js';

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return Number.isInteger(n) && n > 0 && n < 65536;
}

/** Validate one DNS_RESOLVERS entry: `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`. */
export function parseResolver(entry: string): string {
  const s = entry.trim();
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(s);
  const ok =
    (bracket !== null && isIP(bracket[1] ?? '') === 6 && validPort(bracket[2])) ||
    isIP(s) !== 0 ||
    (hostPort !== null && isIP(hostPort[1] ?? '') === 4 && validPort(hostPort[2]));
  if (!ok) {
    throw new ConfigError(
      `DNS_RESOLVERS entry "${entry}" is invalid: expected ip[:port] (e.g. 1.1.1.1,8.8.8.8:53 or [2606:4700::1111]:53)`,
    );
  }
  return s;
}

export function parseResolvers(raw: string | undefined): string[] {
  if (!raw?.trim()) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseResolver);
}
