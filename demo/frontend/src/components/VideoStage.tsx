/**
 * The video surface: a <video> decodes frames, a WebGL canvas shows each
 * frame with its masks (chosen effects), and a 2D canvas on top shows the
 * prompts and turns input into prompts: click = point, right/Alt-click =
 * negative, drag = box; touch: tap = point, long-press = negative;
 * keyboard (canvas focused): arrows move a cursor, Enter / Shift+Enter add
 * a positive / negative point there. With the brush or eraser, a drag
 * paints the selected object's mask (right button or Alt: the other one)
 * and Enter dabs at the cursor.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { resolveApiUrl } from '../api/config';
import { proposalMasksOnFrame, useEverythingState } from '../app/useEverything';
import { useController, useDemoState } from '../app/useController';
import type { DemoController, DemoState } from '../app/controller';
import { createFrameRenderer, type FrameRenderer } from '../render/frameRenderer';
import type { GlMask } from '../render/glEffects';
import { PlaneReader, type PlanarFrame } from '../render/videoPlanes';
import { frameForTime, timeForFrame } from '../render/frameTime';
import type { PaintPoint, PaintTool } from '../state/maskPaint';
import type { PromptBox } from '../state/prompts';
import { isShown } from '../state/visibility';
import { panBy, videoPointAt, zoomAt, zoomTransform } from '../state/zoom';
import { decodeMask, type RleMask } from '../render/rle';
import { maskToPolygons, moveVertex, vertexNear, type Polygon } from '../state/polygon';
import { drawBrush, drawOverlay, drawPolygons, overlayHasMarks, type Cursor, type Stroke } from './stageDrawing';

/** Pointer travel (CSS px) that turns a click into a box drag. */
const DRAG_THRESHOLD_PX = 6;
/** Radius (CSS px) within which a click removes an existing point (a finger gets more). */
const HIT_RADIUS_PX = 10;
const HIT_RADIUS_TOUCH_PX = 18;
/** A touch held this long (ms) without moving is a negative point. */
const LONG_PRESS_MS = 550;
/** How often (ms) the rest of the page hears of the frame during playback. */
const PLAYING_UI_EVERY_MS = 120;
/** Keyboard cursor steps, normalised (Shift: coarse). */
const CURSOR_STEP = 0.01;
const CURSOR_STEP_COARSE = 0.05;

