#compdef zk
# zsh completion for zk (zkgo). Install:
#   zk completion zsh > "${fpath[1]}/_zk"     (then: autoload -U compinit && compinit)
#   or, in ~/.zshrc after compinit: source <(zk completion zsh)
# Commands, flags and live znode paths come from `zk __complete`.
_zk() {
    local -a candidates
    candidates=("${(@f)$(zk __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if (( ${#candidates} )); then
        compadd -Q -S '' -- "${candidates[@]}"
    fi
}
if [[ "${funcstack[1]}" == "_zk" ]]; then
    _zk "$@"
else
    compdef _zk zk
fi
