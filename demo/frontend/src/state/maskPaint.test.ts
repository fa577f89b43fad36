import { describe, expect, it } from 'vitest';
import { paintStroke, stampDisc } from './maskPaint';

const count = (m: Uint8Array) => m.reduce((n, v) => n + v, 0);

describe('brush and eraser', () => {
  it('stamps a round, hard-edged disc and clips it at the borders', () => {
    const m = new Uint8Array(20 * 20);
    expect(stampDisc(m, 20, 20, 10, 10, 3, 1)).toBe(count(m));
    // About pi r^2 pixels, all 0 or 1.
    expect(count(m)).toBeGreaterThan(24);
    expect(count(m)).toBeLessThan(33);
    expect(m[10 * 20 + 10]).toBe(1);
    expect(m[10 * 20 + 14]).toBe(0);
    const edge = new Uint8Array(20 * 20);
    stampDisc(edge, 20, 20, 0, 0, 4, 1);
    expect(count(edge)).toBeGreaterThan(8);
    expect(count(edge)).toBeLessThan(count(m));
  });

  it('covers a stroke without gaps, and the eraser takes pixels back', () => {
    const w = 64;
    const h = 16;
    const m = new Uint8Array(w * h);
    paintStroke(m, w, h, [{ x: 4, y: 8 }, { x: 60, y: 8 }], 3, 'brush');
    for (let x = 4; x < 60; x++) expect(m[8 * w + x]).toBe(1);
    const painted = count(m);
    // Erasing the middle splits the stroke; repainting restores it exactly.
    const erased = paintStroke(m, w, h, [{ x: 32, y: 0 }, { x: 32, y: 15 }], 4, 'eraser');
    expect(erased).toBeGreaterThan(0);
    expect(count(m)).toBe(painted - erased);
    expect(m[8 * w + 32]).toBe(0);
    expect(m[8 * w + 20]).toBe(1);
    // Painting where it is already painted changes nothing.
    expect(paintStroke(m, w, h, [{ x: 10, y: 8 }], 2, 'brush')).toBe(0);
  });
});
