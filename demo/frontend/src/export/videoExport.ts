/**
 * Export the video with the current effects: frames are seeked one by one in a
 * private <video>, composed with their masks by the live view's renderer, encoded by WebCodecs and muxed
 * into MP4 by mp4-muxer. Browsers without WebCodecs get a clear message.
 */
import { ArrayBufferTarget, Muxer } from 'mp4-muxer';
import type { EffectChoice } from '../render/effectCatalog';
import { createFrameRenderer } from '../render/frameRenderer';
import type { GlMask } from '../render/glEffects';
import { timeForFrame } from '../render/frameTime';

export interface VideoExportOptions {
  /** URL of the source video (same origin or CORS-enabled). */
  src: string;
  width: number;
  height: number;
  fps: number;
  numFrames: number;
  effect: EffectChoice;
  masksForFrame: (frameIndex: number) => GlMask[];
  onProgress?: (framesDone: number, total: number) => void;
  signal?: AbortSignal;
}

/** Codecs tried in order; H.264 first for the widest playback support. */
const CANDIDATES: { codec: string; muxCodec: 'avc' | 'vp9' }[] = [
  { codec: 'avc1.640028', muxCodec: 'avc' }, // High, level 4.0 (up to 1080p)
  { codec: 'avc1.4d0028', muxCodec: 'avc' },
  { codec: 'avc1.42001f', muxCodec: 'avc' }, // Baseline 3.1
  { codec: 'vp09.00.40.08', muxCodec: 'vp9' },
];

/** Why video export cannot run here, or null when it can be tried. */
export function videoExportUnsupportedReason(): string | null {
  if (typeof VideoEncoder === 'undefined' || typeof VideoFrame === 'undefined') {
    return 'This browser has no WebCodecs video encoder; use a recent Chrome, Edge or Chromium to export the video (mask exports work everywhere).';
  }
  return null;
}

async function pickCodec(width: number, height: number, fps: number) {
  for (const c of CANDIDATES) {
    const config: VideoEncoderConfig = { codec: c.codec, width, height, bitrate: Math.max(1_000_000, width * height * fps * 0.15), framerate: fps };
    if (c.muxCodec === 'avc') config.avc = { format: 'avc' };
    try {
      const support = await VideoEncoder.isConfigSupported(config);
      if (support.supported) return { config, muxCodec: c.muxCodec };
    } catch {
      // unsupported config shape; try the next one
    }
  }
  return null;
}

function once(target: EventTarget, event: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = () => reject(new Error('The video could not be read for export.'));
    const onAbort = () => reject(new DOMException('Export cancelled', 'AbortError'));
    target.addEventListener(event, () => {
      target.removeEventListener('error', onError);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, { once: true });
    target.addEventListener('error', onError, { once: true });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function exportEffectVideo(opts: VideoExportOptions): Promise<Blob> {
  const reason = videoExportUnsupportedReason();
  if (reason) throw new Error(reason);
  // H.264 needs even sizes; the server's videos already are, odd ones lose a pixel.
  const width = opts.width & ~1;
  const height = opts.height & ~1;
  const picked = await pickCodec(width, height, opts.fps);
  if (!picked) throw new Error('This browser cannot encode H.264 or VP9 video at this size.');

  const video = document.createElement('video');
  video.crossOrigin = 'anonymous';
  video.muted = true;
  video.preload = 'auto';
  video.src = opts.src;
  await once(video, 'loadeddata', opts.signal);

  const canvas = new OffscreenCanvas(width, height);
  const renderer = createFrameRenderer(canvas);
  const muxer = new Muxer({
    target: new ArrayBufferTarget(),
    video: { codec: picked.muxCodec, width, height, frameRate: opts.fps },
    fastStart: 'in-memory',
  });
  let encodeError: Error | null = null;
  const encoder = new VideoEncoder({
    output: (chunk, meta) => muxer.addVideoChunk(chunk, meta),
    error: (e) => {
      encodeError = e instanceof Error ? e : new Error(String(e));
    },
  });
  encoder.configure(picked.config);
  const frameUs = 1_000_000 / opts.fps;
  try {
    for (let i = 0; i < opts.numFrames; i++) {
      if (opts.signal?.aborted) throw new DOMException('Export cancelled', 'AbortError');
      if (encodeError) throw encodeError;
      const seeked = once(video, 'seeked', opts.signal);
      video.currentTime = timeForFrame(i, opts.fps);
      await seeked;
      // Masks are at the video's own size; the renderer scales them to the (even-sized) canvas.
      renderer.render(video, opts.masksForFrame(i), opts.effect, opts.width, opts.height);
      const frame = new VideoFrame(canvas, { timestamp: Math.round(i * frameUs), duration: Math.round(frameUs) });
      encoder.encode(frame, { keyFrame: i % Math.max(1, Math.round(opts.fps * 2)) === 0 });
      frame.close();
      // Keep the encoder's queue short so memory stays flat on long videos.
      while (encoder.encodeQueueSize > 4) await new Promise((r) => setTimeout(r, 5));
      opts.onProgress?.(i + 1, opts.numFrames);
    }
    await encoder.flush();
    if (encodeError) throw encodeError;
    muxer.finalize();
  } finally {
    if (encoder.state !== 'closed') encoder.close();
    video.removeAttribute('src');
    video.load();
  }
  return new Blob([muxer.target.buffer], { type: 'video/mp4' });
}
