import type { CliKit } from './kit.js';

interface SetupKubeFlags {
  user?: string;
  context?: string;
  idToken?: boolean;
  dryRun?: boolean;
}

/** `auth setup-kube` (docs/design.md §2). */
export function registerKube({ program, run }: CliKit): void {
  program
    .command('setup-kube')
    .description('make kubectl use auth: writes an exec-plugin user into your kubeconfig')
    .option('--user <name>', 'the kubeconfig user entry to write (default auth-<profile>)')
    .option('--context <name>', 'also point this kubeconfig context at that user')
    .option('--id-token', 'hand kubectl the ID token (clusters using the Kubernetes OIDC authenticator)')
    .option('--dry-run', 'show what would change, change nothing')
    .addHelpText('after', '\nExamples:\n  auth setup-kube --context my-cluster\n  auth setup-kube -p work --id-token --user work-oidc\n  kubectl get pods        # kubectl now runs `auth token --format exec-credential`\n')
    .action(run<SetupKubeFlags>(async (deps, o) => {
      const { runSetupKube } = await import('../commands/setup-kube.js');
      runSetupKube({ idToken: Boolean(o.idToken), dryRun: Boolean(o.dryRun), ...(o.profile === undefined ? {} : { profile: o.profile }), ...(o.user === undefined ? {} : { user: o.user }), ...(o.context === undefined ? {} : { context: o.context }) }, deps);
    }));
}
