import { describe, expect, it } from 'vitest';
import { yuvConversion } from './videoPlanes';

/** What the shader computes: clamp(M * (yuv - offset)), with 8-bit inputs and outputs. */
function toRgb(space: VideoColorSpaceInit, y: number, u: number, v: number): number[] {
  const c = yuvConversion(space);
  if (!c) throw new Error('no conversion');
  const d = [y / 255 - c.offset[0], u / 255 - c.offset[1], v / 255 - c.offset[2]];
  return [0, 1, 2].map((row) => {
    const x = c.toRgb[row] * d[0] + c.toRgb[3 + row] * d[1] + c.toRgb[6 + row] * d[2];
    return Math.round(Math.min(1, Math.max(0, x)) * 255);
  });
}

describe('yuvConversion', () => {
  it('maps the ends of limited range to black and white', () => {
    for (const matrix of ['bt709', 'bt470bg', 'smpte170m'] as const) {
      expect(toRgb({ matrix, fullRange: false }, 16, 128, 128)).toEqual([0, 0, 0]);
      expect(toRgb({ matrix, fullRange: false }, 235, 128, 128)).toEqual([255, 255, 255]);
      expect(toRgb({ matrix, fullRange: true }, 0, 128, 128)).toEqual([0, 0, 0]);
      expect(toRgb({ matrix, fullRange: true }, 255, 128, 128)).toEqual([255, 255, 255]);
    }
  });

  it('gives the BT.709 and BT.601 primaries (within the rounding of their 8-bit codes)', () => {
    // Limited-range codes of pure red, green and blue (ITU-R BT.709-6 and BT.601-7).
    const cases: [VideoMatrixCoefficients, number[], number[]][] = [
      ['bt709', [63, 102, 240], [255, 0, 0]],
      ['bt709', [173, 42, 26], [0, 255, 0]],
      ['bt709', [32, 240, 118], [0, 0, 255]],
      ['bt470bg', [81, 90, 240], [255, 0, 0]],
      ['bt470bg', [145, 54, 34], [0, 255, 0]],
      ['smpte170m', [41, 240, 110], [0, 0, 255]],
    ];
    for (const [matrix, [y, u, v], want] of cases) {
      const got = toRgb({ matrix, fullRange: false }, y, u, v);
      got.forEach((g, i) => expect(Math.abs(g - want[i]), `${matrix} ${[y, u, v]} -> ${got}`).toBeLessThanOrEqual(2));
    }
  });

  it('leaves matrices it does not convert to the browser', () => {
    expect(yuvConversion({ matrix: 'rgb', fullRange: true })).toBeNull();
    expect(yuvConversion({ matrix: null, fullRange: null })).toBeNull();
  });
});
