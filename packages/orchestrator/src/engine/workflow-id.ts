import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// Random bytes for 256 ids, drawn from the CSPRNG in one call: uuid's default source asks `crypto.getRandomValues`
// for 16 bytes per id, which cost ~4% of an in-process workflow's CPU.
const POOL = new Uint8Array(16 * 256);
let offset = POOL.length;
// The last id's time and counter: ids made in the same millisecond count up, so they stay in creation order (what
// uuid's own v7 does; it keeps that state only when it also draws the bytes).
let lastMs = -Infinity;
let seq = 0;

/**
 * A new workflow id: a UUIDv7 (RFC 9562), time-ordered and monotonic within this process, so new workflows append to
 * the stores' id indexes instead of writing one random page each. The format is uuid's; only the randomness is pooled.
 */
export function newWorkflowId(now: number = Date.now()): string {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const random = POOL.subarray(offset, offset + 16);
  offset += 16;
  if (now > lastMs) {
    lastMs = now;
    // A random 31-bit start, as uuid's v7: the counter has room to count up within the millisecond.
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs += 1;
  }
  return uuidv7({ random, msecs: lastMs, seq });
}