interface Drag {
  pointerId: number;
  startX: number; // client px
  startY: number;
  x0: number; // normalised
  y0: number;
  negative: boolean;
  isBox: boolean;
  touch: boolean;
  /** The long-press already placed its point. */
  done: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

/** Wheel travel (pixels) that doubles the zoom. */
const WHEEL_PER_DOUBLING = 300;

/** A pan in progress: a drag with Space held or the middle button, or two fingers. */
interface PanDrag {
  pointerId: number;
  lastX: number;
  lastY: number;
}

/** A brush or eraser drag in progress. */
interface PaintDrag {
  pointerId: number;
  tool: PaintTool;
  points: PaintPoint[]; // normalised
}

type VideoWithFrameCallback = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/** Each mask's outlines, traced once (a mask's RLE object is never changed in place). */
const outlines = new WeakMap<RleMask, Polygon[]>();

/** The polygon view's outlines of the selected object on `frame` (video pixels), or none. */
function polygonsOnFrame(c: DemoController, st: DemoState, frame: number): Polygon[] {
  const id = st.objects.selectedId;
  const rle = id === null ? undefined : c.masks.get(frame, id);
  if (st.tool !== 'polygon' || !rle || !st.video) return [];
  let polys = outlines.get(rle);
  if (!polys) {
    const [h, w] = rle.size;
    polys = maskToPolygons(decodeMask(rle), w, h, { maxPolygons: 6, minArea: 24, epsilon: 1.5 });
    outlines.set(rle, polys);
  }
  return polys;
}

/** A polygon vertex being dragged: which one, and the outlines as moved so far. */
interface VertexDrag {
  pointerId: number;
  vertex: [number, number];
  polygons: Polygon[];
}

function masksOnFrame(c: DemoController, st: DemoState, frame: number): GlMask[] {
  const out: GlMask[] = [];
  for (const o of st.objects.objects) {
    if (!isShown(st.visibility, o.id)) continue;
    const rle = c.masks.get(frame, o.id);
    if (rle) out.push({ color: o.color, rle, stale: c.masks.isStale(frame, o.id) });
  }
  return out;
}

export function VideoStage() {
  const c = useController();
  const st = useDemoState();
  const videoRef = useRef<VideoWithFrameCallback | null>(null);
  const glRef = useRef<HTMLCanvasElement | null>(null);
  const rendererRef = useRef<FrameRenderer | null>(null);
  const planesRef = useRef<PlaneReader | null>(null);
  /** The latest `draw`, for the plane reader's callback. */
  const redraw = useRef<() => void>(() => undefined);
  const overlayRef = useRef<HTMLCanvasElement | null>(null);
  const latest = useRef(st);
  const shownFrame = useRef(0);
  const dragRef = useRef<Drag | null>(null);
  const [rubber, setRubber] = useState<PromptBox | null>(null);
  const [cursor, setCursor] = useState<Cursor | null>(null);
  const paintRef = useRef<PaintDrag | null>(null);
  const vertexRef = useRef<VertexDrag | null>(null);
  const frameRef = useRef<HTMLDivElement | null>(null);
  const panRef = useRef<PanDrag | null>(null);
  /** Touch points down on the video (two: a pinch). */
  const touches = useRef(new Map<number, { x: number; y: number }>());
  const pinch = useRef<{ dist: number; midX: number; midY: number } | null>(null);
  const spaceHeld = useRef(false);
  const pointerInside = useRef(false);
  const [stroke, setStroke] = useState<Stroke | null>(null);
  /** Where the pointer hovers (normalised), for the brush outline; drawn without a React render. */
  const hover = useRef<Cursor | null>(null);
  const overlayState = useRef<{ rubber: PromptBox | null; cursor: Cursor | null; stroke: Stroke | null }>({ rubber: null, cursor: null, stroke: null });
  /** The overlay may show marks; false once it has been cleared with nothing to show. */
  const overlayMarked = useRef(true);
  const [loadError, setLoadError] = useState<string | null>(null);

  const video = st.video;
  const src = video ? resolveApiUrl(video.url, c.client.baseUrl) : undefined;
  const fps = video?.fps || 25;
  const numFrames = video?.numFrames || 1;

  const draw = useCallback(() => {
    const el = videoRef.current;
    const canvas = glRef.current;
    const overlay = overlayRef.current;
    if (!el || !canvas || !overlay || el.readyState < 2) return;
    const renderer = (rendererRef.current ??= createFrameRenderer(canvas));
    let source: HTMLVideoElement | PlanarFrame = el;
    if (renderer.wantsPlanes) {
      planesRef.current ??= new PlaneReader(el, () => redraw.current());
      const planes = planesRef.current.current();
      if (planes) source = planes;
      else if (planesRef.current.usable) return; // drawn when the planes arrive, a moment later
    }
    const s = latest.current;
    const frame = shownFrame.current;
    const masks = [...masksOnFrame(c, s, frame), ...proposalMasksOnFrame(c, frame)];
    renderer.render(source, masks, s.effect, el.videoWidth, el.videoHeight);
    canvas.dataset.drawnFrame = String(frame); // lets tests and tools count the frames actually drawn
    canvas.dataset.frameSource = source === el ? 'video' : 'planes'; // and which way the frame went
    const { rubber: band, cursor: mark, stroke: painting } = overlayState.current;
    const brushAt = s.tool === 'points' || s.tool === 'polygon' ? null : (hover.current ?? mark);
    const polygons = vertexRef.current?.polygons ?? polygonsOnFrame(c, s, frame);
    const marked = overlayHasMarks(s, frame, band, mark) || Boolean(painting || brushAt) || polygons.length > 0;
    // The outline's vertices (video pixels) for tests and tools, as the drawn frame above.
    const outlineText = polygons.map((p) => p.map((v) => `${Math.round(v.x)},${Math.round(v.y)}`).join(' ')).join('|');
    if ((overlay.dataset.outline ?? '') !== outlineText) overlay.dataset.outline = outlineText; // no DOM write per played frame
    // A blank overlay is left alone: in playback, redrawing it would cost a layer upload per frame for nothing.
    if (!marked && !overlayMarked.current) return;
    const ctx = overlay.getContext('2d');
    const scale = overlay.width / Math.max(1, overlay.clientWidth);
    const coarse = window.matchMedia?.('(pointer: coarse)').matches ?? false;
    if (ctx) {
      drawOverlay(ctx, s, frame, overlay.width, overlay.height, band, s.tool === 'points' ? mark : null, scale, coarse ? 9 : 5);
      const colour = s.objects.objects.find((o) => o.id === s.objects.selectedId)?.color ?? '#ffffff';
      // The brush radius is in video pixels; the overlay may be drawn smaller.
      const radius = (s.brushRadius * overlay.width) / Math.max(1, s.video?.width ?? overlay.width);
      drawBrush(ctx, overlay.width, overlay.height, painting, brushAt, radius, colour);
      const vw = s.video?.width ?? overlay.width;
      const vh = s.video?.height ?? overlay.height;
      drawPolygons(ctx, polygons, overlay.width / vw, overlay.height / vh, colour, (coarse ? 12 : 7) * scale);
    }
    overlayMarked.current = marked;
  }, [c]);

  // Keep the latest state for callbacks that outlive a render.
  useEffect(() => {
    redraw.current = draw;
    latest.current = st;
    overlayState.current = { rubber, cursor, stroke };
  });
  // Redraw when what is drawn changes (frame changes draw themselves).
  const { maskVersion, effect, objects, prompts, tool, brushRadius, visibility } = st;
  const proposals = useEverythingState();
  useEffect(() => {
    draw();
  }, [maskVersion, effect, objects, prompts, proposals, rubber, cursor, stroke, tool, brushRadius, visibility, draw]);

  const lastStateUpdate = useRef(0);
  const showFrame = useCallback(
    (frame: number) => {
      shownFrame.current = frame;
      planesRef.current?.invalidate(); // called when the element (may) show another picture
      draw();
      // While playing, the page (counter, timeline) follows a few times a second; the canvas every frame.
      const now = performance.now();
      const el = videoRef.current;
      if (!el || el.paused || now - lastStateUpdate.current > PLAYING_UI_EVERY_MS) {
        lastStateUpdate.current = now;
        c.setCurrentFrame(frame);
      }
    },
    [c, draw],
  );

  /**
   * Canvases draw at their display size (device pixels), never above the
   * video's: a 1280x720 video shown 800 px wide costs 800 px of shading.
   */
  const fitCanvases = useCallback(() => {
    const el = videoRef.current;
    const overlay = overlayRef.current;
    if (!el || !overlay || !el.videoWidth) return;
    const rect = overlay.getBoundingClientRect();
    const scale = Math.min(1, (rect.width * (window.devicePixelRatio || 1)) / el.videoWidth) || 1;
    const w = Math.max(1, Math.round(el.videoWidth * scale));
    const h = Math.max(1, Math.round(el.videoHeight * scale));
    let changed = false;
    for (const canvas of [glRef.current, overlay]) {
      if (canvas && (canvas.width !== w || canvas.height !== h)) {
        canvas.width = w;
        canvas.height = h;
        changed = true;
      }
    }
    if (changed) draw();
  }, [draw]);

  useEffect(() => {
    const overlay = overlayRef.current;
    if (!overlay || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => fitCanvases());
    observer.observe(overlay);
    return () => observer.disconnect();
  }, [fitCanvases, src]);

  // On a narrow screen, Track brings the video to the top: the tracking panel sits right under
  // it there, so the masks streaming in and the progress are on screen together.
  const trackingStatus = st.tracking.status;
  const stageRef = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    if (trackingStatus === 'running' && window.matchMedia?.('(max-width: 1000px)').matches) stageRef.current?.scrollIntoView({ block: 'start' });
  }, [trackingStatus]);

  // Zoomed in, the canvases draw at the size they are shown (up to the video's own).
  const zoom = st.zoom;
  useEffect(() => {
    fitCanvases();
  }, [zoom, fitCanvases]);

  // The wheel zooms around the pointer (a listener that may cancel the page's scroll).
  useEffect(() => {
    const el = overlayRef.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      const u = (e.clientX - r.left) / r.width;
      const v = (e.clientY - r.top) / r.height;
      const pixels = e.deltaMode === 1 ? e.deltaY * 40 : e.deltaY; // lines, from some mice
      c.setZoom(zoomAt(c.getState().zoom, 2 ** (-pixels / WHEEL_PER_DOUBLING), u, v));
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [c, src]);

  // Space held over the zoomed video pans with the mouse instead of playing.
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      if (e.key !== ' ' || !pointerInside.current || c.getState().zoom.scale <= 1) return;
      const t = e.target instanceof HTMLElement ? e.target : null;
      if (t && (['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName) || t.isContentEditable)) return;
      e.preventDefault();
      e.stopImmediatePropagation(); // before the page's shortcuts see it
      spaceHeld.current = true;
    };
    const up = (e: KeyboardEvent) => {
      if (e.key === ' ') spaceHeld.current = false;
    };
    window.addEventListener('keydown', down, true);
    window.addEventListener('keyup', up, true);
    return () => {
      window.removeEventListener('keydown', down, true);
      window.removeEventListener('keyup', up, true);
    };
  }, [c]);

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
      fitCanvases();
      const want = latest.current.seekRequest?.frame ?? 0;
      el.currentTime = timeForFrame(want, fps);
      showFrame(want);
    };
    const onSeeked = () => showFrame(frameForTime(el.currentTime, fps, numFrames));
    const onPlay = () => c.setPlaying(true);
    const onPause = () => {
      c.setPlaying(false);
      c.setCurrentFrame(shownFrame.current);
    };
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
  }, [src, fps, numFrames, c, showFrame, fitCanvases]);

  // Seek requests from the controller (scrubber, steps, tracking follow, undo, timeline).
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

  const pointAt = (x: number, y: number, negative: boolean, rect: DOMRect, touch = false) => {
    const radius = touch ? HIT_RADIUS_TOUCH_PX : HIT_RADIUS_PX;
    c.clickAt(shownFrame.current, x, y, negative, radius / rect.width, radius / rect.height);
  };

  /** Two fingers: the change of their distance zooms, their midpoint pans. */
  const followPinch = () => {
    const frameEl = frameRef.current;
    const last = pinch.current;
    if (!frameEl || !last || touches.current.size < 2) return;
    const [a, b] = [...touches.current.values()];
    const dist = Math.max(1, Math.hypot(a.x - b.x, a.y - b.y));
    const midX = (a.x + b.x) / 2;
    const midY = (a.y + b.y) / 2;
    const r = frameEl.getBoundingClientRect();
    let z = panBy(c.getState().zoom, (midX - last.midX) / r.width, (midY - last.midY) / r.height);
    const at = videoPointAt(z, (midX - r.left) / r.width, (midY - r.top) / r.height);
    z = zoomAt(z, dist / last.dist, at.x, at.y);
    c.setZoom(z);
    pinch.current = { dist, midX, midY };
  };

  const onPointerDown = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (e.pointerType === 'touch') {
      touches.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (touches.current.size === 2) {
        // A second finger: a pinch, not a prompt or a stroke.
        if (dragRef.current?.timer) clearTimeout(dragRef.current.timer);
        dragRef.current = null;
        paintRef.current = null;
        setRubber(null);
        setStroke(null);
        const [a, b] = [...touches.current.values()];
        pinch.current = { dist: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)), midX: (a.x + b.x) / 2, midY: (a.y + b.y) / 2 };
        e.currentTarget.setPointerCapture(e.pointerId);
        return;
      }
    }
    if (e.button === 1 || (e.button === 0 && spaceHeld.current)) {
      e.preventDefault();
      e.currentTarget.setPointerCapture(e.pointerId);
      panRef.current = { pointerId: e.pointerId, lastX: e.clientX, lastY: e.clientY };
      return;
    }
    if (e.button !== 0 && e.button !== 2) return;
    e.preventDefault();
    c.pause();
    const { x, y, rect } = toNormalised(e);
    e.currentTarget.setPointerCapture(e.pointerId);
    if (st.tool === 'polygon') {
      // A press on a vertex of the outline (within a handle's reach) drags it.
      const vw = st.video?.width ?? 1;
      const vh = st.video?.height ?? 1;
      const polygons = polygonsOnFrame(c, st, shownFrame.current);
      const reach = ((e.pointerType === 'touch' ? HIT_RADIUS_TOUCH_PX : HIT_RADIUS_PX) * vw) / rect.width;
      const vertex = vertexNear(polygons, x * vw, y * vh, reach);
      if (vertex) vertexRef.current = { pointerId: e.pointerId, vertex, polygons };
      else if (st.objects.selectedId === null || polygons.length === 0) c.notify('Select an object with a mask on this frame to edit its outline.');
      return;
    }
    if (st.tool !== 'points') {
      // Right button or Alt: the other paint tool for this stroke.
      const other: PaintTool = st.tool === 'brush' ? 'eraser' : 'brush';
      const paint: PaintDrag = { pointerId: e.pointerId, tool: e.button === 2 || e.altKey ? other : st.tool, points: [{ x, y }] };
      paintRef.current = paint;
      setStroke({ tool: paint.tool, points: paint.points });
      return;
    }
    const touch = e.pointerType === 'touch' || e.pointerType === 'pen';
    const drag: Drag = {
      pointerId: e.pointerId, startX: e.clientX, startY: e.clientY, x0: x, y0: y,
      negative: e.button === 2 || e.altKey, isBox: false, touch, done: false, timer: null,
    };
    if (touch) {
      drag.timer = setTimeout(() => {
        if (dragRef.current !== drag || drag.isBox) return;
        drag.done = true;
        navigator.vibrate?.(30);
        pointAt(drag.x0, drag.y0, true, rect, true);
      }, LONG_PRESS_MS);
    }
    dragRef.current = drag;
  };

  const onPointerMove = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (touches.current.has(e.pointerId)) {
      touches.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pinch.current) {
        followPinch();
        return;
      }
    }
    const pan = panRef.current;
    if (pan && pan.pointerId === e.pointerId) {
      const r = frameRef.current?.getBoundingClientRect();
      if (r) c.setZoom(panBy(c.getState().zoom, (e.clientX - pan.lastX) / r.width, (e.clientY - pan.lastY) / r.height));
      pan.lastX = e.clientX;
      pan.lastY = e.clientY;
      return;
    }
    const dragged = vertexRef.current;
    if (dragged && dragged.pointerId === e.pointerId) {
      const { x, y } = toNormalised(e);
      dragged.polygons = moveVertex(dragged.polygons, dragged.vertex, { x: x * (st.video?.width ?? 1), y: y * (st.video?.height ?? 1) });
      draw();
      return;
    }
    if (st.tool === 'polygon') return;
    const paint = paintRef.current;
    if (st.tool !== 'points' || paint) {
      const { x, y } = toNormalised(e);
      hover.current = { x, y };
      if (paint && paint.pointerId === e.pointerId) {
        paint.points.push({ x, y });
        setStroke({ tool: paint.tool, points: [...paint.points] });
      } else {
        draw();
      }
      return;
    }
    const d = dragRef.current;
    if (!d || d.pointerId !== e.pointerId || d.done) return;
    if (!d.isBox && Math.hypot(e.clientX - d.startX, e.clientY - d.startY) >= DRAG_THRESHOLD_PX && !d.negative) {
      d.isBox = true;
      if (d.timer) clearTimeout(d.timer);
    }
    if (d.isBox) {
      const { x, y } = toNormalised(e);
      setRubber({ x0: Math.min(d.x0, x), y0: Math.min(d.y0, y), x1: Math.max(d.x0, x), y1: Math.max(d.y0, y) });
    }
  };

  const onPointerUp = (e: React.PointerEvent<HTMLCanvasElement>) => {
    touches.current.delete(e.pointerId);
    if (pinch.current) {
      if (touches.current.size < 2) pinch.current = null; // the last finger up ends nothing else
      return;
    }
    if (panRef.current?.pointerId === e.pointerId) {
      panRef.current = null;
      return;
    }
    const dragged = vertexRef.current;
    if (dragged && dragged.pointerId === e.pointerId) {
      vertexRef.current = null;
      c.reshapeMask(shownFrame.current, dragged.polygons);
      draw();
      return;
    }
    const paint = paintRef.current;
    if (paint && paint.pointerId === e.pointerId) {
      paintRef.current = null;
      setStroke(null);
      c.paint(shownFrame.current, paint.points, paint.tool);
      return;
    }
    const d = dragRef.current;
    if (!d || d.pointerId !== e.pointerId) return;
    dragRef.current = null;
    if (d.timer) clearTimeout(d.timer);
    setRubber(null);
    if (d.done) return;
    const { x, y, rect } = toNormalised(e);
    if (d.isBox) {
      if (Math.abs(x - d.x0) * rect.width >= DRAG_THRESHOLD_PX && Math.abs(y - d.y0) * rect.height >= DRAG_THRESHOLD_PX) {
        c.drawBox(shownFrame.current, { x0: d.x0, y0: d.y0, x1: x, y1: y });
      }
      return;
    }
    pointAt(d.x0, d.y0, d.negative, rect, d.touch);
  };

  const onPointerCancel = (e: React.PointerEvent<HTMLCanvasElement>) => {
    touches.current.delete(e.pointerId);
    if (touches.current.size < 2) pinch.current = null;
    panRef.current = null;
    if (dragRef.current?.timer) clearTimeout(dragRef.current.timer);
    dragRef.current = null;
    paintRef.current = null;
    vertexRef.current = null;
    setStroke(null);
    setRubber(null);
  };

  const onPointerLeave = () => {
    pointerInside.current = false;
    hover.current = null;
    if (st.tool !== 'points') draw();
  };

  const onKeyDown = (e: React.KeyboardEvent<HTMLCanvasElement>) => {
    const step = e.shiftKey ? CURSOR_STEP_COARSE : CURSOR_STEP;
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const here = cursor ?? { x: 0.5, y: 0.5 };
    if (e.key in moves) {
      const [dx, dy] = moves[e.key];
      setCursor({ x: Math.min(1, Math.max(0, here.x + dx)), y: Math.min(1, Math.max(0, here.y + dy)) });
    } else if (e.key === 'Enter' && st.tool === 'polygon') {
      return; // the outline's vertices are dragged with a pointer
    } else if (e.key === 'Enter' && (st.tool === 'brush' || st.tool === 'eraser')) {
      c.pause();
      c.paint(shownFrame.current, [here], st.tool);
    } else if (e.key === 'Enter') {
      c.pause();
      pointAt(here.x, here.y, e.shiftKey, e.currentTarget.getBoundingClientRect());
    } else {
      return; // other keys stay global shortcuts
    }
    e.preventDefault();
    e.stopPropagation();
  };

  if (!video) {
    return <div className="stage stage-empty">{st.sessionStatus === 'error' ? 'No video could be opened.' : 'Loading videos…'}</div>;
  }
  const frame = st.currentFrame;
  const staleHere = st.objects.objects.some((o) => c.masks.isStale(frame, o.id));

  return (
    <div ref={stageRef} className="stage">
      {/* As wide as the stage allows, capped by the height budget; small videos scale up. */}
      <div ref={frameRef} className="stage-frame" style={{ width: `min(100%, calc(var(--stage-height) * ${video.width / Math.max(video.height, 1)}))` }}>
        {/* Zoom and pan move the picture and its overlay together: pointer positions read off the overlay stay right. */}
        <div className="stage-zoom" style={{ transform: zoomTransform(zoom) }} data-zoom={zoom.scale}>
        <video ref={videoRef} className="stage-video" src={src} crossOrigin="anonymous" muted playsInline preload="auto" aria-hidden="true" />
        <canvas ref={glRef} className="stage-gl" width={video.width} height={video.height} aria-hidden="true" />
        <canvas
          ref={overlayRef}
          className={`stage-canvas tool-${st.tool}`}
          width={video.width}
          height={video.height}
          aria-label="Video canvas"
          aria-describedby="stage-keys"
          role="application"
          tabIndex={0}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerCancel}
          onPointerLeave={onPointerLeave}
          onPointerEnter={() => {
            pointerInside.current = true;
          }}
          onContextMenu={(e) => e.preventDefault()}
          onKeyDown={onKeyDown}
          onFocus={() => setCursor((cur) => cur ?? { x: 0.5, y: 0.5 })}
          onBlur={() => setCursor(null)}
        />
        </div>
        {staleHere && (
          <p className="stale-badge" role="status">
            Masks here predate your last change: Track to update them
          </p>
        )}
      </div>
      <p id="stage-keys" className="visually-hidden">
        Arrow keys move the cursor (Shift: faster); Enter adds a positive point, Shift+Enter a negative point, for the selected object;
        with the brush or eraser, Enter paints or erases a dot of the brush size there.
      </p>
      {loadError && <p className="error" role="alert">{loadError}</p>}
    </div>
  );
}
