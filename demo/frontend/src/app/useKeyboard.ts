/**
 * Global shortcuts: Space play/pause, arrows step a frame, T track, Esc
 * cancel tracking, N new object, Ctrl/Cmd+Z undo, ? help. They never take a
 * key from a focused control: text fields keep every key, buttons keep Space
 * and Enter, sliders and the video canvas keep their arrows.
 */
import { useEffect } from 'react';
import type { DemoController } from './controller';

export const SHORTCUTS: [string, string][] = [
  ['Space', 'Play / pause'],
  ['← / →', 'Previous / next frame'],
  ['T', 'Track objects'],
  ['Esc', 'Cancel tracking (or close this help)'],
  ['N', 'New object'],
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
          c.step(-1);
          break;
        case 'ArrowRight':
          e.preventDefault();
          c.step(1);
          break;
        case 't':
        case 'T':
          void c.track();
          break;
        case 'n':
        case 'N':
          c.addObject();
          break;
        case '?':
          c.setHelpOpen(!c.getState().helpOpen);
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [c]);
}
