// The layering of src/ (docs/architecture.md "Layers"), checked by `npm run lint:deps` in `npm test`:
//   domain ← protocol (flows, providers), infra (store, config, mfa) ← app (app, agent) ← cli (cli, commands, main, system, ui)
//   fast → domain + the read-only part of infra + the agent client
const BELOW_APP = '^src/(domain|flows|providers|store|config|mfa)/';
const CLI = '^src/(cli/|commands/|main\\.ts$|system\\.ts$|bin\\.ts$)';
const TERMINAL_UI = '^src/ui/(spinner|qr|prompter)\\.ts$|(^|/)node_modules/(@inquirer|ora|commander|qrcode-terminal|open)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import cycles.', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain holds the rules as pure functions: it imports nothing but itself (no node:*, no packages).',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'below-app-stays-below',
      severity: 'error',
      comment: 'Protocol and infra never reach up into use cases, commands, the composition root or the fast path.',
      from: { path: BELOW_APP },
      to: { path: `^src/(app|fast|agent)/|${CLI}` },
    },
    {
      name: 'app-below-cli',
      severity: 'error',
      comment: 'Use cases return data; commands render it. app/ never imports commands/, main.ts or system.ts.',
      from: { path: '^src/app/' },
      to: { path: CLI },
    },
    {
      name: 'agent-below-cli',
      severity: 'error',
      comment: 'The agent (src/agent/) is app-level: it uses app/ use cases and gets its Deps from the command that runs it.',
      from: { path: '^src/agent/' },
      to: { path: CLI },
    },
    {
      name: 'agent-client-is-light',
      severity: 'error',
      comment: 'The agent client is loaded by every `auth token` (fast path): domain rules and config/paths.ts only (docs/design.md §7).',
      from: { path: '^src/agent/client\\.ts$' },
      to: { path: '^src/', pathNot: '^src/domain/|^src/config/paths\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-terminal-ui-below-cli',
      severity: 'error',
      comment: 'Prompts, spinners, QR codes, commander and the browser launcher belong to the cli layer (cli/, commands/, main.ts, system.ts, ui/).',
      from: { path: '^src/(domain|flows|providers|store|config|mfa|app|agent|fast)/' },
      to: { path: TERMINAL_UI },
    },
    {
      name: 'fast-reads-only',
      severity: 'error',
      comment: 'The auth token fast path loads the domain rules and the read-only, dependency-light part of infra only (docs/design.md §7).',
      from: { path: '^src/fast/' },
      to: {
        path: '^src/',
        pathNot: '^src/(fast|domain)/|^src/agent/client\\.ts$|^src/store/(layout|keychain-timeout|secret-service-check)\\.ts$|^src/config/(paths|resolve|config-index|names)\\.ts$|^src/(errors|version)\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      // The libraries esbuild bundles into dist/ are devDependencies (an installed `auth` needs only
      // what dist/ loads at run time: see package.json "dependencies"); anything else from
      // devDependencies (test servers, test runners, build tools) never reaches src/.
      name: 'no-dev-deps-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: '^node_modules/(@inquirer/prompts|commander|jose|openid-client|ora|otpauth|qrcode-terminal|yaml)/',
      },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: '^src/(bin|main)\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs', '.cjs'] },
  },
};
