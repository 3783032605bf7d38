# bash completion for zk (zkgo). Install:
#   zk completion bash > /etc/bash_completion.d/zk        (system)
#   echo 'source <(zk completion bash)' >> ~/.bashrc      (user)
# Commands, flags and live znode paths come from `zk __complete`, which
# asks the server given by -server / $ZK_SERVER.
_zk_complete() {
    local cur words
    cur="${COMP_WORDS[COMP_CWORD]}"
    words=("${COMP_WORDS[@]:1:COMP_CWORD}")
    local IFS=$'\n'
    COMPREPLY=($(zk __complete "${words[@]}" 2>/dev/null))
    # Paths: do not add a space after a parent so Tab can go deeper.
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == /* ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _zk_complete zk
