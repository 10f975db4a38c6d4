/**
 * The process entry (bundled to dist/auth.cjs). Kept tiny: everything else is
 * in dist/main.cjs, loaded only when needed (DESIGN §7).
 */
import { join } from 'node:path';

declare const __dirname: string;

function loadMain(): { main(argv: string[]): Promise<number> } {
  // A computed path keeps esbuild from inlining the main bundle here.
  const load = require as (id: string) => unknown;
  return load(join(__dirname, 'main.cjs')) as { main(argv: string[]): Promise<number> };
}

export function run(argv: string[]): void {
  loadMain()
    .main(argv)
    .then((code) => {
      process.exitCode = code;
    })
    .catch(() => {
      process.stderr.write('error: unexpected failure; run again with --debug.\n');
      process.exitCode = 1;
    });
}
