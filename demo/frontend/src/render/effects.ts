/**
 * Compose one video frame with its masks on a 2D canvas: the CPU fallback
 * of the WebGL effects (glEffects.ts) where WebGL is missing or emulated in
 * software. Every background effect is drawn; on the objects, "Unchanged"
 * leaves them as they are and every other highlight is drawn as colour and
 * outline.
 */
import type { EffectChoice } from './effectCatalog';
import { decodeMask, type RleMask } from './rle';
import { hexToRgb, mattePixels, overlayPixels } from './maskPixels';

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
  private readonly scratch = new Map<string, AnyCanvas>();
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

  /** A reusable canvas of the given size for intermediate results (one per purpose). */
  scratchCanvas(width: number, height: number, purpose = 'objects'): AnyCanvas {
    let c = this.scratch.get(purpose);
    if (!c || c.width !== width || c.height !== height) {
      c = makeCanvas(width, height);
      this.scratch.set(purpose, c);
    }
    return c;
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

/** CSS filter of the background effects a filter can draw. */
const BACKGROUND_FILTERS: Partial<Record<EffectChoice['background'], (w: number, h: number) => string>> = {
  dim: () => 'brightness(0.25)',
  blur: (w, h) => `blur(${blurRadius(w, h)}px)`,
  desaturate: () => 'grayscale(1)',
  sepia: () => 'sepia(1)',
};

function drawBackground(ctx: Any2D, source: CanvasImageSource, effect: EffectChoice['background'], cache: MaskLayerCache, w: number, h: number): void {
  const filter = BACKGROUND_FILTERS[effect];
  if (filter) {
    ctx.filter = filter(w, h);
    ctx.drawImage(source, 0, 0, w, h);
    ctx.filter = 'none';
  } else if (effect === 'pixelate') {
    const block = Math.max(4, Math.floor(Math.max(w, h) / 64));
    const small = cache.scratchCanvas(Math.ceil(w / block), Math.ceil(h / block), 'pixelate');
    context2d(small).drawImage(source, 0, 0, small.width, small.height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, w, h);
    ctx.imageSmoothingEnabled = true;
  } else if (effect === 'erase' || effect === 'black') {
    ctx.fillStyle = effect === 'erase' ? '#fff' : '#000';
    ctx.fillRect(0, 0, w, h);
  } else if (effect === 'gradient') {
    const g = ctx.createLinearGradient(0, 0, w, h);
    g.addColorStop(0, '#1a296b');
    g.addColorStop(1, '#8c2e9e');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, w, h);
  } else {
    ctx.drawImage(source, 0, 0, w, h);
  }
}

/**
 * Draw `source` (a video frame) with its masks onto `ctx`, filling the
 * whole canvas of size w x h.
 */
export function renderFrame(ctx: Any2D, source: CanvasImageSource, masks: MaskToDraw[], effect: EffectChoice, cache: MaskLayerCache, w: number, h: number): void {
  ctx.save();
  ctx.globalAlpha = 1;
  ctx.globalCompositeOperation = 'source-over';
  ctx.filter = 'none';
  if (masks.length === 0) {
    ctx.drawImage(source, 0, 0, w, h);
    ctx.restore();
    return;
  }
  drawBackground(ctx, source, effect.background, cache, w, h);
  if (effect.background !== 'none') drawObjectsOnly(ctx, source, masks, cache, w, h);
  if (effect.highlight !== 'none') for (const m of masks) ctx.drawImage(cache.layer(m.rle, m.color), 0, 0, w, h);
  ctx.restore();
}
