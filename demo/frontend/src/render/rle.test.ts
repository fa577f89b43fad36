import { describe, expect, it } from 'vitest';
import vectorsFile from './__fixtures__/rle_vectors.json';
import { decodeCounts, decodeMask, encodeCounts, encodeMask, rleArea, rleBBox, RleError } from './rle';

interface Vector {
  name: string;
  size: [number, number];
  counts: string;
  area: number;
  bbox: [number, number, number, number];
  mask_rows?: string[];
}

const vectors = (vectorsFile as unknown as { vectors: Vector[] }).vectors;

function rowsToMask(rows: string[], w: number): Uint8Array {
  const out = new Uint8Array(rows.length * w);
  rows.forEach((row, y) => {
    for (let x = 0; x < w; x++) out[y * w + x] = row[x] === '1' ? 1 : 0;
  });
  return out;
}

describe('RLE against pycocotools vectors', () => {
  it('has vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
  });

  for (const v of vectors) {
    it(`${v.name}: decode, encode, area and bbox match`, () => {
      const [h, w] = v.size;
      const decoded = decodeMask({ size: v.size, counts: v.counts });
      expect(decoded.length).toBe(h * w);
      if (v.mask_rows) expect(Array.from(decoded)).toEqual(Array.from(rowsToMask(v.mask_rows, w)));
      expect(encodeMask(decoded, h, w)).toEqual({ size: [h, w], counts: v.counts });
      expect(encodeCounts(decodeCounts(v.counts))).toBe(v.counts);
      expect(rleArea({ size: v.size, counts: v.counts })).toBe(v.area);
      expect(rleBBox({ size: v.size, counts: v.counts })).toEqual(v.bbox);
    });
  }
});

describe('RLE errors', () => {
  it('rejects runs that do not cover the size', () => {
    expect(() => decodeMask({ size: [4, 4], counts: 'd0' })).toThrow(RleError);
    expect(() => decodeMask({ size: [2, 2], counts: 'd0' })).toThrow(/more than 2x2/);
  });
  it('rejects bad characters and truncated numbers', () => {
    expect(() => decodeCounts('0\u0010')).toThrow(/invalid character/);
    expect(() => decodeCounts('P')).toThrow(/ends in the middle/);
  });
  it('rejects a bad size', () => {
    expect(() => decodeMask({ size: [-1, 2] as [number, number], counts: '' })).toThrow(/non-negative/);
    expect(() => encodeMask(new Uint8Array(3), 2, 2)).toThrow(/expected 2x2/);
  });
});
