// COCO compressed RLE in node, for the suites that read exports: the counts string
// decoded into runs, and one pixel looked up without expanding the whole mask.

/** Run lengths of a compressed counts string (alternating 0s and 1s, column-major, starting with 0s). */
export function decodeCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let value = 0;
    let shift = 0;
    let more = true;
    while (more) {
      const c = s.charCodeAt(p++) - 48;
      value |= (c & 0x1f) << shift;
      more = (c & 0x20) !== 0;
      shift += 5;
      if (!more && (c & 0x10)) value |= -1 << shift; // sign extension
    }
    // From the third run on, each is stored as the difference to the run two before.
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

/** The mask as a column-major Uint8Array (index x * height + y). */
export function decodeRle(rle) {
  const [h, w] = rle.size;
  const out = new Uint8Array(h * w);
  let at = 0;
  let v = 0;
  for (const run of decodeCounts(rle.counts)) {
    if (v) out.fill(1, at, at + run);
    at += run;
    v ^= 1;
  }
  return out;
}

/** Pixel (x, y) of a decoded mask. */
export const pixel = (mask, height, x, y) => mask[Math.round(x) * height + Math.round(y)];

/** Intersection over union of two decoded masks (1 when both are empty). */
export function iou(a, b) {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union === 0 ? 1 : inter / union;
}
