/**
 * The video's zoom and pan, as the page shows it: `scale` (1 = the whole
 * frame fits) and the point of the video at the centre of the view, in
 * normalised video coordinates. Kept inside the picture: the view never
 * shows past the frame's edges.
 */

export interface StageZoom {
  scale: number;
  cx: number;
  cy: number;
}

export const NO_ZOOM: StageZoom = { scale: 1, cx: 0.5, cy: 0.5 };
export const MAX_ZOOM = 16;

function clampCentre(c: number, scale: number): number {
  const half = 0.5 / scale;
  return Math.min(1 - half, Math.max(half, c));
}

export function clampZoom(z: StageZoom): StageZoom {
  const scale = Math.min(MAX_ZOOM, Math.max(1, z.scale));
  return { scale, cx: clampCentre(z.cx, scale), cy: clampCentre(z.cy, scale) };
}

/**
 * Zoom by `factor` keeping the video point (u, v) where it is on screen
 * (under the pointer, or the centre of the view).
 */
export function zoomAt(z: StageZoom, factor: number, u: number, v: number): StageZoom {
  const scale = Math.min(MAX_ZOOM, Math.max(1, z.scale * factor));
  // Where (u, v) sits in the view, as a fraction of it: the same before and after.
  const px = (u - z.cx) * z.scale;
  const py = (v - z.cy) * z.scale;
  return clampZoom({ scale, cx: u - px / scale, cy: v - py / scale });
}

/** Move the picture by (dx, dy), fractions of the view's width and height (a drag to the right shows what is left). */
export function panBy(z: StageZoom, dx: number, dy: number): StageZoom {
  return clampZoom({ ...z, cx: z.cx - dx / z.scale, cy: z.cy - dy / z.scale });
}

/** The CSS transform of the picture inside a view of its own size (transform-origin: 0 0; % of that size). */
export function zoomTransform(z: StageZoom): string {
  if (z.scale === 1) return 'none';
  const tx = 100 * (0.5 - z.cx * z.scale);
  const ty = 100 * (0.5 - z.cy * z.scale);
  return `translate(${tx}%, ${ty}%) scale(${z.scale})`;
}

/** The video point (normalised) shown at view fraction (px, py) of the view. */
export function videoPointAt(z: StageZoom, px: number, py: number): { x: number; y: number } {
  return { x: z.cx + (px - 0.5) / z.scale, y: z.cy + (py - 0.5) / z.scale };
}
