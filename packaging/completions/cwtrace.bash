# bash completion for cwtrace(8): options, the values of those whose values are a fixed set,
# pids for --pid, files for paths, and the `render` command.
# tests/packaging/check_cli_docs.py runs it against the options `cwtrace --help` lists, so an
# option added to the command line and not here fails the tests.
# Self-contained: it works without the bash-completion package.

_cwtrace_pids() {
    local procs=(/proc/[0-9]*)
    COMPREPLY=($(compgen -W "${procs[*]#/proc/}" -- "$1"))
}

_cwtrace_files() {
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$1"))
}

# What OPTION's value is, in REPLY: `words:LIST` (a fixed set), pid, file or free (a duration,
# an address, a count: nothing to offer). Status 1 when OPTION takes no value.
_cwtrace_value_kind() {
    case $1 in
        -f | --format) REPLY='words:text json folded svg speedscope pprof' ;;
        --weight) REPLY='words:sockets seconds' ;;
        --color) REPLY='words:auto always never' ;;
        --width) REPLY=free ;;
        --user-stacks) REPLY='words:dwarf fp' ;;
        --user-stack-bytes) REPLY='words:512 1024 2048 4096 8192 16384' ;;
        -p | --pid) REPLY=pid ;;
        -o | --output | --metrics-textfile | --btf) REPLY=file ;;
        --cgroup) REPLY=file ;;  # /sys/fs/cgroup/... names the cgroup too
        --min-age | -d | --duration | -i | --interval | --metrics-addr | --metrics-top | --own) REPLY=free ;;
        --port | --lport | --rport | --remote | --comm | --container) REPLY=free ;;
        *) return 1 ;;
    esac
}

# Completes the value of OPTION; status 1 when it takes none.
_cwtrace_value() {
    _cwtrace_value_kind "$1" || return 1
    case $REPLY in
        words:*) COMPREPLY=($(compgen -W "${REPLY#words:}" -- "$2")) ;;
        pid) _cwtrace_pids "$2" ;;
        file) _cwtrace_files "$2" ;;
        *) COMPREPLY=() ;;
    esac
}

_cwtrace() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} REPLY
    # `--format=js`: bash splits at '=' (COMP_WORDBREAKS), giving `--format` `=` `js`.
    if [[ $cur == = ]]; then
        _cwtrace_value "$prev" "" && return
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        _cwtrace_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur" && return
    elif _cwtrace_value "$prev" "$cur"; then
        return
    fi

    # Is `render` one of the words before this one (not an option's value)?
    local i word render=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == = ]]; then
            ((i++))  # `--output=render`: the value after '='
        elif [[ $word == render ]]; then
            render=1
            break
        elif [[ ${COMP_WORDS[i + 1]} != = ]] && _cwtrace_value_kind "$word"; then
            ((i++))
        fi
    done
    COMPREPLY=()

    if ((render > 0)); then
        if [[ $cur == -* ]]; then
            # Only these apply to render; a tracing option there is an error.
            COMPREPLY=($(compgen -W '-f --format -o --output --weight -v --verbose -h --help
                --version --width --color --full-stacks --mark-own' -- "$cur"))
        else
            _cwtrace_files "$cur"
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--min-age -p --pid -d --duration -i --interval -f --format
            -o --output --weight --btf --user-stacks --user-stack-bytes --own -v --verbose
            -q --quiet --metrics-addr --metrics-textfile --metrics-top --version -h --help
            --port --lport --rport --remote --comm --container --cgroup
            --width --color --full-stacks --mark-own' -- "$cur"))
    else
        COMPREPLY=($(compgen -W 'render' -- "$cur"))
    fi
}

complete -F _cwtrace cwtrace
