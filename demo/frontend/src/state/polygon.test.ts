import { describe, expect, it } from 'vitest';
import { maskToPolygons, moveVertex, polygonsToMask, vertexNear } from './polygon';

const W = 40;
const H = 30;

function shapes(): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (Math.hypot(x + 0.5 - 12, y + 0.5 - 14) < 8) m[y * W + x] = 1; // a disk
      if (x >= 26 && x < 36 && y >= 4 && y < 20) m[y * W + x] = 1; // a rectangle
      if (x >= 30 && x < 33 && y >= 8 && y < 12) m[y * W + x] = 0; // a hole in it
    }
  }
  m[28 * W + 2] = 1; // a speck
  return m;
}

const iou = (a: Uint8Array, b: Uint8Array) => {
  let i = 0;
  let u = 0;
  for (let k = 0; k < a.length; k++) {
    i += a[k] & b[k];
    u += a[k] | b[k];
  }
  return i / u;
};

describe('mask polygons', () => {
  it('outline each region along pixel edges: filled back, unsimplified, they are the regions (holes filled)', () => {
    const m = shapes();
    const polys = maskToPolygons(m, W, H, { epsilon: 0, minArea: 1 });
    expect(polys).toHaveLength(3);
    const back = polygonsToMask(polys, W, H);
    const filled = m.slice();
    for (let y = 8; y < 12; y++) for (let x = 30; x < 33; x++) filled[y * W + x] = 1;
    expect(Array.from(back)).toEqual(Array.from(filled));
    // The rectangle is four corners.
    const rect = polys.find((p) => p.some((v) => v.x === 36));
    expect(rect).toEqual([{ x: 26, y: 4 }, { x: 36, y: 4 }, { x: 36, y: 20 }, { x: 26, y: 20 }]);
  });

  it('simplified: few vertices, nearly the same pixels; specks left out', () => {
    const m = shapes();
    const polys = maskToPolygons(m, W, H, { epsilon: 1 });
    expect(polys).toHaveLength(2); // the speck is under minArea
    expect(polys[0].length).toBeLessThan(20);
    const back = polygonsToMask(polys, W, H);
    expect(iou(back, m)).toBeGreaterThan(0.9);
  });

  it('a vertex moved outwards grows the mask there', () => {
    const polys = maskToPolygons(shapes(), W, H, { epsilon: 1 });
    const hit = vertexNear(polys, 36.4, 4.3, 1);
    expect(hit).not.toBeNull();
    const moved = moveVertex(polys, hit as [number, number], { x: 39, y: 1 });
    const before = polygonsToMask(polys, W, H);
    const after = polygonsToMask(moved, W, H);
    expect(before[2 * W + 37]).toBe(0);
    expect(after[2 * W + 37]).toBe(1);
    expect(vertexNear(polys, 20, 28, 1)).toBeNull();
  });
});
