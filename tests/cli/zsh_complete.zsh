#!/usr/bin/env zsh
# Prints what zsh's completion system offers for a command line, one match per line:
#   zsh zsh_complete.zsh COMPLETION_DIR 'warren-nft pu'
# It runs an interactive zsh on a pseudo-terminal (zpty), loads compinit with COMPLETION_DIR first
# in $fpath, types the line and a TAB, and prints every match a completion function adds: compadd
# is wrapped so that it also reports, through `builtin compadd -O`, the matches it adds after zsh
# filtered them by the word under the cursor. Exit status 2 when the completion never ran.
emulate -L zsh
zmodload zsh/zpty || exit 2

local dir=$1 line=$2
local init=$(mktemp) || exit 2
trap 'rm -f -- $init' EXIT
cat > $init <<'INIT'
PROMPT=
RPROMPT=
fpath=($COMPLETION_DIR $fpath)
autoload -Uz compinit && compinit -u -D
bindkey '^I' complete-word
bindkey '^M' undefined
bindkey '^J' undefined
zstyle ':completion:*' insert-tab false
compadd() {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return
    fi
    local -a __found
    builtin compadd -O __found "$@"
    local __match
    for __match in $__found; do
        print -r -- "match:$__match"
    done
    builtin compadd "$@"
}
begin-marker() { print -r -- 'completion:begin' }
end-marker() { print -r -- 'completion:end'; exit }
compprefuncs=(begin-marker)
comppostfuncs=(end-marker)
print -r -- 'init:ok'
INIT

zpty -b capture env COMPLETION_DIR=$dir HOME=/nonexistent zsh -f -i || exit 2
zpty -w capture "source ${(q)init}"

# Reads what the shell wrote until `marker` appears (at most about ten seconds); 1 if it never did.
local output=
read-until() {
    local chunk
    repeat 100; do
        if zpty -r -t capture chunk; then
            output+=$chunk
            [[ $output == *$1* ]] && return 0
        else
            sleep 0.1
        fi
    done
    return 1
}
read-until init:ok || { print -u2 'zsh_complete: the interactive zsh did not start'; exit 2 }
output=
zpty -w -n capture "$line"$'\t'
read-until completion:end || { print -u2 'zsh_complete: no completion ran'; exit 2 }
zpty -d capture
# The terminal's echo and escapes share lines with the markers: only what follows them counts.
local started=0 l
for l in ${(f)output//$'\r'/}; do
    if [[ $l == *completion:begin ]]; then
        started=1
    elif [[ $l == *completion:end ]]; then
        exit 0
    elif (( started )) && [[ $l == match:* ]]; then
        print -r -- ${l#match:}
    fi
done
exit 2
