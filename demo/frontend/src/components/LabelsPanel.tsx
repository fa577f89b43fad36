/** The video's label set: add, rename, recolour, remove (each object picks one in its row). */
import { useState } from 'react';
import { useController, useDemoState } from '../app/useController';
import { labelOf, labelsOf, MAX_LABEL_LENGTH } from '../state/labels';
import type { Label } from '../state/objects';

/** A label's name, committed on blur or Enter (typing does not rename it letter by letter). */
function LabelName({ label, onCommit, readOnly }: { label: Label; onCommit: (name: string) => void; readOnly: boolean }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      type="text"
      className="label-name"
      aria-label={`Name of label ${label.name}`}
      value={draft ?? label.name}
      maxLength={MAX_LABEL_LENGTH}
      readOnly={readOnly}
      onFocus={() => setDraft(label.name)}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => {
        if (draft !== null && draft !== label.name) onCommit(draft);
        setDraft(null);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
      }}
    />
  );
}

export function LabelsPanel() {
  const c = useController();
  const st = useDemoState();
  const [draft, setDraft] = useState('');
  const labels = labelsOf(st.objects);
  const viewOnly = st.access === 'view';
  const add = () => {
    c.addLabel(draft);
    setDraft('');
  };
  return (
    <section className="panel labels" aria-labelledby="labels-heading">
      <h2 id="labels-heading">
        Labels <span className="muted">{labels.length}</span>
      </h2>
      {labels.length === 0 && <p className="muted">Classes for your objects (person, car…): the COCO export's categories.</p>}
      <ul className="label-list">
        {labels.map((l) => {
          const used = st.objects.objects.filter((o) => labelOf(o) === l.name).length;
          return (
            <li key={l.name} className="label-row">
              <input type="color" aria-label={`Colour of label ${l.name}`} value={l.color} disabled={viewOnly} onChange={(e) => c.recolorLabel(l.name, e.target.value)} />
              <LabelName label={l} readOnly={viewOnly} onCommit={(name) => c.renameLabel(l.name, name)} />
              <span className="muted">{used} object{used === 1 ? '' : 's'}</span>
              <button type="button" aria-label={`Remove label ${l.name}`} disabled={viewOnly} onClick={() => c.removeLabel(l.name)}>
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      {!viewOnly && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            add();
          }}
        >
          <input type="text" aria-label="New label" placeholder="New label" value={draft} maxLength={MAX_LABEL_LENGTH} onChange={(e) => setDraft(e.target.value)} />
          <button type="submit" disabled={!draft.trim()}>
            Add label
          </button>
        </form>
      )}
    </section>
  );
}
