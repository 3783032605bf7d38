# fish completion for zk (zkgo). Install:
#   zk completion fish > ~/.config/fish/completions/zk.fish
# Commands, flags and live znode paths come from `zk __complete`.
function __zk_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l cur (commandline -ct)
    zk __complete $words "$cur" 2>/dev/null
end
complete -c zk -f -a '(__zk_complete)'
