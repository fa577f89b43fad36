/**
 * A mask as polygons, and back: the outer outline of each of its largest
 * regions, traced along pixel edges (so filling the outline gives the
 * region back exactly, holes filled) and simplified to a few vertices; and
 * polygons filled into a mask. Coordinates are video pixels; masks are
 * row-major, one byte per pixel (0 or 1).
 */

export interface Vertex {
  x: number;
  y: number;
}

export type Polygon = Vertex[];

/** Label 4-connected regions of `mask`; returns labels (0: background) and each region's size, by label - 1. */
function regions(mask: Uint8Array, w: number, h: number): { labels: Int32Array; sizes: number[]; starts: number[] } {
  const labels = new Int32Array(w * h);
  const sizes: number[] = [];
  const starts: number[] = [];
  const stack: number[] = [];
  for (let i = 0; i < w * h; i++) {
    if (!mask[i] || labels[i]) continue;
    const label = sizes.length + 1;
    let size = 0;
    labels[i] = label;
    stack.push(i);
    while (stack.length) {
      const j = stack.pop() as number;
      size++;
      const x = j % w;
      const y = (j - x) / w;
      if (x > 0 && mask[j - 1] && !labels[j - 1]) { labels[j - 1] = label; stack.push(j - 1); }
      if (x < w - 1 && mask[j + 1] && !labels[j + 1]) { labels[j + 1] = label; stack.push(j + 1); }
      if (y > 0 && mask[j - w] && !labels[j - w]) { labels[j - w] = label; stack.push(j - w); }
      if (y < h - 1 && mask[j + w] && !labels[j + w]) { labels[j + w] = label; stack.push(j + w); }
    }
    sizes.push(size);
    starts.push(i); // the first in row-major order: its top edge is on the outline
  }
  return { labels, sizes, starts };
}

/**
 * The outer outline of the region `label` as pixel corners, walked along
 * pixel edges with the region on the right, from the top-left corner of
 * its first pixel; a vertex wherever the walk turns.
 */
function trace(labels: Int32Array, w: number, h: number, label: number, start: number): Polygon {
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && labels[y * w + x] === label;
  const x0 = start % w;
  const y0 = (start - x0) / w;
  let cx = x0;
  let cy = y0;
  let dx = 1;
  let dy = 0;
  const out: Polygon = [];
  for (let guard = 0; guard < 4 * (w + 1) * (h + 1); guard++) {
    // The pixels on the right and on the left of the edge ahead.
    const rx = dx === 1 ? cx : dx === -1 ? cx - 1 : dy === 1 ? cx - 1 : cx;
    const ry = dy === 1 ? cy : dy === -1 ? cy - 1 : dx === 1 ? cy : cy - 1;
    const lx = dx === 1 ? cx : dx === -1 ? cx - 1 : dy === 1 ? cx : cx - 1;
    const ly = dy === 1 ? cy : dy === -1 ? cy - 1 : dx === 1 ? cy - 1 : cy;
    let ndx = dx;
    let ndy = dy;
    if (!inside(rx, ry)) [ndx, ndy] = [-dy, dx]; // turn right
    else if (inside(lx, ly)) [ndx, ndy] = [dy, -dx]; // turn left
    if (ndx !== dx || ndy !== dy || out.length === 0) out.push({ x: cx, y: cy });
    dx = ndx;
    dy = ndy;
    cx += dx;
    cy += dy;
    if (cx === x0 && cy === y0) break;
  }
  return out;
}

function distanceToSegment(p: Vertex, a: Vertex, b: Vertex): number {
  const vx = b.x - a.x;
  const vy = b.y - a.y;
  const len2 = vx * vx + vy * vy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * vx + (p.y - a.y) * vy) / len2));
  return Math.hypot(p.x - (a.x + t * vx), p.y - (a.y + t * vy));
}

/** Douglas-Peucker on an open chain (its ends kept). */
function simplifyChain(chain: Polygon, epsilon: number): Polygon {
  if (chain.length < 3) return chain;
  let far = 0;
  let index = 0;
  for (let i = 1; i < chain.length - 1; i++) {
    const d = distanceToSegment(chain[i], chain[0], chain[chain.length - 1]);
    if (d > far) [far, index] = [d, i];
  }
  if (far <= epsilon) return [chain[0], chain[chain.length - 1]];
  return [...simplifyChain(chain.slice(0, index + 1), epsilon).slice(0, -1), ...simplifyChain(chain.slice(index), epsilon)];
}

/** A closed polygon with fewer vertices, none farther than `epsilon` from the outline. */
export function simplify(polygon: Polygon, epsilon: number): Polygon {
  if (polygon.length <= 4 || epsilon <= 0) return polygon;
  // Split at the vertex farthest from the first: two chains whose ends stay.
  let far = 0;
  let index = 0;
  for (let i = 1; i < polygon.length; i++) {
    const d = Math.hypot(polygon[i].x - polygon[0].x, polygon[i].y - polygon[0].y);
    if (d > far) [far, index] = [d, i];
  }
  const first = simplifyChain(polygon.slice(0, index + 1), epsilon);
  const second = simplifyChain([...polygon.slice(index), polygon[0]], epsilon);
  return [...first.slice(0, -1), ...second.slice(0, -1)];
}

/**
 * The outlines of a mask's largest regions (at most `maxPolygons`, each of
 * at least `minArea` pixels), largest first, simplified by `epsilon` pixels.
 */
export function maskToPolygons(mask: Uint8Array, w: number, h: number, { maxPolygons = 4, minArea = 16, epsilon = 1 } = {}): Polygon[] {
  const { labels, sizes, starts } = regions(mask, w, h);
  return sizes
    .map((size, i) => ({ size, label: i + 1 }))
    .filter((r) => r.size >= minArea)
    .sort((a, b) => b.size - a.size)
    .slice(0, maxPolygons)
    .map((r) => simplify(trace(labels, w, h, r.label, starts[r.label - 1]), epsilon));
}

/** Fill polygons into a w x h mask: a pixel is in when its centre is inside one of them (even-odd rule each). */
export function polygonsToMask(polygons: readonly Polygon[], w: number, h: number): Uint8Array {
  const mask = new Uint8Array(w * h);
  for (const poly of polygons) {
    if (poly.length < 3) continue;
    for (let y = 0; y < h; y++) {
      const cy = y + 0.5;
      const xs: number[] = [];
      for (let i = 0; i < poly.length; i++) {
        const a = poly[i];
        const b = poly[(i + 1) % poly.length];
        if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) xs.push(a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x));
      }
      xs.sort((p, q) => p - q);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const from = Math.max(0, Math.ceil(xs[k] - 0.5));
        const to = Math.min(w - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
        for (let x = from; x <= to; x++) mask[y * w + x] = 1;
      }
    }
  }
  return mask;
}

/** The vertex of `polygons` nearest (x, y) within `radius`, as [polygon, vertex], or null. */
export function vertexNear(polygons: readonly Polygon[], x: number, y: number, radius: number): [number, number] | null {
  let best: [number, number] | null = null;
  let bestD = radius;
  polygons.forEach((poly, i) =>
    poly.forEach((v, j) => {
      const d = Math.hypot(v.x - x, v.y - y);
      if (d <= bestD) [best, bestD] = [[i, j], d];
    }),
  );
  return best;
}

/** The polygons with one vertex moved. */
export function moveVertex(polygons: readonly Polygon[], [i, j]: [number, number], to: Vertex): Polygon[] {
  return polygons.map((poly, k) => (k === i ? poly.map((v, m) => (m === j ? { ...to } : v)) : poly));
}
