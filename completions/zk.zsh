#compdef zk
# zsh completion for zk (zkgo). Install:
#   zk completion zsh > "${fpath[1]}/_zk"                 (then restart zsh)
#   or: source <(zk completion zsh)
# Commands, flags and live znode paths come from `zk __complete`.
_zk() {
    local -a candidates
    candidates=("${(@f)$(zk __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if [[ ${#candidates} -gt 0 ]]; then
        compadd -Q -S '' -- "${candidates[@]}"
    fi
}
compdef _zk zk
