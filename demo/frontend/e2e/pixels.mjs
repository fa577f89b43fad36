// Pixel checks run inside the page: how much of the rendered frame (the WebGL
// canvas under the prompt overlay) differs from the bare decoded video frame
// (= masks drawn) or from an earlier snapshot.

/**
 * In the page: how many pixels of a region (canvas px) differ from `reference`,
 * where reference is "video" (the bare decoded frame) or "snapshot" (saved by snapshot()).
 * Disks around `exclude` points (prompt markers) are ignored.
 */
export function countChanged({ region, reference, exclude = [], radius = 0 }) {
  // The canvas draws at display size; compare at the video's size.
  const c = document.querySelector('canvas.stage-gl');
  const v = document.querySelector('video');
  const [x0, y0, x1, y1] = region;
  const w = x1 - x0;
  const h = y1 - y0;
  const copy = new OffscreenCanvas(v.videoWidth, v.videoHeight);
  const cx = copy.getContext('2d');
  cx.drawImage(c, 0, 0, v.videoWidth, v.videoHeight);
  const now = cx.getImageData(x0, y0, w, h).data;
  let ref;
  if (reference === 'video') {
    const tmp = new OffscreenCanvas(v.videoWidth, v.videoHeight);
    const t = tmp.getContext('2d');
    t.drawImage(v, 0, 0, v.videoWidth, v.videoHeight);
    ref = t.getImageData(x0, y0, w, h).data;
  } else {
    ref = window.__e2eSnapshot.getImageData(x0, y0, w, h).data;
  }
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (exclude.some((p) => (x + x0 - p[0]) ** 2 + (y + y0 - p[1]) ** 2 <= radius * radius)) continue;
      const i = (y * w + x) * 4;
      if (Math.abs(now[i] - ref[i]) + Math.abs(now[i + 1] - ref[i + 1]) + Math.abs(now[i + 2] - ref[i + 2]) > 40) n++;
    }
  }
  return n;
}

export async function snapshot(page) {
  await page.evaluate(() => {
    const c = document.querySelector('canvas.stage-gl');
    const v = document.querySelector('video');
    const copy = new OffscreenCanvas(v.videoWidth, v.videoHeight);
    copy.getContext('2d').drawImage(c, 0, 0, v.videoWidth, v.videoHeight);
    window.__e2eSnapshot = copy.getContext('2d');
  });
}

// Polled from here: the page's Content-Security-Policy forbids evaluating strings in it.
export async function waitChanged(page, args, minimum, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const n = await page.evaluate(countChanged, args);
    if (n >= minimum) return n;
    if (Date.now() > deadline) throw new Error(`waitChanged: ${n} changed pixels after ${timeout} ms, wanted ${minimum}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

