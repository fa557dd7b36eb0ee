# bash completion for gemmactl: verbs, sub-verbs, each verb's options, files where a path goes.
_gemmactl() {
    local cur prev verb sub i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    case "$prev" in
        --socket|--model|-o|--out|--vocab)
            _filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --preset) COMPREPLY=($(compgen -W "tiny e2b e4b" -- "$cur")); return ;;
        --quant) COMPREPLY=($(compgen -W "f32 q4_0" -- "$cur")); return ;;
    esac

    # The first two words that are not options: the verb and its sub-verb.
    verb="" sub=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --socket|--app) ((i++)) ;;
            -*) ;;
            *) if [ -z "$verb" ]; then verb=${COMP_WORDS[i]}; elif [ -z "$sub" ]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done

    local global="--socket --app --help --version"
    case "$verb" in
        "")
            COMPREPLY=($(compgen -W "chat session status generate tokenize detokenize logits bench model help version shutdown $global" -- "$cur")) ;;
        model)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "inspect synth import import-vocab --help" -- "$cur")) ;;
                synth) COMPREPLY=($(compgen -W "--preset --quant --vocab --seed --shared-kv --json -o --help" -- "$cur")) ;;
                *) COMPREPLY=($(compgen -W "-o --json --help" -- "$cur")); [ "${cur#-}" = "$cur" ] && COMPREPLY+=($(compgen -f -- "$cur")) ;;
            esac ;;
        session)
            case "$sub" in
                "") COMPREPLY=($(compgen -W "ls show rm export --help" -- "$cur")) ;;
                *) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
            esac ;;
        chat)
            COMPREPLY=($(compgen -W "--session --new --system --title --think -n --max-tokens --ignore-eos --temp --seed --json --help" -- "$cur")) ;;
        generate)
            COMPREPLY=($(compgen -W "--model -n --max-tokens --temp --top-k --top-p --seed --ids --raw --ignore-eos --threads --json --help" -- "$cur")) ;;
        tokenize|detokenize|logits|bench)
            COMPREPLY=($(compgen -W "--model --json --help" -- "$cur")) ;;
        *)
            COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
    esac
}
complete -F _gemmactl gemmactl
