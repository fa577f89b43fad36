/**
 * Brush and eraser on a mask: round, hard-edged strokes painted into a
 * row-major binary image at the video's resolution (what the server takes
 * as a mask prompt). A stroke is a polyline of points; each segment is
 * covered by discs close enough that no gap shows between them.
 */

export type PaintTool = 'brush' | 'eraser';

/** A stroke point in video pixels. */
export interface PaintPoint {
  x: number;
  y: number;
}

/** Brush radii offered (video pixels). */
export const MIN_BRUSH_RADIUS = 2;
export const MAX_BRUSH_RADIUS = 120;

/** Set every pixel whose centre lies within `r` of (cx, cy) to `value`; returns how many changed. */
export function stampDisc(mask: Uint8Array, width: number, height: number, cx: number, cy: number, r: number, value: 0 | 1): number {
  let changed = 0;
  const y0 = Math.max(0, Math.ceil(cy - r - 0.5));
  const y1 = Math.min(height - 1, Math.floor(cy + r - 0.5));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    const half = Math.sqrt(Math.max(0, r * r - dy * dy));
    const x0 = Math.max(0, Math.ceil(cx - half - 0.5));
    const x1 = Math.min(width - 1, Math.floor(cx + half - 0.5));
    const row = y * width;
    for (let x = x0; x <= x1; x++) {
      if (mask[row + x] !== value) {
        mask[row + x] = value;
        changed++;
      }
    }
  }
  return changed;
}

/**
 * Paint a stroke (brush: 1, eraser: 0) into `mask` in place; returns how
 * many pixels changed. A single point stamps one disc.
 */
export function paintStroke(mask: Uint8Array, width: number, height: number, points: readonly PaintPoint[], r: number, tool: PaintTool): number {
  const value = tool === 'brush' ? 1 : 0;
  let changed = 0;
  if (points.length === 0) return 0;
  changed += stampDisc(mask, width, height, points[0].x, points[0].y, r, value);
  // Discs at most r/2 apart overlap enough to leave no notches along the stroke.
  const spacing = Math.max(0.5, r / 2);
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    const steps = Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / spacing);
    for (let s = 1; s <= steps; s++) {
      const t = s / steps;
      changed += stampDisc(mask, width, height, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, r, value);
    }
  }
  return changed;
}
