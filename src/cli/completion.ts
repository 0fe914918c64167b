/**
 * `kitsune completion bash|zsh|fish`: a shell completion script for the commands, their actions
 * and their options. Generated from each command's own --help text (the options it documents are
 * the options it takes), so the completion cannot drift from the commands.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './exit-codes.ts';

export const help = `usage: kitsune completion bash|zsh|fish

Prints a completion script for your shell:
  bash   echo 'source <(kitsune completion bash)' >> ~/.bashrc
  zsh    echo 'source <(kitsune completion zsh)' >> ~/.zshrc
  fish   kitsune completion fish > ~/.config/fish/completions/kitsune.fish
`;

/** A command as completion sees it: its actions (dlq list, ...) and options (--json, ...). */
export interface CompletionEntry {
  name: string;
  actions: string[];
  options: string[];
}

/** Reads the actions (`kitsune dlq list`) and `--options` a command's help text documents. */
export function completionEntry(name: string, helpText: string): CompletionEntry {
  const actions = new Set<string>();
  for (const match of helpText.matchAll(new RegExp(`kitsune ${name} ([a-z][a-z-]*)`, 'g'))) actions.add(match[1]!);
  const options = new Set(['--help', '--verbose']);
  for (const match of helpText.matchAll(/(?<![\w-])(--[a-z][a-z-]*)/g)) options.add(match[1]!);
  return { name, actions: [...actions], options: [...options] };
}

function bash(entries: readonly CompletionEntry[]): string {
  const cases = entries
    .map((entry) => `    ${entry.name}) words="${[...entry.actions, ...entry.options].join(' ')}" ;;`)
    .join('\n');
  return `# kitsune completion (bash; zsh through bashcompinit)
_kitsune() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="${entries.map((entry) => entry.name).join(' ')} --help --version"
  else
    case "\${COMP_WORDS[1]}" in
${cases}
      *) words="" ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _kitsune kitsune
`;
}

function zsh(entries: readonly CompletionEntry[]): string {
  return `autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${bash(entries)}`;
}

function fish(entries: readonly CompletionEntry[]): string {
  const lines = [
    '# kitsune completion (fish)',
    'complete -c kitsune -f',
    ...entries.map((entry) => `complete -c kitsune -n __fish_use_subcommand -a ${entry.name}`),
    'complete -c kitsune -n __fish_use_subcommand -l version -l help',
  ];
  for (const entry of entries) {
    const when = `-n '__fish_seen_subcommand_from ${entry.name}'`;
    if (entry.actions.length > 0) lines.push(`complete -c kitsune ${when} -a '${entry.actions.join(' ')}'`);
    lines.push(`complete -c kitsune ${when} ${entry.options.map((option) => `-l ${option.slice(2)}`).join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

const shells = new Map([
  ['bash', bash],
  ['zsh', zsh],
  ['fish', fish],
]);

/** Prints the script for the shell in argv, from the commands' help texts. */
export async function runCompletionCommand(argv: string[], helpTexts: () => Promise<Map<string, string>>): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [shell, ...extra] = positionals;
  const render = shell === undefined ? undefined : shells.get(shell);
  if (!render || extra.length > 0) throw new UsageError(`kitsune completion: name one shell: ${[...shells.keys()].join(', ')}`);
  const entries = [...(await helpTexts())].map(([name, text]) => completionEntry(name, text));
  process.stdout.write(render(entries));
  return 0;
}
