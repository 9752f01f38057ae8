# SPDX-License-Identifier: Apache-2.0
# bash completion for warren-nft (docs/cli.md): its commands, each command's options, and the values
# an option takes from a fixed list. Installed as share/bash-completion/completions/warren-nft.

_warren_nft()
{
    # COMP_WORDS itself rather than bash-completion's _init_completion: the script works without it.
    local cword=$COMP_CWORD
    local words=("${COMP_WORDS[@]}")
    local cur=${words[cword]} prev=${words[cword - 1]}

    local commands="publish unpublish drain list metrics flush doctor watch"
    local command="" word
    for word in "${words[@]:1:cword-1}"; do
        case " $commands " in
            *" $word "*) command=$word; break ;;
        esac
    done

    case $prev in
        --masquerade) COMPREPLY=($(compgen -W "always when-needed" -- "$cur")); return ;;
        --protocol) COMPREPLY=($(compgen -W "tcp udp sctp" -- "$cur")); return ;;
        --rate) COMPREPLY=($(compgen -W "100/second 100/minute 100/hour" -- "$cur")); return ;;
        --deadline) COMPREPLY=($(compgen -W "30s 5m 1h" -- "$cur")); return ;;
        --task | --ip | -p | --publish | --name | --allow | --max-connections | --port | --address | --backend) return ;;
    esac

    local options
    case $command in
        publish) options="--task --ip -p --publish --name --add --allow --max-connections --rate --ingress --backend --counters --json --masquerade --wildcard-on-localhost --skip-address-check --help" ;;
        unpublish) options="--task --port --json --masquerade --wildcard-on-localhost --help" ;;
        drain) options="--task --backend --deadline --no-wait --json --masquerade --wildcard-on-localhost --help" ;;
        list) options="--task --port --protocol --address -q --quiet --json --help" ;;
        flush) options="-y --yes --json --help" ;;
        metrics) options="--help" ;;
        doctor) options="--json --help" ;;
        watch) options="--counters --json --help" ;;
        *) COMPREPLY=($(compgen -W "$commands --version --help" -- "$cur")); return ;;
    esac
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
}
complete -F _warren_nft warren-nft
