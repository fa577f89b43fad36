import type { ServerInfo } from '../api/types';

/** The header's model line: size, device and compute precision, e.g. "model tiny on cpu, bf16". */
export function modelLine(info: Pick<ServerInfo, 'modelSize' | 'device' | 'precision'>): string {
  return `model ${info.modelSize} on ${info.device}, ${info.precision}`;
}
