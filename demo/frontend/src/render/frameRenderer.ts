/**
 * The renderer the live view and the video export use: WebGL2 effects
 * wherever the browser has WebGL2 (even emulated on the CPU, e.g. by
 * SwiftShader, it keeps up with a 25 fps 1280x720 video showing 16
 * objects, where the 2D canvas drew 0.8 frames/s), else the 2D-canvas compositor (every background effect;
 * object highlights as colour and outline). `?renderer=2d` or
 * `?renderer=webgl` in the page URL forces one.
 */
import type { EffectChoice } from './effectCatalog';
import { MaskLayerCache, renderFrame } from './effects';
import { GlEffectsRenderer, type GlMask } from './glEffects';
import { isPlanarFrame, type PlanarFrame } from './videoPlanes';

export interface FrameRenderer {
  readonly kind: 'webgl' | '2d';
  /** Frames are cheaper to draw from their I420 planes than from the <video> (videoPlanes.ts). */
  readonly wantsPlanes: boolean;
  /** Draw a w x h video frame with its masks, filling the renderer's canvas (any size); planes only when `wantsPlanes`. */
  render(source: (TexImageSource & CanvasImageSource) | PlanarFrame, masks: GlMask[], effect: EffectChoice, w: number, h: number): void;
}

class Canvas2dRenderer implements FrameRenderer {
  readonly kind = '2d';
  readonly wantsPlanes = false;
  private readonly cache = new MaskLayerCache(64);
  private readonly ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

  constructor(ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D) {
    this.ctx = ctx;
  }

  render(source: CanvasImageSource | PlanarFrame, masks: GlMask[], effect: EffectChoice): void {
    if (isPlanarFrame(source)) throw new Error('The 2D canvas draws images, not I420 planes.');
    const { width, height } = this.ctx.canvas;
    renderFrame(this.ctx, source, masks.map((m, i) => ({ objectId: i, color: m.color, rle: m.rle })), effect, this.cache, width, height);
  }
}

export type RendererKind = 'webgl' | '2d';

let chosen: RendererKind | null = null;

/** Which renderer this page uses (decided once, on a throwaway canvas). */
export function rendererKind(): RendererKind {
  if (chosen) return chosen;
  const forced = typeof window !== 'undefined' ? new URLSearchParams(window.location.search).get('renderer') : null;
  if (forced === 'webgl' || forced === '2d') return (chosen = forced);
  chosen = '2d';
  try {
    const probe = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
    const gl = probe.getContext('webgl2') as WebGL2RenderingContext | null;
    if (gl) {
      chosen = 'webgl';
      gl.getExtension('WEBGL_lose_context')?.loseContext();
    }
  } catch {
    // no WebGL: the 2D canvas it is
  }
  return chosen;
}

export function createFrameRenderer(canvas: HTMLCanvasElement | OffscreenCanvas): FrameRenderer {
  const gl = rendererKind() === 'webgl' ? GlEffectsRenderer.create(canvas) : null;
  if (gl) return gl;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new Error('This browser can draw neither WebGL2 nor a 2D canvas.');
  return new Canvas2dRenderer(ctx);
}
