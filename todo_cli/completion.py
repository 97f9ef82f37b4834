"""`todo completion bash|zsh`: a completion script, made from the parser itself so it
always knows every command, subcommand, option and choice. zsh runs the bash one through
its bashcompinit. No dependency: argcomplete would run Python on every Tab press."""

from __future__ import annotations

import argparse

from todo_cli.commands import build

SCRIPT = """\
_todo() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path=todo
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "$path ${COMP_WORDS[i]}" in
%(paths)s
        esac
    done
    local words
    case "$path $prev" in
%(choices)s
        *) case "$path" in
%(words)s
           esac ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _todo todo
"""
ZSH = "autoload -U +X bashcompinit && bashcompinit\n"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def walk(
    path: str,
    parser: argparse.ArgumentParser,
    paths: list[str],
    choices: list[str],
    words: list[str],
) -> None:
    """Fill the script's three tables for `parser`, reached by the words in `path`."""
    children = subcommands(parser)
    offered = list(children)
    for action in parser._actions:
        offered += action.option_strings
        if action.option_strings and action.choices:
            for option in action.option_strings:
                listed = " ".join(str(choice) for choice in action.choices)
                choices.append(f'        "{path} {option}") words="{listed}" ;;')
    words.append(f'               "{path}") words="{" ".join(offered)}" ;;')
    for name, child in children.items():
        paths.append(f'            "{path} {name}") path="{path} {name}" ;;')
        walk(f"{path} {name}", child, paths, choices, words)


def script(shell: str) -> str:
    paths: list[str] = []
    choices: list[str] = []
    words: list[str] = []
    walk("todo", build(), paths, choices, words)
    tables = {"paths": "\n".join(paths), "choices": "\n".join(choices), "words": "\n".join(words)}
    return (ZSH if shell == "zsh" else "") + SCRIPT % tables


def cmd_completion(args: argparse.Namespace) -> int:
    print(script(args.shell), end="")
    return 0
