import { describe, expect, it } from 'vitest';
import { addLabel, cocoCategories, labelsFromObjects, labelsOf, recolorLabel, removeLabel, renameLabel, setObjectLabel } from './labels';
import { addObject, emptyObjects } from './objects';

const threeObjects = () => addObject(addObject(addObject(emptyObjects, 16), 16), 16);

describe('labels', () => {
  it('are a set: added once, renamed and removed on their objects too', () => {
    let s = addLabel(addLabel(threeObjects(), ' person '), 'car');
    expect(addLabel(s, 'car')).toBe(s);
    expect(addLabel(s, '   ')).toBe(s);
    expect(labelsOf(s).map((l) => l.name)).toEqual(['person', 'car']);
    expect(labelsOf(addObject(s, 16))).toBe(labelsOf(s)); // a new object keeps the set
    s = setObjectLabel(setObjectLabel(s, 1, 'person'), 3, 'person');
    s = setObjectLabel(s, 2, 'car');
    expect(setObjectLabel(s, 2, 'bus')).toBe(s); // not in the set
    s = renameLabel(s, 'person', 'pedestrian');
    expect(s.objects.map((o) => o.label)).toEqual(['pedestrian', 'car', 'pedestrian']);
    expect(renameLabel(s, 'car', 'pedestrian')).toBe(s); // a clash
    s = recolorLabel(s, 'car', '#123456');
    expect(labelsOf(s)[1].color).toBe('#123456');
    s = removeLabel(s, 'pedestrian');
    expect(s.objects.map((o) => o.label)).toEqual(['', 'car', '']);
    expect(labelsOf(s).map((l) => l.name)).toEqual(['car']);
  });

  it('make COCO categories: two labels over three objects, and one for the unlabelled', () => {
    let s = addLabel(addLabel(threeObjects(), 'person'), 'car');
    s = setObjectLabel(setObjectLabel(setObjectLabel(s, 1, 'person'), 2, 'car'), 3, 'person');
    const { categories, categoryOf } = cocoCategories(s.objects, labelsOf(s));
    expect(categories).toEqual([{ id: 1, name: 'person' }, { id: 2, name: 'car' }]);
    expect([...categoryOf]).toEqual([[1, 1], [2, 2], [3, 1]]);
    const partly = cocoCategories(setObjectLabel(s, 2, '').objects, labelsOf(s));
    expect(partly.categories).toEqual([{ id: 1, name: 'person' }, { id: 2, name: 'car' }, { id: 3, name: 'unlabelled' }]);
    expect(partly.categoryOf.get(2)).toBe(3);
  });

  it('are rebuilt from objects that come from the server', () => {
    const objects = [{ id: 1, name: 'a', color: '#000000', label: 'cat' }, { id: 2, name: 'b', color: '#000000', label: '' }, { id: 3, name: 'c', color: '#000000', label: 'cat' }];
    expect(labelsFromObjects(objects).map((l) => l.name)).toEqual(['cat']);
  });
});
