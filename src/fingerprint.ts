/**
 * A 64-bit fingerprint of a string, as 16 hex digits: what the state's seal,
 * the plan cache's key and apply's document digest compare.
 *
 * Not cryptographic, and nothing here needs it to be: each guards against
 * accidents (a truncated or hand-edited file, a stale cache), never against
 * someone who can write root's files, who could recompute any unkeyed digest.
 * node:crypto would cost every CLI call 4-6 ms to load (OpenSSL's set-up and
 * teardown), more than hashing a 500-subnet state here (~0.3 ms).
 *
 * bryc's cyrb53 (public domain) with both 32-bit lanes kept: two
 * multiplicative lanes over the UTF-16 code units, then a cross-mixing finish.
 */
export function fingerprint(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return hex32(h2) + hex32(h1);
}

const hex32 = (h: number): string => (h >>> 0).toString(16).padStart(8, '0');
