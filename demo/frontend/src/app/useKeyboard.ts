/**
 * Global shortcuts: Space play/pause, arrows step a frame (Shift: ten),
 * Home/End, T track, Esc cancel tracking, N new object, 1-9 select an
 * object, X negative clicks, P/B/E/G points/brush/eraser/polygon, [ ] brush size,
 * + - 0 zoom,
 * Ctrl/Cmd+Z undo, ? help. They never take a
 * key from a focused control: text fields keep every key, buttons keep Space
 * and Enter, sliders and the video canvas keep their arrows.
 */
import { useEffect } from 'react';
import type { DemoController } from './controller';

/** Frames Shift+arrow steps. */
export const BIG_STEP = 10;
/** Factor [ and ] change the brush radius by (at least one pixel: rounding). */
const BRUSH_STEP = 1.25;

export const SHORTCUTS: [string, string][] = [
  ['Space', 'Play / pause'],
  ['← / →', 'Previous / next frame'],
  ['Shift+← / Shift+→', 'Ten frames back / on'],
  ['Home / End', 'First / last frame'],
  ['T', 'Track objects'],
  ['Esc', 'Cancel tracking (or close this help)'],
  ['N', 'New object'],
  ['1 … 9', 'Select the first … ninth object'],
  ['X', 'Toggle negative clicks'],
  ['H / S', 'Hide / solo the selected object on the video'],
  ['P / B / E / G', 'Points / brush / eraser / polygon on the video'],
  ['[ / ]', 'Smaller / larger brush'],
  ['+ / − / 0', 'Zoom in / out / fit the video'],
  ['Wheel or pinch on the video', 'Zoom there'],
  ['Space+drag, middle-button drag or two fingers', 'Pan the zoomed video'],
  ['Brush drag (right button or Alt: eraser)', "Paint the selected object's mask on this frame; Track then goes on from it"],
  ['Polygon: drag a vertex', "Reshape the selected object's mask on this frame by its outline (a mask prompt, as a brush stroke)"],
  ['Ctrl+Z / ⌘Z', 'Undo (prompts, added / removed / cleared objects, start over)'],
  ['?', 'Show or hide this help'],
  ['Click / tap', 'Positive point (click a point again to remove it)'],
  ['Right-click / Alt+click / long-press', 'Negative point'],
  ['Drag', 'Box around the object'],
  ['Tab to the video, then arrows', 'Move the keyboard cursor (Shift: faster)'],
  ['Enter / Shift+Enter on the video', 'Positive / negative point at the cursor'],
];

function isTyping(el: HTMLElement): boolean {
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag !== 'input') return false;
  const type = (el as HTMLInputElement).type;
  return !['button', 'checkbox', 'radio', 'range', 'color', 'file'].includes(type);
}

/** Keys a focused control uses itself (activation, sliders, the canvas cursor). */
const CONTROL_KEYS = new Set([' ', 'Enter', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown']);

function isControl(el: HTMLElement): boolean {
  if (el.closest('button, a[href], input, select, textarea, summary, [role="slider"], [role="application"], [role="button"], [tabindex]:not(body)')) return true;
  return false;
}

export function useKeyboard(c: DemoController): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target instanceof HTMLElement ? e.target : null;
      if (e.key === 'Escape') {
        if (c.getState().helpOpen) c.setHelpOpen(false);
        else c.cancelTracking();
        return;
      }
      if (c.getState().helpOpen) return; // the dialog has the keyboard
      if (target && isTyping(target)) return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        c.undo();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (target && CONTROL_KEYS.has(e.key) && isControl(target)) return;
      switch (e.key) {
        case ' ':
          e.preventDefault(); // not a page scroll
          c.togglePlay();
          break;
        case 'ArrowLeft':
          e.preventDefault();
          c.step(e.shiftKey ? -BIG_STEP : -1);
          break;
        case 'ArrowRight':
          e.preventDefault();
          c.step(e.shiftKey ? BIG_STEP : 1);
          break;
        case 'Home':
          e.preventDefault();
          c.seek(0);
          break;
        case 'End':
          e.preventDefault();
          c.seek(Number.MAX_SAFE_INTEGER); // clamped to the last frame
          break;
        case 'h':
        case 'H': {
          const id = c.getState().objects.selectedId;
          if (id !== null) c.toggleHidden(id);
          break;
        }
        case 's':
        case 'S': {
          const id = c.getState().objects.selectedId;
          if (id !== null) c.toggleSolo(id);
          break;
        }
        case 'x':
        case 'X':
          c.setNegativeMode(!c.getState().negativeMode);
          break;
        case 'p':
        case 'P':
          c.setTool('points');
          break;
        case 'b':
        case 'B':
          c.setTool('brush');
          break;
        case 'e':
        case 'E':
          c.setTool('eraser');
          break;
        case 'g':
        case 'G':
          c.setTool('polygon');
          break;
        case '+':
        case '=':
          c.zoomBy(2);
          break;
        case '-':
          c.zoomBy(0.5);
          break;
        case '0':
          c.setZoom({ scale: 1, cx: 0.5, cy: 0.5 });
          break;
        case '[':
          c.setBrushRadius(c.getState().brushRadius / BRUSH_STEP);
          break;
        case ']':
          c.setBrushRadius(c.getState().brushRadius * BRUSH_STEP);
          break;
        case 't':
        case 'T':
          void c.track();
          break;
        case 'n':
        case 'N':
          c.addObject();
          break;
        case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9': {
          const o = c.getState().objects.objects[Number(e.key) - 1];
          if (o) c.selectObject(o.id);
          break;
        }
        case '?':
          c.setHelpOpen(!c.getState().helpOpen);
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [c]);
}
