/**
 * Global shortcuts: Space play/pause, arrows step a frame, T track, Esc
 * cancel tracking (or close help), N new object, Ctrl/Cmd+Z undo, ? help.
 */
import { useEffect } from 'react';
import type { DemoController } from './controller';

export const SHORTCUTS: [string, string][] = [
  ['Space', 'Play / pause'],
  ['← / →', 'Previous / next frame'],
  ['T', 'Track objects'],
  ['Esc', 'Cancel tracking (or close this help)'],
  ['N', 'New object'],
  ['Ctrl+Z / ⌘Z', 'Undo the last prompt'],
  ['?', 'Show or hide this help'],
  ['Click', 'Positive point (click a point again to remove it)'],
  ['Right-click / Alt+click', 'Negative point'],
  ['Drag', 'Box around the object'],
];

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag !== 'input') return false;
  const type = (el as HTMLInputElement).type;
  return !['button', 'checkbox', 'radio', 'range', 'color', 'file'].includes(type);
}

export function useKeyboard(c: DemoController): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        if (c.getState().helpOpen) c.setHelpOpen(false);
        else c.cancelTracking();
        return;
      }
      if (isTyping(e.target)) return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        c.undo();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      switch (e.key) {
        case ' ':
          e.preventDefault(); // not a click on the focused button, not a page scroll
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
