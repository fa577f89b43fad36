import { describe, expect, it } from 'vitest';
import { countInRect, hexToRgb, mattePixels, outlinePixels, outlineWidthFor, overlayPixels } from './maskPixels';

function square(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

describe('mask pixels', () => {
  it('parses colours', () => {
    expect(hexToRgb('#ff8000')).toEqual([255, 128, 0]);
    expect(hexToRgb('nope')).toEqual([255, 255, 255]);
  });

  it('outlines the border of a square, 1 and 2 pixels thick', () => {
    const m = square(8, 8, 2, 2, 6, 6);
    const e1 = outlinePixels(m, 8, 8, 1);
    expect(countInRect(e1, 8, 0, 0, 8, 8)).toBe(12); // 4x4 ring
    expect(countInRect(e1, 8, 3, 3, 5, 5)).toBe(0);
    const e2 = outlinePixels(m, 8, 8, 2);
    expect(countInRect(e2, 8, 0, 0, 8, 8)).toBe(16);
    // Masks touching the image border are outlined there too.
    expect(countInRect(outlinePixels(square(3, 3, 0, 0, 3, 3), 3, 3, 1), 3, 0, 0, 3, 3)).toBe(8);
  });

  it('matches a brute-force cross-neighbourhood outline on random masks', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [w, h, t] of [[17, 11, 1], [40, 23, 2], [5, 9, 3]]) {
      const m = new Uint8Array(w * h).map(() => (rand() < 0.6 ? 1 : 0));
      const expected = new Uint8Array(w * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (!m[y * w + x]) continue;
          for (let d = 1; d <= t; d++) {
            const out = (xx: number, yy: number) => xx < 0 || yy < 0 || xx >= w || yy >= h || !m[yy * w + xx];
            if (out(x - d, y) || out(x + d, y) || out(x, y - d) || out(x, y + d)) expected[y * w + x] = 1;
          }
        }
      }
      expect(Array.from(outlinePixels(m, w, h, t))).toEqual(Array.from(expected));
    }
  });

  it('builds overlay RGBA: translucent fill, opaque outline, clear outside', () => {
    const m = square(8, 8, 2, 2, 6, 6);
    const px = overlayPixels(m, 8, 8, [10, 20, 30], 0.5, 1);
    const at = (x: number, y: number) => Array.from(px.slice((y * 8 + x) * 4, (y * 8 + x) * 4 + 4));
    expect(at(0, 0)).toEqual([0, 0, 0, 0]);
    expect(at(2, 2)).toEqual([10, 20, 30, 255]);
    expect(at(3, 3)).toEqual([10, 20, 30, 128]);
  });

  it('builds a matte', () => {
    const px = mattePixels(new Uint8Array([0, 1]));
    expect(Array.from(px)).toEqual([0, 0, 0, 0, 255, 255, 255, 255]);
  });

  it('scales the outline with the video size', () => {
    expect(outlineWidthFor(640, 360)).toBe(1);
    expect(outlineWidthFor(1280, 720)).toBe(2);
  });
});
