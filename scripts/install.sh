#!/usr/bin/env bash
# Installs what kmsctl needs on Debian/Ubuntu: SoftHSM2, OpenSC (pkcs11-tool, used by the tests) and openssl
# when missing, then the npm dependencies and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
softhsm_found=0
for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
  [ -e "$p" ] && softhsm_found=1
done
[ "$softhsm_found" = 1 ] && command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
command -v openssl >/dev/null || need+=(openssl)
command -v sqlite3 >/dev/null || need+=(sqlite3) # the audit tamper tests attack ledger.db with it

if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "need root or sudo to apt-get install ${need[*]}" >&2; exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# better-sqlite3 and pkcs11js compile against Node's headers; Debian's nodejs package ships them in
# /usr/include/node, so node-gyp needs no download when told where they are.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ] && ! npm config get nodedir 2>/dev/null | grep -q '^/'; then
  export npm_config_nodedir=/usr
fi
npm ci --no-audit --no-fund
npm run build
