// The command tree as data: commander, `--help`, the completion scripts and the README's command list
// are all drawn from this one table.

export interface OptionSpec {
  flags: string;
  description: string;
  choices?: readonly string[];
  /** Repeatable option collected into an array (e.g. --context k=v). */
  repeatable?: boolean;
}

export interface CommandSpec {
  name: string;
  /** For subcommands (audit verify, policy plan): the parent's name. The handler file is parent-name.ts. */
  parent?: string;
  args?: string;
  summary: string;
  options?: OptionSpec[];
  examples: string[];
  /** Argument completion for shells: KEY completes aliases from the ledger. */
  completeArg?: 'key' | 'shell';
  /** Not listed in help or completions (the shells' own alias lookup). */
  hidden?: boolean;
}

const IN: OptionSpec = { flags: '--in <file>', description: 'read input from this file (default: stdin)' };
const OUT: OptionSpec = { flags: '--out <file>', description: 'write the result to this file (temp file, fsync, rename)' };
const CONTEXT: OptionSpec = { flags: '--context <key=value>', description: 'encryption context entry; repeat for more; unwrap needs exactly the same', repeatable: true };
const DIGEST: OptionSpec = { flags: '--digest <alg>', description: 'hash for ECDSA and RSA (default sha256, sha384 for ec-p384)', choices: ['sha256', 'sha384', 'sha512'] };
const PADDING: OptionSpec = { flags: '--padding <scheme>', description: 'RSA signature scheme (default pss)', choices: ['pss', 'pkcs1'] };
const AUDIT_WINDOW: OptionSpec[] = [
  { flags: '--since <when>', description: 'from this time on: a duration ago (24h, 7d) or a timestamp (2026-05-01T12:00:00Z)' },
  { flags: '--until <when>', description: 'before this time: a duration ago or a timestamp' },
];
const FORMAT: OptionSpec = { flags: '--format <form>', description: 'ECDSA signature form (default der, as openssl expects)', choices: ['der', 'raw'] };

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '--home <dir>', description: 'ledger directory (env KMSCTL_HOME; default $XDG_DATA_HOME/kmsctl or ~/.local/share/kmsctl)' },
  { flags: '--module <path>', description: 'PKCS#11 library (env KMSCTL_MODULE; default: the embedded SoftHSM token)' },
  { flags: '--token <label|uri>', description: 'token label or PKCS#11 URI pkcs11:token=...;serial=... (env KMSCTL_TOKEN)' },
  { flags: '--token-serial <serial>', description: 'token serial number (env KMSCTL_TOKEN_SERIAL)' },
  { flags: '--pin-file <path>', description: 'read the user PIN from the first line of this file (or set KMSCTL_PIN)' },
  { flags: '--actor <name>', description: 'who is acting, for policy and audit (env KMSCTL_ACTOR; default the OS user)' },
  { flags: '--json', description: 'print exactly one JSON document on stdout' },
  { flags: '--no-input', description: 'never prompt; fail with exit 64 instead' },
  { flags: '--no-color', description: 'no colour (NO_COLOR is respected too)' },
  { flags: '-q, --quiet', description: 'print nothing on success; the exit code tells' },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'init',
    summary: 'make the embedded SoftHSM token (or bind to --module/--token) and the ledger',
    examples: ['kmsctl init', 'kmsctl init --module /usr/lib/softhsm/libsofthsm2.so --token prod-hsm --pin-file /run/secrets/pin'],
  },
  {
    name: 'create',
    args: '<alias>',
    summary: 'create a key (version 1) on the token',
    options: [
      { flags: '--spec <spec>', description: 'key spec', choices: ['aes-256', 'hmac-sha256', 'ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'] },
      { flags: '--rotation-period <duration>', description: 'rotate when this has elapsed (1d..3650d), e.g. 90d' },
      { flags: '--deletion-window <duration>', description: 'default soft-delete window for this key (7d..30d)' },
      { flags: '--description <text>', description: 'free text shown by show and list' },
      { flags: '--label <key=value>', description: 'a label; repeat for more', repeatable: true },
    ],
    examples: ['kmsctl create payments --spec aes-256 --rotation-period 90d', 'kmsctl create release-signing --spec ec-p256'],
  },
  {
    name: 'list',
    summary: 'list keys (destroyed ones only with --all)',
    options: [
      { flags: '--all', description: 'include destroyed keys' },
      { flags: '--state <state>', description: 'only keys in this state', choices: ['enabled', 'disabled', 'pending-deletion', 'destroyed'] },
      { flags: '--limit <n>', description: 'at most this many keys (a page, in alias order)' },
      { flags: '--after <alias>', description: 'the page after this alias (with --limit)' },
    ],
    examples: ['kmsctl list', 'kmsctl list --state pending-deletion', 'kmsctl list --json | jq -r ".keys[].alias"'],
  },
  {
    name: 'show',
    args: '<key>',
    summary: 'one key: its versions, use counts and token attributes',
    examples: ['kmsctl show payments', 'kmsctl show payments --json'],
    completeArg: 'key',
  },
  {
    name: 'rotate',
    args: '[key]',
    summary: 'add a new primary version; older versions keep unwrapping and verifying',
    options: [{ flags: '--due', description: 'rotate every enabled key whose rotation period has elapsed (for cron and CI); exit 0 when none is due' }],
    examples: ['kmsctl rotate payments', 'kmsctl rotate --due --actor rotation-job'],
    completeArg: 'key',
  },
  {
    name: 'wrap',
    args: '<key>',
    summary: 'encrypt a data key (1..4096 bytes) under the primary version (AES-256-GCM on the token)',
    options: [IN, OUT, CONTEXT, { flags: '--binary', description: 'write raw bytes instead of the kmsctl:v1: text line' }, { flags: '--batch', description: 'JSON Lines on stdin {"plaintext":BASE64,"context":{...}}, one result line each on stdout' }],
    examples: ['kmsctl wrap payments --in dek.bin --context tenant=acme > dek.wrapped', 'head -c 32 /dev/urandom | kmsctl wrap payments', 'kmsctl wrap payments --batch < keys.jsonl > wrapped.jsonl'],
    completeArg: 'key',
  },
  {
    name: 'unwrap',
    summary: 'decrypt a wrapped blob; the key and version come from the blob',
    options: [IN, OUT, CONTEXT, { flags: '--batch', description: 'JSON Lines on stdin {"blob":"kmsctl:v1:...","context":{...}}, one result line each' }],
    examples: ['kmsctl unwrap --in dek.wrapped --context tenant=acme --out dek.bin', 'kmsctl unwrap --batch < wrapped.jsonl'],
  },
  {
    name: 'datakey',
    args: '<key>',
    summary: 'make a random data key on the token: its plaintext and its wrapped form',
    options: [
      { flags: '--bytes <n>', description: 'data key size', choices: ['16', '24', '32', '64'] },
      CONTEXT,
      { flags: '--plaintext-out <file>', description: 'write the plaintext key to this file (0600) instead of stdout' },
      { flags: '--out <file>', description: 'write the wrapped key to this file' },
      { flags: '--count <n>', description: 'make N data keys, one JSON line each on stdout' },
    ],
    examples: ['kmsctl datakey payments --bytes 32 --plaintext-out dek.bin --out dek.wrapped', 'kmsctl datakey payments --json'],
    completeArg: 'key',
  },
  {
    name: 'rewrap',
    summary: 're-encrypt a blob under its key\'s primary version, without printing the plaintext',
    options: [IN, OUT, CONTEXT],
    examples: ['kmsctl rewrap --in dek.wrapped --out dek.wrapped'],
  },
  {
    name: 'sign',
    args: '<key>',
    summary: 'sign a file: ECDSA (DER by default), RSA-PSS or PKCS#1 v1.5, Ed25519',
    options: [IN, DIGEST, PADDING, FORMAT, { flags: '--out <file>', description: 'write the raw signature here (default: base64 on stdout)' }, { flags: '--batch', description: 'JSON Lines on stdin {"data":BASE64}, one signature line each' }],
    examples: ['kmsctl sign release-signing --in app.tar.gz --out app.tar.gz.sig', 'openssl dgst -sha256 -verify <(kmsctl public-key release-signing) -signature app.tar.gz.sig app.tar.gz'],
    completeArg: 'key',
  },
  {
    name: 'verify',
    args: '<key>',
    summary: 'verify a signature offline from the public key in the ledger (no PIN, no token)',
    options: [IN, { flags: '--signature <file>', description: 'signature file: raw bytes or base64' }, { flags: '--version <n>', description: 'key version that signed (default: primary)' }, DIGEST, PADDING, FORMAT],
    examples: ['kmsctl verify release-signing --in app.tar.gz --signature app.tar.gz.sig'],
    completeArg: 'key',
  },
  {
    name: 'public-key',
    args: '<key>',
    summary: 'print a version\'s public key as PEM SubjectPublicKeyInfo',
    options: [{ flags: '--version <n>', description: 'key version (default: primary)' }, OUT],
    examples: ['kmsctl public-key release-signing > release.pub.pem'],
    completeArg: 'key',
  },
  {
    name: 'mac',
    args: '<key>',
    summary: 'HMAC-SHA256 of a file on the token',
    options: [IN, { flags: '--out <file>', description: 'write the raw MAC here (default: base64 on stdout)' }],
    examples: ['kmsctl mac webhook-hmac --in payload.json'],
    completeArg: 'key',
  },
  {
    name: 'mac-verify',
    args: '<key>',
    summary: 'check an HMAC-SHA256 on the token (exit 1 when it does not match)',
    options: [IN, { flags: '--mac <file>', description: 'MAC file: raw bytes or base64' }, { flags: '--version <n>', description: 'key version (default: primary)' }],
    examples: ['kmsctl mac-verify webhook-hmac --in payload.json --mac payload.mac'],
    completeArg: 'key',
  },
  {
    name: 'disable',
    args: '<key>',
    summary: 'disable a key (or one version): it stops wrapping, signing and unwrapping until enabled',
    options: [{ flags: '--version <n>', description: 'disable only this version (not the primary)' }],
    examples: ['kmsctl disable payments', 'kmsctl disable payments --version 2'],
    completeArg: 'key',
  },
  {
    name: 'enable',
    args: '<key>',
    summary: 'enable a disabled key (or version)',
    options: [{ flags: '--version <n>', description: 'enable only this version' }],
    examples: ['kmsctl enable payments'],
    completeArg: 'key',
  },
  {
    name: 'delete',
    args: '<key>',
    summary: 'schedule a key (or a non-primary version) for destruction after a window (7d..30d); restore undoes it',
    options: [
      { flags: '--window <duration>', description: 'days before purge may destroy it (7d..30d; default the key\'s own window or 30d)' },
      { flags: '--version <n>', description: 'schedule only this version (never the primary)' },
      { flags: '--force', description: 'delete even if it was used in the last 7 days' },
      { flags: '-y, --yes', description: 'confirm without a prompt (required outside a TTY)' },
    ],
    examples: ['kmsctl delete old-payments --window 7d --yes', 'kmsctl delete payments --version 1 --yes'],
    completeArg: 'key',
  },
  {
    name: 'restore',
    args: '<key>',
    summary: 'cancel a scheduled deletion inside its window; the key comes back disabled',
    options: [{ flags: '--version <n>', description: 'restore only this version' }, { flags: '--enable', description: 'come back enabled instead of disabled' }],
    examples: ['kmsctl restore payments', 'kmsctl restore payments --enable'],
    completeArg: 'key',
  },
  {
    name: 'purge',
    summary: 'destroy on the token the keys and versions whose deletion window has passed',
    options: [{ flags: '--dry-run', description: 'only list what is due' }, { flags: '-y, --yes', description: 'confirm without a prompt (required outside a TTY)' }],
    examples: ['kmsctl purge --dry-run', 'kmsctl purge --yes'],
  },
  {
    name: 'approve',
    args: '<id>',
    summary: 'approve a pending delete, purge or restore (two-person rule); the last approval needed carries it out',
    options: [{ flags: '-y, --yes', description: 'confirm without a prompt (required outside a TTY)' }],
    examples: ['kmsctl approve r_3f9a0c12d4e5 --actor bob --yes', 'kmsctl requests'],
  },
  {
    name: 'requests',
    summary: 'pending approval requests (they expire after 24 hours)',
    examples: ['kmsctl requests', 'kmsctl requests --json'],
  },
  {
    name: 'policy',
    summary: 'declarative policies: validate, plan and apply policies/*.yaml',
    examples: ['kmsctl policy validate policies/', 'kmsctl policy plan policies/ --detailed-exitcode', 'kmsctl policy apply policies/ --yes'],
  },
  {
    name: 'validate',
    parent: 'policy',
    args: '<files...>',
    summary: 'check policy files against policies/schema.json; every error with file:line:column (exit 65)',
    examples: ['kmsctl policy validate policies/*.yaml', 'kmsctl policy validate policies/ --json'],
  },
  {
    name: 'plan',
    parent: 'policy',
    args: '<files...>',
    summary: 'show what apply would change (create, update, rotate overdue, delete, rules); changes nothing',
    options: [{ flags: '--detailed-exitcode', description: 'exit 1 when there are changes, 0 when there are none' }],
    examples: ['kmsctl policy plan policies/', 'kmsctl policy plan policies/ --detailed-exitcode --json'],
  },
  {
    name: 'apply',
    parent: 'policy',
    args: '<files...>',
    summary: 'carry out the plan, then record the rules with the hash of the files; a second apply plans nothing',
    options: [{ flags: '-y, --yes', description: 'confirm without a prompt (required outside a TTY)' }],
    examples: ['kmsctl policy apply policies/', 'kmsctl policy apply policies/*.yaml --yes'],
  },
  {
    name: 'doctor',
    summary: 'compare ledger and token: interrupted operations, missing objects, orphans, attribute drift, duplicate ids',
    options: [{ flags: '--repair', description: 'complete or roll back interrupted operations and undo drift' }, { flags: '-y, --yes', description: 'with --repair: also destroy orphan objects without asking' }],
    examples: ['kmsctl doctor', 'kmsctl doctor --repair --yes'],
  },
  {
    name: 'audit',
    summary: 'the audit records, newest last',
    options: [
      { flags: '--key <key>', description: 'only records of this key (alias or id)' },
      { flags: '--version <n>', description: 'with --key: only records of this key version' },
      { flags: '--actor <name>', description: 'only records of this actor' },
      { flags: '--action <command>', description: 'only records of this command (wrap, unwrap, rotate ...)' },
      { flags: '--outcome <outcome>', description: 'only successes or only failures', choices: ['success', 'failure'] },
      ...AUDIT_WINDOW,
      { flags: '--since-seq <n>', description: 'only records after this sequence number' },
      { flags: '--limit <n>', description: 'at most this many (the newest)' },
      { flags: '--jsonl', description: 'one JSON record per line, in the export format' },
    ],
    examples: ['kmsctl audit --key payments --since 24h', 'kmsctl audit --action unwrap --outcome failure --since 7d --json', 'kmsctl audit --jsonl --since 2026-05-01'],
  },
  {
    name: 'verify',
    parent: 'audit',
    summary: 'check the hash chain and the seals on the token; exit 1 naming the first broken record',
    options: [
      { flags: '--checkpoint <file>', description: 'a checkpoint from audit export: also detect newest records cut off' },
      { flags: '--chain-only', description: 'check the hash chain without the token (no PIN): seals are not checked' },
    ],
    examples: ['kmsctl audit verify', 'kmsctl audit verify --checkpoint /mnt/siem/kmsctl-checkpoint.json', 'kmsctl audit verify --chain-only'],
  },
  {
    name: 'export',
    parent: 'audit',
    summary: 'write the audit records as JSON Lines for a SIEM, and a checkpoint to keep elsewhere',
    options: [
      { flags: '--out <file>', description: 'JSON Lines file to write (temp file, fsync, rename)' },
      { flags: '--checkpoint <file>', description: 'also write a checkpoint: last sequence number, its hash and seal' },
      ...AUDIT_WINDOW,
      { flags: '--since-seq <n>', description: 'only records after this sequence number (incremental exports)' },
    ],
    examples: ['kmsctl audit export --since 24h --out audit.jsonl --checkpoint checkpoint.json', 'kmsctl audit export --since-seq 1200 --out audit-new.jsonl'],
  },
  {
    name: 'report',
    summary: 'SLIs from the audit: counts, error rates, latency, rotation compliance, pending deletions, anomalies',
    options: [
      { flags: '--since <when>', description: 'window start: a duration ago (30d, 24h) or a timestamp (default 30d)' },
      { flags: '--format <format>', description: 'output format (default table)', choices: ['table', 'json', 'prometheus'] },
      { flags: '--out <file>', description: 'write to this file atomically (for the node_exporter textfile collector)' },
    ],
    examples: ['kmsctl report --since 7d', 'kmsctl report --format prometheus --out /var/lib/node_exporter/textfile_collector/kmsctl.prom'],
  },
  {
    name: 'completion',
    args: '<shell>',
    summary: 'print the completion script for bash, zsh or fish (the same as completions/)',
    examples: ['kmsctl completion bash > /etc/bash_completion.d/kmsctl', 'kmsctl completion zsh > "${fpath[1]}/_kmsctl"', 'kmsctl completion fish > ~/.config/fish/completions/kmsctl.fish'],
    completeArg: 'shell',
  },
  {
    name: '__aliases',
    summary: 'key aliases, one a line, for shell completion',
    examples: ['kmsctl __aliases'],
    hidden: true,
  },
  {
    name: 'demo',
    summary: 'run the main job end to end on the embedded token, narrating each step on stderr',
    examples: ['kmsctl demo', 'kmsctl demo --home /tmp/kmsctl-demo'],
  },
];
