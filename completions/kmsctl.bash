# kmsctl shell completion, generated from the command table by `kmsctl completion bash`.
# Install: kmsctl completion bash > /etc/bash_completion.d/kmsctl (or source it from ~/.bashrc).
_kmsctl() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local globals="--home --module --token --token-serial --pin-file --actor --json --no-input --no-color --quiet -q"
  local commands="init create list show rotate wrap unwrap datakey rewrap sign verify public-key mac mac-verify disable enable delete restore purge approve requests policy doctor audit report completion demo"
  case "$prev" in
    --home|--module|--pin-file|--in|--out|--plaintext-out|--signature|--mac|--checkpoint) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --token|--token-serial|--actor|--rotation-period|--deletion-window|--description|--label|--limit|--after|--context|--count|--version|--window|--key|--action|--since|--until|--since-seq) COMPREPLY=(); return ;;
    --spec) COMPREPLY=($(compgen -W "aes-256 hmac-sha256 ec-p256 ec-p384 ed25519 rsa-2048 rsa-3072 rsa-4096" -- "$cur")); return ;;
    --state) COMPREPLY=($(compgen -W "enabled disabled pending-deletion destroyed" -- "$cur")); return ;;
    --bytes) COMPREPLY=($(compgen -W "16 24 32 64" -- "$cur")); return ;;
    --digest) COMPREPLY=($(compgen -W "sha256 sha384 sha512" -- "$cur")); return ;;
    --padding) COMPREPLY=($(compgen -W "pss pkcs1" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "der raw" -- "$cur")); return ;;
    --outcome) COMPREPLY=($(compgen -W "success failure" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "table json prometheus" -- "$cur")); return ;;
  esac
  local cmd="" sub="" npos=0 i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    case "$w" in
      --home|--module|--token|--token-serial|--pin-file|--actor|--spec|--rotation-period|--deletion-window|--description|--label|--state|--limit|--after|--in|--out|--context|--in|--out|--context|--bytes|--context|--plaintext-out|--out|--count|--in|--out|--context|--in|--digest|--padding|--format|--out|--in|--signature|--version|--digest|--padding|--format|--version|--out|--in|--out|--in|--mac|--version|--version|--version|--window|--version|--version|--key|--version|--actor|--action|--outcome|--since|--until|--since-seq|--limit|--checkpoint|--out|--checkpoint|--since|--until|--since-seq|--since|--format|--out) ((i++)) ;;
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="$w"; elif [[ -z "$sub" && " $(_kmsctl_subs "$cmd") " == *" $w "* ]]; then sub="$w"; else ((npos++)); fi ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$globals --help --version" -- "$cur")); else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi
    return
  fi
  local opts="" arg=""
  case "$cmd${sub:+ $sub}" in
    "init") opts=""; arg="" ;;
    "create") opts="--spec --rotation-period --deletion-window --description --label"; arg="file" ;;
    "list") opts="--all --state --limit --after"; arg="" ;;
    "show") opts=""; arg="key" ;;
    "rotate") opts="--due"; arg="key" ;;
    "wrap") opts="--in --out --context --binary --batch"; arg="key" ;;
    "unwrap") opts="--in --out --context --batch"; arg="" ;;
    "datakey") opts="--bytes --context --plaintext-out --out --count"; arg="key" ;;
    "rewrap") opts="--in --out --context"; arg="" ;;
    "sign") opts="--in --digest --padding --format --out --batch"; arg="key" ;;
    "verify") opts="--in --signature --version --digest --padding --format"; arg="key" ;;
    "public-key") opts="--version --out"; arg="key" ;;
    "mac") opts="--in --out"; arg="key" ;;
    "mac-verify") opts="--in --mac --version"; arg="key" ;;
    "disable") opts="--version"; arg="key" ;;
    "enable") opts="--version"; arg="key" ;;
    "delete") opts="--window --version --force --yes -y"; arg="key" ;;
    "restore") opts="--version --enable"; arg="key" ;;
    "purge") opts="--dry-run --yes -y"; arg="" ;;
    "approve") opts="--yes -y"; arg="file" ;;
    "requests") opts=""; arg="" ;;
    "policy") opts=""; arg="" ;;
    "policy validate") opts=""; arg="file" ;;
    "policy plan") opts="--detailed-exitcode"; arg="file" ;;
    "policy apply") opts="--yes -y"; arg="file" ;;
    "doctor") opts="--repair --yes -y"; arg="" ;;
    "audit") opts="--key --version --actor --action --outcome --since --until --since-seq --limit --jsonl"; arg="" ;;
    "audit verify") opts="--checkpoint --chain-only"; arg="" ;;
    "audit export") opts="--out --checkpoint --since --until --since-seq"; arg="" ;;
    "report") opts="--since --format --out"; arg="" ;;
    "completion") opts=""; arg="shell" ;;
    "demo") opts=""; arg="" ;;
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts $globals --help" -- "$cur")); return; fi
  if [[ -z "$sub" && -n "$(_kmsctl_subs "$cmd")" && $npos -eq 0 ]]; then COMPREPLY=($(compgen -W "$(_kmsctl_subs "$cmd")" -- "$cur")); return; fi
  if [[ $npos -eq 0 ]]; then
    case "$arg" in
      key) COMPREPLY=($(compgen -W "$(kmsctl __aliases 2>/dev/null)" -- "$cur")) ;;
      shell) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
      file) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
  fi
}
_kmsctl_subs() {
  case "$1" in
    policy) echo "validate plan apply" ;;
    audit) echo "verify export" ;;
  esac
}
complete -F _kmsctl kmsctl
