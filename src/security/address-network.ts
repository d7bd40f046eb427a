import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network a client address belongs to, as the brute-force limits count
 * it: an IPv4 address on its own, an IPv6 address by its /64. One host is
 * routinely given a whole /64 (RFC 6177, RFC 8981 temporary addresses), so
 * counting single IPv6 addresses would let one source rotate through 2^64
 * "addresses": escape its own limits, and pass for a crowd at a subject's
 * distributed limit. IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack
 * socket reports) is the IPv4 address. Anything else is kept as it is.
 */
export function addressNetwork(address: string): string {
  const plain = address.replace(/%.*$/, ''); // zone id (fe80::1%eth0)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(plain)) return address;
  const groups = expandIPv6(plain);
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail becomes two). */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const part = (text: string) => {
    if (!text) return [];
    const groups = text.split(':');
    const last = groups[groups.length - 1]!;
    if (last.includes('.')) {
      const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return groups;
  };
  const front = part(head);
  if (tail === undefined) return front;
  const back = part(tail);
  return [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
}
