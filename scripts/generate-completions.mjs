// Writes completions/{auth.bash,_auth,auth.fish} from the built CLI's command
// tree (`auth completion <shell>`). Run after `npm run build` whenever commands
// or options change; test/completion.test.ts fails until you do.
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const COMPLETION_FILES = { bash: 'auth.bash', zsh: '_auth', fish: 'auth.fish' };

mkdirSync(join(root, 'completions'), { recursive: true });
for (const [shell, file] of Object.entries(COMPLETION_FILES)) {
  const script = execFileSync(process.execPath, [join(root, 'bin', 'auth.js'), 'completion', shell], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NO_COLOR: '1' },
  });
  writeFileSync(join(root, 'completions', file), script);
  console.log(`completions/${file}`);
}
