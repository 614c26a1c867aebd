/** `depth-anything download NAME`: fetch an official checkpoint into the cache and print its path. */
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { OFFICIAL_MODELS, cacheDir, downloadModel, licenceLine, modelUrl, officialModel } from '../node/hub';
import { stderrIsTTY } from './tty';

/** A progress bar on stderr when it is a terminal; nothing otherwise (logs, CI, tests). */
export function progressReporter(name: string): ((done: number, total: number | undefined) => void) | undefined {
  if (!stderrIsTTY()) return undefined;
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (!bar) {
      bar = new SingleBar({ format: `${name} [{bar}] {percentage}% {value}/{total} MB`, stream: process.stderr }, Presets.shades_classic);
      bar.start(Math.round((total ?? 0) / 1e6), 0);
    }
    bar.update(Math.round(done / 1e6));
    if (total !== undefined && done >= total) bar.stop();
  };
}

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description(`download an official checkpoint into the cache (${cacheDir()}) and print its path`)
    .argument('[name]', Object.keys(OFFICIAL_MODELS).join(', '))
    .option('--force', 'download again even if cached')
    .option('--list', 'list the names with their repository, file and weights licence, and download nothing')
    .action(async (name: string | undefined, opts: { force?: boolean; list?: boolean }, cmd: Command) => {
      if (opts.list) {
        for (const [n, m] of Object.entries(OFFICIAL_MODELS)) console.log(`${n}\t${m.licence}\t${m.repo}/${m.file}`);
        return;
      }
      if (name === undefined) cmd.error('error: missing model name (download --list shows them)');
      const m = officialModel(name!);
      // The licence first: the weights' terms differ between sizes (non-commercial for most large models).
      process.stderr.write(`${licenceLine(name!)}\n`);
      const r = await downloadModel(name!, { force: opts.force, onProgress: progressReporter(name!) });
      if (!r.cached) {
        const resumed = r.resumedFrom ? `, resumed at ${r.resumedFrom} bytes` : '';
        process.stderr.write(`downloaded ${modelUrl(m)} (${r.bytes} bytes${resumed}${r.sha256 ? `, sha256 ${r.sha256}` : ''})\n`);
      }
      console.log(r.path);
    });
}
