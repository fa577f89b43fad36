/**
 * The effects a user can pick: one for the background (what is not an
 * object) and one for the objects themselves; any pair combines. Drawn by
 * the WebGL renderer (`glEffects.ts`) in the live view and the video export.
 */

export type BackgroundEffect = 'none' | 'dim' | 'blur' | 'pixelate' | 'desaturate' | 'sepia' | 'erase' | 'black' | 'gradient';
export type HighlightEffect = 'overlay' | 'tint' | 'outline' | 'glow' | 'solid' | 'none';

export interface EffectChoice {
  background: BackgroundEffect;
  highlight: HighlightEffect;
}

export const DEFAULT_EFFECTS: EffectChoice = { background: 'none', highlight: 'overlay' };

export const BACKGROUND_EFFECTS: { id: BackgroundEffect; label: string }[] = [
  { id: 'none', label: 'Unchanged' },
  { id: 'dim', label: 'Spotlight (dim)' },
  { id: 'blur', label: 'Blur' },
  { id: 'pixelate', label: 'Pixelate' },
  { id: 'desaturate', label: 'Desaturate' },
  { id: 'sepia', label: 'Sepia' },
  { id: 'erase', label: 'Erase (white)' },
  { id: 'black', label: 'Cut out (black)' },
  { id: 'gradient', label: 'Gradient' },
];

export const HIGHLIGHT_EFFECTS: { id: HighlightEffect; label: string }[] = [
  { id: 'overlay', label: 'Colour and outline' },
  { id: 'tint', label: 'Colour' },
  { id: 'outline', label: 'Outline' },
  { id: 'glow', label: 'Glow' },
  { id: 'solid', label: 'Solid fill' },
  { id: 'none', label: 'Unchanged' },
];

/** Numeric codes the shader switches on (order is the shader's contract). */
export const BACKGROUND_CODE: Record<BackgroundEffect, number> = {
  none: 0, dim: 1, blur: 2, pixelate: 3, desaturate: 4, sepia: 5, erase: 6, black: 7, gradient: 8,
};
export const HIGHLIGHT_CODE: Record<HighlightEffect, number> = { none: 0, overlay: 1, tint: 2, outline: 3, glow: 4, solid: 5 };

export function effectFileTag(e: EffectChoice): string {
  return `${e.background}-${e.highlight}`;
}

export function isEffectChoice(v: unknown): v is EffectChoice {
  const o = v as EffectChoice | null;
  return !!o && o.background in BACKGROUND_CODE && o.highlight in HIGHLIGHT_CODE;
}
