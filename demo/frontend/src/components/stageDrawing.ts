/** What the video stage draws on its 2D overlay: prompts, the box being dragged, the keyboard cursor. */
import type { DemoState } from '../app/controller';
import type { PaintPoint, PaintTool } from '../state/maskPaint';
import type { Polygon } from '../state/polygon';
import { getPrompt, isEmptyPrompt, type PromptBox } from '../state/prompts';
import { isShown } from '../state/visibility';

export interface Cursor {
  x: number; // normalised
  y: number;
}

/** A brush or eraser stroke being drawn (points normalised). */
export interface Stroke {
  tool: PaintTool;
  points: readonly PaintPoint[];
}

/** Whether the overlay of `frame` shows anything (prompts, a rubber band, the keyboard cursor). */
export function overlayHasMarks(st: DemoState, frame: number, rubber: PromptBox | null, cursor: Cursor | null): boolean {
  return Boolean(rubber || cursor) || st.objects.objects.some((o) => !isEmptyPrompt(getPrompt(st.prompts, o.id, frame)));
}

export function drawOverlay(
  ctx: CanvasRenderingContext2D,
  st: DemoState,
  frame: number,
  w: number,
  h: number,
  rubber: PromptBox | null,
  cursor: Cursor | null,
  /** Canvas px per CSS px, and the smallest point radius in CSS px (larger for fingers). */
  scale = 1,
  minRadiusCss = 5,
): void {
  ctx.clearRect(0, 0, w, h);
  const unit = Math.max(w, h) / 100;
  for (const o of st.objects.objects) {
    if (!isShown(st.visibility, o.id)) continue;
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
      const r = Math.max(minRadiusCss * scale, unit * 0.9);
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
  if (cursor) {
    const x = cursor.x * w;
    const y = cursor.y * h;
    const r = Math.max(8 * scale, unit * 1.6);
    ctx.lineWidth = Math.max(2, unit * 0.25);
    for (const [colour, width] of [['#000', ctx.lineWidth + 2], ['#fff', ctx.lineWidth]] as const) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.moveTo(x - r, y);
      ctx.lineTo(x - r / 3, y);
      ctx.moveTo(x + r / 3, y);
      ctx.lineTo(x + r, y);
      ctx.moveTo(x, y - r);
      ctx.lineTo(x, y - r / 3);
      ctx.moveTo(x, y + r / 3);
      ctx.lineTo(x, y + r);
      ctx.stroke();
    }
  }
}

/**
 * The stroke being painted (the brush in the object's colour, the eraser
 * as a dark band) and the brush outline at `at`. `radius` in canvas px.
 */
export function drawBrush(ctx: CanvasRenderingContext2D, w: number, h: number, stroke: Stroke | null, at: Cursor | null, radius: number, colour: string): void {
  if (stroke && stroke.points.length > 0) {
    ctx.save();
    ctx.globalAlpha = 0.55;
    ctx.strokeStyle = ctx.fillStyle = stroke.tool === 'brush' ? colour : '#111';
    ctx.lineWidth = radius * 2;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    const [first, ...rest] = stroke.points;
    ctx.moveTo(first.x * w, first.y * h);
    // A single dab: a zero-length line draws nothing, so a disc.
    if (rest.length === 0) ctx.arc(first.x * w, first.y * h, radius, 0, Math.PI * 2);
    for (const p of rest) ctx.lineTo(p.x * w, p.y * h);
    if (rest.length === 0) ctx.fill();
    else ctx.stroke();
    ctx.restore();
  }
  if (at) {
    for (const [shade, width] of [['#000', 3], ['#fff', 1.5]] as const) {
      ctx.strokeStyle = shade;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(at.x * w, at.y * h, Math.max(1, radius), 0, Math.PI * 2);
      ctx.stroke();
    }
  }
}

/**
 * The polygon view: outlines of the selected object's mask (video pixels,
 * `sx`/`sy` overlay px per video px), with a handle on each vertex.
 */
export function drawPolygons(ctx: CanvasRenderingContext2D, polygons: readonly Polygon[], sx: number, sy: number, colour: string, handle: number): void {
  ctx.globalAlpha = 1;
  ctx.lineWidth = Math.max(1.5, handle * 0.35);
  for (const poly of polygons) {
    if (poly.length < 2) continue;
    ctx.beginPath();
    poly.forEach((v, i) => (i === 0 ? ctx.moveTo(v.x * sx, v.y * sy) : ctx.lineTo(v.x * sx, v.y * sy)));
    ctx.closePath();
    ctx.strokeStyle = colour;
    ctx.stroke();
    for (const v of poly) {
      ctx.fillStyle = '#fff';
      ctx.fillRect(v.x * sx - handle / 2, v.y * sy - handle / 2, handle, handle);
      ctx.strokeStyle = colour;
      ctx.strokeRect(v.x * sx - handle / 2, v.y * sy - handle / 2, handle, handle);
    }
  }
}
