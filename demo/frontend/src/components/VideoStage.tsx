/**
 * The video surface: a <video> decodes frames, a canvas on top shows each
 * frame with its masks (chosen effect) and prompts, and turns pointer input
 * into prompts: click = point, right/Alt-click = negative, drag = box.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { resolveApiUrl } from '../api/config';
import { useController, useDemoState } from '../app/useController';
import { proposalMasksOnFrame, useEverythingState } from '../app/segmentEverything';
import { MaskLayerCache, renderFrame, type MaskToDraw } from '../render/effects';
import { frameForTime, timeForFrame } from '../render/frameTime';
import { getPrompt, type PromptBox } from '../state/prompts';
import type { DemoController, DemoState } from '../app/controller';

/** Pointer travel (CSS px) that turns a click into a box drag. */
const DRAG_THRESHOLD_PX = 6;
/** Radius (CSS px) within which a click removes an existing point. */
const HIT_RADIUS_PX = 10;

interface Drag {
  pointerId: number;
  startX: number; // client px
  startY: number;
  x0: number; // normalised
  y0: number;
  negative: boolean;
  isBox: boolean;
}

type VideoWithFrameCallback = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

function drawPrompts(ctx: CanvasRenderingContext2D, st: DemoState, frame: number, w: number, h: number, rubber: PromptBox | null) {
  const unit = Math.max(w, h) / 100;
  for (const o of st.objects.objects) {
    const prompt = getPrompt(st.prompts, o.id, frame);
    ctx.globalAlpha = o.id === st.objects.selectedId ? 1 : 0.6;
    if (prompt.box) {
      const b = prompt.box;
      ctx.setLineDash([unit, unit * 0.6]);
      ctx.lineWidth = Math.max(2, unit * 0.35);
      ctx.strokeStyle = o.color;
      ctx.strokeRect(b.x0 * w, b.y0 * h, (b.x1 - b.x0) * w, (b.y1 - b.y0) * h);
      ctx.setLineDash([]);
    }
    for (const p of prompt.points) {
      const x = p.x * w;
      const y = p.y * h;
      const r = Math.max(5, unit * 0.9);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fillStyle = p.label === 1 ? o.color : '#111';
      ctx.fill();
      ctx.lineWidth = Math.max(1.5, r * 0.3);
      ctx.strokeStyle = p.label === 1 ? '#fff' : '#ff4d4d';
      ctx.stroke();
      // + for positive, - for negative
      ctx.beginPath();
      ctx.moveTo(x - r * 0.5, y);
      ctx.lineTo(x + r * 0.5, y);
      if (p.label === 1) {
        ctx.moveTo(x, y - r * 0.5);
        ctx.lineTo(x, y + r * 0.5);
      }
      ctx.strokeStyle = p.label === 1 ? '#fff' : '#ff4d4d';
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;
  if (rubber) {
    ctx.setLineDash([unit, unit * 0.6]);
    ctx.lineWidth = Math.max(2, unit * 0.3);
    ctx.strokeStyle = '#fff';
    ctx.strokeRect(rubber.x0 * w, rubber.y0 * h, (rubber.x1 - rubber.x0) * w, (rubber.y1 - rubber.y0) * h);
    ctx.setLineDash([]);
  }
}

function masksOnFrame(c: DemoController, st: DemoState, frame: number): MaskToDraw[] {
  const out: MaskToDraw[] = [];
  for (const o of st.objects.objects) {
    const rle = c.masks.get(frame, o.id);
    if (rle) out.push({ objectId: o.id, color: o.color, rle });
  }
  return out;
}

export function VideoStage() {
  const c = useController();
  const st = useDemoState();
  const videoRef = useRef<VideoWithFrameCallback | null>(null);
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const cacheRef = useRef(new MaskLayerCache());
  const latest = useRef(st);
  const shownFrame = useRef(0);
  const dragRef = useRef<Drag | null>(null);
  const [rubber, setRubber] = useState<PromptBox | null>(null);
  const rubberRef = useRef<PromptBox | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const video = st.video;
  const src = video ? resolveApiUrl(video.url, c.client.baseUrl) : undefined;
  const fps = video?.fps || 25;
  const numFrames = video?.numFrames || 1;

  const draw = useCallback(() => {
    const el = videoRef.current;
    const canvas = canvasRef.current;
    if (!el || !canvas || el.readyState < 2) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const s = latest.current;
    const frame = shownFrame.current;
    const masks = [...masksOnFrame(c, s, frame), ...proposalMasksOnFrame(c, frame)];
    renderFrame(ctx, el, masks, s.effect, cacheRef.current, canvas.width, canvas.height);
    drawPrompts(ctx, s, frame, canvas.width, canvas.height, rubberRef.current);
  }, [c]);

  // Keep the latest state for callbacks that outlive a render.
  useEffect(() => {
    latest.current = st;
    rubberRef.current = rubber;
  });
  // Redraw when what is drawn changes (frame changes draw themselves).
  const { maskVersion, effect, objects, prompts } = st;
  const proposals = useEverythingState();
  useEffect(() => {
    draw();
  }, [maskVersion, effect, objects, prompts, rubber, proposals, draw]);

  const showFrame = useCallback(
    (frame: number) => {
      shownFrame.current = frame;
      c.setCurrentFrame(frame);
      draw();
    },
    [c, draw],
  );

  // Video element events: size, seeks, play state, presented frames.
  useEffect(() => {
    const el = videoRef.current;
    if (!el || !src) return;
    setLoadError(null);
    let handle = 0;
    const onFrame = (_now: number, meta: { mediaTime: number }) => {
      showFrame(frameForTime(meta.mediaTime, fps, numFrames));
      handle = el.requestVideoFrameCallback?.(onFrame) ?? 0;
    };
    handle = el.requestVideoFrameCallback?.(onFrame) ?? 0;
    const onLoaded = () => {
      const canvas = canvasRef.current;
      if (canvas && (canvas.width !== el.videoWidth || canvas.height !== el.videoHeight)) {
        canvas.width = el.videoWidth;
        canvas.height = el.videoHeight;
      }
      const want = latest.current.seekRequest?.frame ?? 0;
      el.currentTime = timeForFrame(want, fps);
      showFrame(want);
    };
    const onSeeked = () => showFrame(frameForTime(el.currentTime, fps, numFrames));
    const onPlay = () => c.setPlaying(true);
    const onPause = () => c.setPlaying(false);
    const onError = () => setLoadError('The browser cannot play this video.');
    // Without requestVideoFrameCallback, follow playback by animation frames.
    let raf = 0;
    const poll = () => {
      if (!el.paused) showFrame(frameForTime(el.currentTime, fps, numFrames));
      raf = requestAnimationFrame(poll);
    };
    if (!el.requestVideoFrameCallback) raf = requestAnimationFrame(poll);
    el.addEventListener('loadeddata', onLoaded);
    el.addEventListener('seeked', onSeeked);
    el.addEventListener('play', onPlay);
    el.addEventListener('pause', onPause);
    el.addEventListener('ended', onPause);
    el.addEventListener('error', onError);
    return () => {
      el.cancelVideoFrameCallback?.(handle);
      cancelAnimationFrame(raf);
      el.removeEventListener('loadeddata', onLoaded);
      el.removeEventListener('seeked', onSeeked);
      el.removeEventListener('play', onPlay);
      el.removeEventListener('pause', onPause);
      el.removeEventListener('ended', onPause);
      el.removeEventListener('error', onError);
    };
  }, [src, fps, numFrames, c, showFrame]);

  // Seek requests from the controller (scrubber, steps, tracking follow, undo).
  const seekRequest = st.seekRequest;
  useEffect(() => {
    const el = videoRef.current;
    if (!el || !seekRequest || el.readyState < 1) return;
    if (!el.paused) el.pause();
    el.currentTime = timeForFrame(seekRequest.frame, fps);
  }, [seekRequest, fps]);

  // Play / pause go straight to the element; its events report back.
  useEffect(() => {
    const el = videoRef.current;
    if (!el) return;
    return c.attachPlayer({
      play: () => {
        if (shownFrame.current >= numFrames - 1) el.currentTime = timeForFrame(0, fps);
        el.play().catch(() => undefined); // a pause() right after rejects play(): fine
      },
      pause: () => el.pause(),
    });
  }, [c, fps, numFrames, src]);

  const toNormalised = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return {
      x: Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width)),
      y: Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height)),
      rect,
    };
  };

  const onPointerDown = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (e.button !== 0 && e.button !== 2) return;
    e.preventDefault();
    c.pause();
    const { x, y } = toNormalised(e);
    e.currentTarget.setPointerCapture(e.pointerId);
    dragRef.current = {
      pointerId: e.pointerId, startX: e.clientX, startY: e.clientY, x0: x, y0: y,
      negative: e.button === 2 || e.altKey, isBox: false,
    };
  };

  const onPointerMove = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const d = dragRef.current;
    if (!d || d.pointerId !== e.pointerId) return;
    if (!d.isBox && Math.hypot(e.clientX - d.startX, e.clientY - d.startY) >= DRAG_THRESHOLD_PX && !d.negative) d.isBox = true;
    if (d.isBox) {
      const { x, y } = toNormalised(e);
      setRubber({ x0: Math.min(d.x0, x), y0: Math.min(d.y0, y), x1: Math.max(d.x0, x), y1: Math.max(d.y0, y) });
    }
  };

  const onPointerUp = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const d = dragRef.current;
    if (!d || d.pointerId !== e.pointerId) return;
    dragRef.current = null;
    setRubber(null);
    const { x, y, rect } = toNormalised(e);
    const frame = shownFrame.current;
    if (d.isBox) {
      if (Math.abs(x - d.x0) * rect.width >= DRAG_THRESHOLD_PX && Math.abs(y - d.y0) * rect.height >= DRAG_THRESHOLD_PX) {
        c.drawBox(frame, { x0: d.x0, y0: d.y0, x1: x, y1: y });
      }
      return;
    }
    c.clickAt(frame, d.x0, d.y0, d.negative, HIT_RADIUS_PX / rect.width, HIT_RADIUS_PX / rect.height);
  };

  const onPointerCancel = () => {
    dragRef.current = null;
    setRubber(null);
  };

  if (!video) {
    return <div className="stage stage-empty">{st.sessionStatus === 'error' ? 'No video could be opened.' : 'Loading videos…'}</div>;
  }

  return (
    <div className="stage">
      {/* As wide as the stage allows, capped by the height budget; small videos scale up. */}
      <div className="stage-frame" style={{ width: `min(100%, calc(68vh * ${video.width / Math.max(video.height, 1)}))` }}>
        <video ref={videoRef} className="stage-video" src={src} crossOrigin="anonymous" muted playsInline preload="auto" aria-hidden="true" />
        <canvas
          ref={canvasRef}
          className="stage-canvas"
          width={video.width}
          height={video.height}
          aria-label="Video canvas"
          role="img"
          tabIndex={0}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerCancel}
          onContextMenu={(e) => e.preventDefault()}
        />
      </div>
      {loadError && <p className="error" role="alert">{loadError}</p>}
    </div>
  );
}
