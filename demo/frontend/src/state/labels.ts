/**
 * A video's label set (the classes objects belong to, as annotation tools
 * have them: "person", "car"), apart from each object's own name. Pure
 * functions over ObjectsState: labels live with the objects, so one undo
 * history covers both. An object names its label; renaming a label renames
 * it on its objects too.
 */
import type { Label, ObjectsState, TrackedObject } from './objects';

/** Colours of new labels, cycled (distinct from the objects' palette order). */
export const LABEL_PALETTE = ['#f59e0b', '#10b981', '#6366f1', '#ef4444', '#06b6d4', '#d946ef', '#84cc16', '#f97316'];

export const MAX_LABEL_LENGTH = 60;

/** The COCO category of objects without a label. */
export const UNLABELLED = 'unlabelled';

export function labelsOf(state: ObjectsState): readonly Label[] {
  return state.labels ?? [];
}

export function labelOf(object: TrackedObject): string {
  return object.label ?? '';
}

function clean(name: string): string {
  return name.trim().slice(0, MAX_LABEL_LENGTH);
}

/** Add a label; an empty name or one the set has already leaves the state as it is. */
export function addLabel(state: ObjectsState, name: string): ObjectsState {
  const n = clean(name);
  const labels = labelsOf(state);
  if (!n || labels.some((l) => l.name === n)) return state;
  return { ...state, labels: [...labels, { name: n, color: LABEL_PALETTE[labels.length % LABEL_PALETTE.length] }] };
}

/** Rename a label, and on every object that has it; a clash or an empty name changes nothing. */
export function renameLabel(state: ObjectsState, from: string, to: string): ObjectsState {
  const n = clean(to);
  const labels = labelsOf(state);
  if (!n || n === from || !labels.some((l) => l.name === from) || labels.some((l) => l.name === n)) return state;
  return {
    ...state,
    labels: labels.map((l) => (l.name === from ? { ...l, name: n } : l)),
    objects: state.objects.map((o) => (labelOf(o) === from ? { ...o, label: n } : o)),
  };
}

export function recolorLabel(state: ObjectsState, name: string, color: string): ObjectsState {
  if (!/^#[0-9a-fA-F]{6}$/.test(color)) return state;
  const labels = labelsOf(state);
  if (!labels.some((l) => l.name === name && l.color !== color)) return state;
  return { ...state, labels: labels.map((l) => (l.name === name ? { ...l, color } : l)) };
}

/** Remove a label from the set; its objects are left without one. */
export function removeLabel(state: ObjectsState, name: string): ObjectsState {
  const labels = labelsOf(state);
  if (!labels.some((l) => l.name === name)) return state;
  return {
    ...state,
    labels: labels.filter((l) => l.name !== name),
    objects: state.objects.map((o) => (labelOf(o) === name ? { ...o, label: '' } : o)),
  };
}

/** Give an object a label of the set ("" takes it away). */
export function setObjectLabel(state: ObjectsState, objectId: number, name: string): ObjectsState {
  if (name && !labelsOf(state).some((l) => l.name === name)) return state;
  const o = state.objects.find((x) => x.id === objectId);
  if (!o || labelOf(o) === name) return state;
  return { ...state, objects: state.objects.map((x) => (x.id === objectId ? { ...x, label: name } : x)) };
}

/**
 * The label set that objects coming from elsewhere (the server, a share
 * link) imply: each label they use once, in first-use order, coloured anew.
 */
export function labelsFromObjects(objects: readonly TrackedObject[]): Label[] {
  const names: string[] = [];
  for (const o of objects) if (labelOf(o) && !names.includes(labelOf(o))) names.push(labelOf(o));
  return names.map((name, i) => ({ name, color: LABEL_PALETTE[i % LABEL_PALETTE.length] }));
}

/**
 * COCO categories for an export: the label set (ids 1..n in its order), and
 * one more, "unlabelled", for objects without a label. Returns the categories and
 * each object's category id.
 */
export function cocoCategories(objects: readonly TrackedObject[], labels: readonly Label[]): { categories: { id: number; name: string }[]; categoryOf: Map<number, number> } {
  const categories = labels.map((l, i) => ({ id: i + 1, name: l.name }));
  const byName = new Map(categories.map((c) => [c.name, c.id]));
  const categoryOf = new Map<number, number>();
  let unlabelled: number | null = null;
  for (const o of objects) {
    let id = byName.get(labelOf(o));
    if (id === undefined) {
      if (unlabelled === null) {
        unlabelled = categories.length + 1;
        categories.push({ id: unlabelled, name: UNLABELLED });
      }
      id = unlabelled;
    }
    categoryOf.set(o.id, id);
  }
  return { categories, categoryOf };
}
