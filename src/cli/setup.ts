import { type CliKit } from './kit.js';

/** `auth setup` (docs/design.md §2): the interactive wizard; signs in afterwards when asked. */
export function registerSetup({ program, run }: CliKit): void {
  program
    .command('setup')
    .description('configure a provider profile interactively (GitHub, Google, Entra ID, GitLab, Okta, Auth0, Keycloak, any OIDC/OAuth 2)')
    .addHelpText('after', '\nNeeds a terminal; without one, use `auth login --issuer <url> --client-id <id>`.\nExamples:\n  auth setup\n  auth setup -p work            # create or edit the profile "work"\n')
    .action(run(async (deps, o) => {
      const { runSetup } = await import('../commands/setup.js');
      const saved = await runSetup(o.profile ? { profile: o.profile } : {}, deps);
      if (saved.signInNow) {
        const { runLogin } = await import('../commands/login.js');
        await runLogin({ profile: saved.profile, color: deps.log.color }, deps);
      }
    }));
}
