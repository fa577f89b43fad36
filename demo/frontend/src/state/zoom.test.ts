import { describe, expect, it } from 'vitest';
import { NO_ZOOM, clampZoom, panBy, videoPointAt, zoomAt, zoomTransform } from './zoom';

describe('zoom and pan', () => {
  it('zooms around a point: it stays where it is in the view', () => {
    const z = zoomAt(NO_ZOOM, 4, 0.3, 0.6);
    expect(z.scale).toBe(4);
    // (0.3, 0.6) was at view fraction (0.3, 0.6); it still is.
    const p = videoPointAt(z, 0.3, 0.6);
    expect(p.x).toBeCloseTo(0.3);
    expect(p.y).toBeCloseTo(0.6);
    // Zooming out past 1 is the whole frame again.
    expect(zoomAt(z, 0.1, 0.5, 0.5)).toEqual(NO_ZOOM);
  });

  it('pans within the picture and maps view points to video points', () => {
    let z = zoomAt(NO_ZOOM, 4, 0.5, 0.5);
    z = panBy(z, 0.2, 0); // dragged right by a fifth of the view: shows what is left
    expect(z.cx).toBeCloseTo(0.45);
    expect(videoPointAt(z, 0.5, 0.5).x).toBeCloseTo(0.45);
    expect(videoPointAt(z, 1, 1).x).toBeCloseTo(0.575);
    // Never past the edges: at 4x the centre stays within [0.125, 0.875].
    expect(panBy(z, 10, -10)).toMatchObject({ cx: 0.125, cy: 0.875 });
    expect(clampZoom({ scale: 0.5, cx: 0.1, cy: 0.9 })).toEqual(NO_ZOOM);
    expect(zoomTransform(NO_ZOOM)).toBe('none');
    expect(zoomTransform({ scale: 2, cx: 0.25, cy: 0.75 })).toBe('translate(0%, -100%) scale(2)');
  });
});
