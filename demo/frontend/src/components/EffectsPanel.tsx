/** Choice of how masks are drawn (live view and exported video). */
import { useController, useDemoState } from '../app/useController';
import { EFFECTS, type EffectName } from '../render/effects';

export function EffectsPanel() {
  const c = useController();
  const st = useDemoState();
  return (
    <section className="panel effects" aria-labelledby="effects-heading">
      <h2 id="effects-heading">Effects</h2>
      <select aria-label="Effect" value={st.effect} onChange={(e) => c.setEffect(e.target.value as EffectName)}>
        {EFFECTS.map((e) => (
          <option key={e.id} value={e.id}>
            {e.label}
          </option>
        ))}
      </select>
    </section>
  );
}
