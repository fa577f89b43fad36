/**
 * COCO run-length encoding, compatible with pycocotools.
 *
 * A mask of H rows and W columns is read in column-major ("Fortran") order:
 * pixel (y, x) has linear index x * H + y. The run lengths alternate
 * 0-runs and 1-runs, starting with a (possibly empty) 0-run. The compressed
 * "counts" string stores each run in 5-bit groups, low group first, as
 * characters offset by 48; bit 0x20 of a group says another group follows,
 * bit 0x10 of the last group is the sign. From the fourth run on, a run is
 * stored as the difference to the run two places before it, which keeps
 * the numbers small for smooth shapes.
 */

export interface RleMask {
  /** [height, width] in pixels. */
  size: [number, number];
  /** Compressed COCO counts string. */
  counts: string;
}

export class RleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RleError';
  }
}

/** Parse a compressed counts string into plain run lengths. */
export function decodeCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let value = 0;
    let scale = 1; // 32**group, kept as a float so values past 2**31 stay exact
    let more = true;
    while (more) {
      if (p >= s.length) throw new RleError('RLE counts string ends in the middle of a number');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new RleError(`RLE counts string has an invalid character at ${p}`);
      value += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      p += 1;
      // The sign bit of the last group makes the number negative (two's complement).
      if (!more && (c & 0x10) !== 0) value -= scale;
    }
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

/** Compress plain run lengths into a counts string. */
export function encodeCounts(counts: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic shift keeps the sign
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

function checkSize(size: unknown): [number, number] {
  if (!Array.isArray(size) || size.length !== 2) throw new RleError('RLE size must be [height, width]');
  const [h, w] = size as number[];
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) {
    throw new RleError(`RLE size must hold two non-negative integers, got [${String(h)}, ${String(w)}]`);
  }
  return [h, w];
}

/**
 * Decode an RLE mask into column-major order (pixel (y, x) at x * H + y),
 * the order the runs are stored in, so each run is one native fill.
 */
export function decodeMaskColumnMajor(rle: RleMask): Uint8Array {
  const [h, w] = checkSize(rle.size);
  const counts = decodeCounts(rle.counts);
  const total = h * w;
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i];
    if (run < 0) throw new RleError('RLE has a negative run length');
    if (pos + run > total) throw new RleError(`RLE runs cover more than ${h}x${w} pixels`);
    if (i % 2 === 1 && run > 0) out.fill(1, pos, pos + run);
    pos += run;
  }
  if (pos !== total) throw new RleError(`RLE runs cover ${pos} pixels, expected ${h}x${w}=${total}`);
  return out;
}

/** Tile edge of the blocked transpose: both tiles stay in cache. */
const TILE = 32;

/**
 * Transpose a column-major H x W image into row-major order.
 * @param col length H*W, pixel (y, x) at x * H + y
 * @returns length H*W, pixel (y, x) at y * W + x
 */
export function columnToRowMajor(col: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let x0 = 0; x0 < w; x0 += TILE) {
    const x1 = Math.min(x0 + TILE, w);
    for (let y0 = 0; y0 < h; y0 += TILE) {
      const y1 = Math.min(y0 + TILE, h);
      for (let x = x0; x < x1; x++) {
        const src = x * h;
        for (let y = y0; y < y1; y++) out[y * w + x] = col[src + y];
      }
    }
  }
  return out;
}

/**
 * Decode an RLE mask into a row-major binary image.
 * @returns Uint8Array of length H*W, 1 inside the mask and 0 outside;
 *   pixel (y, x) is at index y * W + x.
 */
export function decodeMask(rle: RleMask): Uint8Array {
  const [h, w] = checkSize(rle.size);
  return columnToRowMajor(decodeMaskColumnMajor(rle), h, w);
}

/**
 * Encode a row-major binary image (any non-zero value counts as inside).
 * @param mask Uint8Array of length height*width, pixel (y, x) at y * width + x.
 */
export function encodeMask(mask: ArrayLike<number>, height: number, width: number): RleMask {
  checkSize([height, width]);
  if (mask.length !== height * width) {
    throw new RleError(`mask has ${mask.length} pixels, expected ${height}x${width}`);
  }
  const counts: number[] = [];
  let current = 0; // value of the run being counted; runs start with zeros
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = mask[y * width + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run += 1;
    }
  }
  counts.push(run);
  return { size: [height, width], counts: encodeCounts(counts) };
}

/** Number of pixels inside the mask. */
export function rleArea(rle: RleMask): number {
  const counts = decodeCounts(rle.counts);
  let area = 0;
  for (let i = 1; i < counts.length; i += 2) area += counts[i];
  return area;
}

/**
 * Tight bounding box of the mask as COCO [x, y, width, height] in pixels,
 * or [0, 0, 0, 0] for an empty mask.
 */
export function rleBBox(rle: RleMask): [number, number, number, number] {
  const [h] = checkSize(rle.size);
  const counts = decodeCounts(rle.counts);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i];
    if (i % 2 === 1 && run > 0) {
      const first = pos;
      const last = pos + run - 1;
      const xa = Math.floor(first / h);
      const xb = Math.floor(last / h);
      x0 = Math.min(x0, xa);
      x1 = Math.max(x1, xb);
      // A run that spans columns reaches the bottom row of its first
      // column and starts at the top row of its last one.
      if (xa !== xb) {
        y0 = 0;
        y1 = h - 1;
      } else {
        y0 = Math.min(y0, first - xa * h);
        y1 = Math.max(y1, last - xa * h);
      }
    }
    pos += run;
  }
  if (x0 === Infinity) return [0, 0, 0, 0];
  return [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}
