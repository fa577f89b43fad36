import { describe, expect, it } from 'vitest';
import { unzipSync, unzlibSync } from 'fflate';
import { crc32, encodeGrayPng, pngSize } from './png';
import { buildCocoJson, buildMaskZip, maskPngName } from './masksExport';
import { MaskStore } from '../state/masks';
import { decodeMask, encodeMask } from '../render/rle';

/** Read back the pixels of one of our greyscale PNGs (filter 0 rows). */
function readGrayPng(png: Uint8Array): { width: number; height: number; pixels: Uint8Array } {
  const size = pngSize(png)!;
  const v = new DataView(png.buffer, png.byteOffset);
  let o = 8;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = v.getUint32(o);
    const type = String.fromCharCode(...png.slice(o + 4, o + 8));
    expect(v.getUint32(o + 8 + len)).toBe(crc32(png, o + 4, o + 8 + len));
    if (type === 'IDAT') idat.push(png.slice(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = unzlibSync(idat[0]);
  const pixels = new Uint8Array(size.width * size.height);
  for (let y = 0; y < size.height; y++) {
    expect(raw[y * (size.width + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (size.width + 1) + 1, (y + 1) * (size.width + 1)), y * size.width);
  }
  return { ...size, pixels };
}

describe('PNG encoder', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
  it('round-trips greyscale pixels', () => {
    const px = new Uint8Array(7 * 3).map((_, i) => (i * 37) % 256);
    const png = encodeGrayPng(px, 7, 3);
    expect(pngSize(png)).toEqual({ width: 7, height: 3 });
    expect(Array.from(readGrayPng(png).pixels)).toEqual(Array.from(px));
    expect(() => encodeGrayPng(px, 3, 3)).toThrow(/21 pixels/);
    expect(pngSize(new Uint8Array(30))).toBeNull();
  });
});

describe('mask exports', () => {
  const video = { path: 'gallery/x.mp4', width: 6, height: 4, numFrames: 3, fps: 25 };
  const objects = [
    { id: 1, name: 'dog', color: '#ff0000' },
    { id: 2, name: 'ball', color: '#00ff00' },
  ];
  const bits = new Uint8Array(24);
  bits[5] = 1;
  bits[6] = 1; // (y=0, x=5) and (y=1, x=0): a bbox spanning the full width
  const rle = encodeMask(bits, 4, 6);

  it('zips one PNG of the video size per object per frame', () => {
    const store = new MaskStore();
    store.setFrame(1, [{ objectId: 1, rleMask: rle }]);
    const files = unzipSync(buildMaskZip(video, objects, store));
    const pngs = Object.keys(files).filter((n) => n.endsWith('.png'));
    expect(pngs).toHaveLength(6);
    expect(pngs).toContain('object_02/frame_00002.png');
    for (const name of pngs) expect(pngSize(files[name])).toEqual({ width: 6, height: 4 });
    const px = readGrayPng(files[maskPngName(objects[0], 1)]).pixels;
    expect(Array.from(px).map((v) => (v ? 1 : 0))).toEqual(Array.from(decodeMask(rle)));
    expect(readGrayPng(files[maskPngName(objects[0], 0)]).pixels.every((v) => v === 0)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(files['objects.json'])).objects[1].name).toBe('ball');
  });

  it('refuses masks of the wrong size', () => {
    const store = new MaskStore();
    store.setFrame(0, [{ objectId: 1, rleMask: encodeMask(new Uint8Array(4), 2, 2) }]);
    expect(() => buildMaskZip(video, objects, store)).toThrow(/2x2 but the video is 6x4/);
  });

  it('writes COCO RLE annotations with area and bbox', () => {
    const store = new MaskStore();
    store.setFrame(2, [{ objectId: 2, rleMask: rle }]);
    const coco = buildCocoJson(video, objects, store);
    expect(coco.images).toHaveLength(3);
    // No labels: every object is an instance of one "unlabelled" category.
    expect(coco.categories).toEqual([{ id: 1, name: 'unlabelled' }]);
    expect(coco.annotations).toEqual([
      { id: 1, image_id: 2, frame_index: 2, category_id: 1, object_id: 2, instance_id: 2, segmentation: rle, area: 2, bbox: [0, 0, 6, 2], iscrowd: 0 },
    ]);
  });

  it('labels are the categories and objects the instances, in the COCO JSON and objects.json', () => {
    const labels = [{ name: 'animal', color: '#ff0000' }, { name: 'toy', color: '#00ff00' }];
    const three = [
      { id: 1, name: 'dog', color: '#ff0000', label: 'animal' },
      { id: 2, name: 'ball', color: '#00ff00', label: 'toy' },
      { id: 4, name: 'cat', color: '#0000ff', label: 'animal' },
    ];
    const store = new MaskStore();
    for (const o of three) store.setFrame(1, [{ objectId: o.id, rleMask: rle }], false);
    const coco = buildCocoJson(video, three, store, labels);
    expect(coco.categories).toEqual([{ id: 1, name: 'animal' }, { id: 2, name: 'toy' }]);
    expect(coco.instances.map((i) => [i.id, i.category_id])).toEqual([[1, 1], [2, 2], [4, 1]]);
    expect(coco.annotations.map((a) => [(a as { instance_id: number }).instance_id, (a as { category_id: number }).category_id])).toEqual([[1, 1], [2, 2], [4, 1]]);
    const files = unzipSync(buildMaskZip(video, three, store, labels));
    const summary = JSON.parse(new TextDecoder().decode(files['objects.json']));
    expect(summary.labels).toEqual(labels);
    expect(summary.objects.map((o: { id: number; label: string; category_id: number }) => [o.id, o.label, o.category_id])).toEqual([[1, 'animal', 1], [2, 'toy', 2], [4, 'animal', 1]]);
  });
});
