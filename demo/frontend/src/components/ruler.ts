/** The timeline's ruler of frame numbers. */

/** Frame numbers on the ruler: the ends and about five steps between, on round numbers. */
export function rulerFrames(numFrames: number): number[] {
  const last = Math.max(0, numFrames - 1);
  if (last === 0) return [0];
  const raw = last / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let f = 0; f < last - step / 2; f += step) out.push(Math.round(f));
  out.push(last);
  return out;
}
