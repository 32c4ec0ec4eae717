import { maskedCrc32c } from './crc32c.js';

/**
 * One TFRecord, the unit of an event file: the payload's length as a little-endian
 * uint64, the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of
 * the payload. A reader stops at the first record that is cut short, so a file
 * whose last write was interrupted still yields every record before it.
 */
export function tfRecord(payload: Uint8Array): Buffer {
  const n = payload.length;
  const out = Buffer.allocUnsafe(n + 16);
  out.writeUInt32LE(n, 0); // n < 2^32: the high half of the uint64 is 0
  out.writeUInt32LE(0, 4);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(payload, 12);
  out.writeUInt32LE(maskedCrc32c(payload), 12 + n);
  return out;
}
