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
 * Mark mask pixels within `thickness` pixels (4-neighbourhood steps along
 * each axis) of the outside or of the image border.
 * @param mask row-major H*W, non-zero inside
 * @returns row-major H*W, 1 on the outline
 */
export function outlinePixels(mask: Uint8Array, width: number, height: number, thickness = 1): Uint8Array {
  const edge = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[row + x]) continue;
      let onEdge = false;
      for (let d = 1; d <= thickness && !onEdge; d++) {
        onEdge =
          x - d < 0 || x + d >= width || y - d < 0 || y + d >= height ||
          !mask[row + x - d] || !mask[row + x + d] || !mask[row - d * width + x] || !mask[row + d * width + x];
      }
      if (onEdge) edge[row + x] = 1;
    }
  }
  return edge;
}

/**
 * Overlay pixels: the object's colour at `fillAlpha` inside, opaque on the outline,
 * transparent outside.
 * @returns RGBA, 4 bytes per pixel, row-major
 */
export function overlayPixels(mask: Uint8Array, width: number, height: number, rgb: Rgb, fillAlpha = 0.45, thickness?: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  const edge = outlinePixels(mask, width, height, thickness ?? outlineWidthFor(width, height));
  const fill = Math.round(255 * fillAlpha);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const o = i * 4;
    out[o] = rgb[0];
    out[o + 1] = rgb[1];
    out[o + 2] = rgb[2];
    out[o + 3] = edge[i] ? 255 : fill;
  }
  return out;
}

/** Matte pixels: opaque white inside the mask, transparent outside. */
export function mattePixels(mask: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(mask.length * 4);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const o = i * 4;
    out[o] = 255;
    out[o + 1] = 255;
    out[o + 2] = 255;
    out[o + 3] = 255;
  }
  return out;
}

/** Count of mask pixels inside a rectangle (used by tests and the e2e check). */
export function countInRect(mask: Uint8Array, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) n += mask[y * width + x] ? 1 : 0;
  return n;
}
