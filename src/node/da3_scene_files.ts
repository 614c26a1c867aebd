/**
 * Writes a Depth Anything 3 scene next to the per-view depth outputs: `scene.glb`, `scene.ply`
 * and `cameras.json` (src/pipeline/da3/scene_files.ts encodes them). Every file is encoded
 * before anything is written, and each is written atomically (atomic.ts).
 *
 *   writeDa3SceneFiles(outDir, scene, cameras, { showCameras? }) -> Promise<string[]> (paths written)
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { Da3Scene } from '../pipeline/da3/scene';
import { Da3CamerasForJson, encodeDa3CamerasJson, encodeDa3SceneGlb, encodeDa3ScenePly } from '../pipeline/da3/scene_files';
import { writeFileAtomic } from './atomic';

export async function writeDa3SceneFiles(outDir: string, scene: Da3Scene, cameras: Da3CamerasForJson, options: { showCameras?: boolean } = {}): Promise<string[]> {
  const files: Array<[string, Uint8Array | string]> = [
    ['scene.glb', encodeDa3SceneGlb(scene, options)],
    ['scene.ply', encodeDa3ScenePly(scene)],
    ['cameras.json', encodeDa3CamerasJson(cameras)],
  ];
  await fs.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, data] of files) {
    const target = path.join(outDir, name);
    await writeFileAtomic(target, data);
    written.push(target);
  }
  return written;
}
