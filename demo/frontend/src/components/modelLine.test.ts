import { describe, expect, it } from 'vitest';
import { modelLine } from './modelLine';

describe('model line', () => {
  it('names the model, the device and the precision the server computes in', () => {
    expect(modelLine({ modelSize: 'tiny', device: 'cpu', precision: 'bf16' })).toBe('model tiny on cpu, bf16');
    expect(modelLine({ modelSize: 'base_plus', device: 'cuda', precision: 'fp32' })).toBe('model base_plus on cuda, fp32');
  });
});
