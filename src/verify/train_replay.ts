/** Replays any training fixture case by its recipe (metric: config.json `model`; relative: `student`). */
import { TrainCase, loadTrainCase, worstByKind } from './train_case';
import { ReplayReport, replayMetric } from './train_replay_metric';
import { replayRelative } from './train_replay_relative';

export type { ReplayReport };

export function replayTrainCase(c: TrainCase, opts: { steps?: number } = {}): Promise<ReplayReport> {
  return 'student' in c.json ? replayRelative(c, opts) : replayMetric(c, opts);
}

export async function replayTrainDir(dir: string, opts: { steps?: number } = {}): Promise<ReplayReport> {
  return replayTrainCase(await loadTrainCase(dir), opts);
}

/** One line per kind of compared tensor: the worst relL2 and its limit. */
export function summarizeReplay(r: ReplayReport): string[] {
  const failed = r.rows.filter((x) => !x.ok);
  const lines = Object.entries(worstByKind(r.rows)).map(([kind, x]) => `${kind}: worst ${x.relL2.toExponential(2)} (limit ${x.limit.toExponential(0)}) ${x.key}`);
  return [`${r.case} on ${r.backend}: ${r.rows.length} tensors compared, ${failed.length} outside tolerance; losses ${r.losses.map((l) => l.toFixed(7)).join(', ')}`, ...lines, ...failed.map((x) => `FAIL ${x.key}: ${x.relL2} > ${x.limit}`)];
}
