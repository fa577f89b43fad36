/**
 * Compose one video frame with its masks on a 2D canvas, for the chosen
 * effect. The same code draws the live view and the exported video.
 */
import { decodeMask, type RleMask } from './rle';
import { hexToRgb, mattePixels, overlayPixels } from './maskPixels';

export type EffectName = 'overlay' | 'cutout' | 'eraseBackground' | 'blurBackground' | 'desaturateBackground';

export const EFFECTS: { id: EffectName; label: string }[] = [
  { id: 'overlay', label: 'Overlay with outline' },
  { id: 'cutout', label: 'Cutout (objects only)' },
  { id: 'eraseBackground', label: 'Erase background' },
  { id: 'blurBackground', label: 'Blur background' },
  { id: 'desaturateBackground', label: 'Desaturate background' },
];

export interface MaskToDraw {
  objectId: number;
  color: string;
  rle: RleMask;
}

type AnyCanvas = HTMLCanvasElement | OffscreenCanvas;
type Any2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function makeCanvas(width: number, height: number): AnyCanvas {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

function context2d(c: AnyCanvas): Any2D {
  const ctx = c.getContext('2d') as Any2D | null;
  if (!ctx) throw new Error('This browser cannot draw on a 2D canvas.');
  return ctx;
}

/**
 * Decoded mask layers, least recently used dropped first, within a memory
 * budget (a 1280x720 layer is 3.7 MB). Keyed by the RLE object itself: the
 * mask store replaces objects when masks change, so a stale layer is never
 * found again.
 */
export class MaskLayerCache {
  private readonly layers = new Map<RleMask, Map<string, AnyCanvas>>();
  private scratch: AnyCanvas | null = null;
  private readonly budgetBytes: number;
  private usedBytes = 0;

  /** @param budgetMB RGBA bytes the cached layers may hold, in MiB */
  constructor(budgetMB = 160) {
    this.budgetBytes = budgetMB * 1024 * 1024;
  }

  /** `kind` is "matte" or an overlay colour. */
  layer(rle: RleMask, kind: string): AnyCanvas {
    let byKind = this.layers.get(rle);
    if (byKind) {
      this.layers.delete(rle); // re-insert as most recent
    } else {
      byKind = new Map();
    }
    this.layers.set(rle, byKind);
    let canvas = byKind.get(kind);
    if (!canvas) {
      const [h, w] = rle.size;
      const mask = decodeMask(rle);
      const pixels = kind === 'matte' ? mattePixels(mask) : overlayPixels(mask, w, h, hexToRgb(kind));
      canvas = makeCanvas(w, h);
      context2d(canvas).putImageData(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, w, h), 0, 0);
      byKind.set(kind, canvas);
      this.usedBytes += w * h * 4;
      this.evict(rle);
    }
    return canvas;
  }

  /** Drop least recently used layers (never `keep`) until within budget. */
  private evict(keep: RleMask): void {
    for (const [rle, byKind] of this.layers) {
      if (this.usedBytes <= this.budgetBytes) break;
      if (rle === keep) continue;
      this.usedBytes -= byKind.size * rle.size[0] * rle.size[1] * 4;
      this.layers.delete(rle);
    }
  }

  /** A reusable canvas of the given size for intermediate results. */
  scratchCanvas(width: number, height: number): AnyCanvas {
    if (!this.scratch || this.scratch.width !== width || this.scratch.height !== height) {
      this.scratch = makeCanvas(width, height);
    }
    return this.scratch;
  }
}

/** Draw only the objects of `source` (union of their mattes) onto `ctx`. */
function drawObjectsOnly(ctx: Any2D, source: CanvasImageSource, masks: MaskToDraw[], cache: MaskLayerCache, w: number, h: number) {
  const scratch = cache.scratchCanvas(w, h);
  const s = context2d(scratch);
  s.globalCompositeOperation = 'source-over';
  s.clearRect(0, 0, w, h);
  for (const m of masks) s.drawImage(cache.layer(m.rle, 'matte'), 0, 0, w, h);
  s.globalCompositeOperation = 'source-in';
  s.drawImage(source, 0, 0, w, h);
  s.globalCompositeOperation = 'source-over';
  ctx.drawImage(scratch, 0, 0, w, h);
}

/** Blur radius that looks the same whatever the video's size. */
function blurRadius(w: number, h: number): number {
  return Math.max(4, Math.round(Math.max(w, h) / 80));
}

/**
 * Draw `source` (a video frame) with its masks onto `ctx`, filling the
 * whole canvas of size w x h.
 */
export function renderFrame(ctx: Any2D, source: CanvasImageSource, masks: MaskToDraw[], effect: EffectName, cache: MaskLayerCache, w: number, h: number): void {
  ctx.save();
  ctx.globalAlpha = 1;
  ctx.globalCompositeOperation = 'source-over';
  ctx.filter = 'none';
  if (masks.length === 0 && effect !== 'cutout') {
    ctx.drawImage(source, 0, 0, w, h);
    ctx.restore();
    return;
  }
  switch (effect) {
    case 'overlay':
      ctx.drawImage(source, 0, 0, w, h);
      for (const m of masks) ctx.drawImage(cache.layer(m.rle, m.color), 0, 0, w, h);
      break;
    case 'cutout':
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, w, h);
      drawObjectsOnly(ctx, source, masks, cache, w, h);
      break;
    case 'eraseBackground':
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, w, h);
      drawObjectsOnly(ctx, source, masks, cache, w, h);
      break;
    case 'blurBackground':
      ctx.filter = `blur(${blurRadius(w, h)}px)`;
      ctx.drawImage(source, 0, 0, w, h);
      ctx.filter = 'none';
      drawObjectsOnly(ctx, source, masks, cache, w, h);
      break;
    case 'desaturateBackground':
      ctx.filter = 'grayscale(1)';
      ctx.drawImage(source, 0, 0, w, h);
      ctx.filter = 'none';
      drawObjectsOnly(ctx, source, masks, cache, w, h);
      break;
  }
  ctx.restore();
}
