/** Effects: one for the background, one for the objects; any pair combines (live view and exported video). */
import { useController, useDemoState } from '../app/useController';
import { BACKGROUND_EFFECTS, HIGHLIGHT_EFFECTS, type BackgroundEffect, type HighlightEffect } from '../render/effectCatalog';
import { rendererKind } from '../render/frameRenderer';

export function EffectsPanel() {
  const c = useController();
  const st = useDemoState();
  return (
    <section className="panel effects" aria-labelledby="effects-heading">
      <h2 id="effects-heading">Effects</h2>
      <div className="effect-row">
        <label htmlFor="effect-background">Background</label>
        <select id="effect-background" value={st.effect.background} onChange={(e) => c.setEffect({ background: e.target.value as BackgroundEffect })}>
          {BACKGROUND_EFFECTS.map((e) => (
            <option key={e.id} value={e.id}>
              {e.label}
            </option>
          ))}
        </select>
      </div>
      <div className="effect-row">
        <label htmlFor="effect-highlight">Objects</label>
        <select id="effect-highlight" value={st.effect.highlight} onChange={(e) => c.setEffect({ highlight: e.target.value as HighlightEffect })}>
          {HIGHLIGHT_EFFECTS.map((e) => (
            <option key={e.id} value={e.id}>
              {e.label}
            </option>
          ))}
        </select>
      </div>
      {rendererKind() === '2d' && (
        <p className="muted">This browser has no WebGL2: effects are drawn by a simpler compositor, object effects as colour and outline.</p>
      )}
    </section>
  );
}
