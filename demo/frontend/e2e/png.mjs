// Reading the exports' greyscale PNGs in node.
import zlib from 'node:zlib';

/** True when an 8-bit grey PNG has a non-zero pixel (all-zero filtered rows decode to all-zero pixels). */
export function pngHasForeground(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const idat = [];
  for (let at = 8; at < bytes.length;) {
    const length = view.getUint32(at);
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  for (let i = 0; i < raw.length; i++) if (i % (width + 1) !== 0 && raw[i] !== 0) return true;
  return false;
}
