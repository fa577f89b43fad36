/**
 * Turn binary masks into RGBA pixels for compositing: a tinted overlay with an
 * opaque outline, or a plain matte (alpha = mask) for cutout effects.
 * Pure functions over typed arrays, so they run (and are tested) anywhere.
 */

export type Rgb = [number, number, number];

export function hexToRgb(hex: string): Rgb {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return [255, 255, 255];
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/** Outline thickness in pixels that stays visible when a big video is shown small. */
export function outlineWidthFor(width: number, height: number): number {
  return Math.max(1, Math.round(Math.max(width, height) / 640));
}

/**
 * Mark mask pixels within `thickness` pixels of the outside or of the image
 * border, looking along rows and columns (a cross-shaped neighbourhood).
 * Works run by run: a row or column run of mask pixels has its first and
 * last `thickness` pixels on the outline, so the cost is one pass per axis.
 * @param mask row-major H*W, non-zero inside
 * @returns row-major H*W, 1 on the outline
 */
export function outlinePixels(mask: Uint8Array, width: number, height: number, thickness = 1): Uint8Array {
  const edge = new Uint8Array(width * height);
  const t = Math.max(1, thickness);
  // Rows: contiguous memory.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      if (!mask[row + x]) {
        x++;
        continue;
      }
      let end = x;
      while (end < width && mask[row + end]) end++;
      // run [x, end): mark both ends
      const a = Math.min(end, x + t);
      for (let i = x; i < a; i++) edge[row + i] = 1;
      for (let i = Math.max(a, end - t); i < end; i++) edge[row + i] = 1;
      x = end;
    }
  }
  // Columns: walk down with a per-column counter of the current run.
  const runStart = new Int32Array(width).fill(-1);
  for (let y = 0; y <= height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const inside = y < height && mask[row + x] !== 0;
      const start = runStart[x];
      if (inside && start < 0) {
        runStart[x] = y;
      } else if (!inside && start >= 0) {
        // run [start, y) in column x
        const a = Math.min(y, start + t);
        for (let i = start; i < a; i++) edge[i * width + x] = 1;
        for (let i = Math.max(a, y - t); i < y; i++) edge[i * width + x] = 1;
        runStart[x] = -1;
      }
    }
  }
  return edge;
}

/** Pixels of an RGBA word in memory order (little-endian: R in the low byte). */
function rgbaWord(r: number, g: number, b: number, a: number): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/**
 * Overlay pixels: the object's colour at `fillAlpha` inside, opaque on the outline,
 * transparent outside.
 * @returns RGBA, 4 bytes per pixel, row-major
 */
export function overlayPixels(mask: Uint8Array, width: number, height: number, rgb: Rgb, fillAlpha = 0.45, thickness?: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  const words = new Uint32Array(out.buffer);
  const edge = outlinePixels(mask, width, height, thickness ?? outlineWidthFor(width, height));
  const fill = rgbaWord(rgb[0], rgb[1], rgb[2], Math.round(255 * fillAlpha));
  const line = rgbaWord(rgb[0], rgb[1], rgb[2], 255);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) words[i] = edge[i] ? line : fill;
  }
  return out;
}

/** Matte pixels: opaque white inside the mask, transparent outside. */
export function mattePixels(mask: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(mask.length * 4);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < mask.length; i++) if (mask[i]) words[i] = 0xffffffff;
  return out;
}

/** Count of mask pixels inside a rectangle (used by tests and the e2e check). */
export function countInRect(mask: Uint8Array, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) n += mask[y * width + x] ? 1 : 0;
  return n;
}
