#!/usr/bin/env bash
# tools/nuget-exe.sh: idempotent install of NuGet.exe 5.8 (the npm package `nuget-exe`, which ships
# the .NET Framework NuGet.exe) for the integration tests, which run it on mono.
#
#   tools/nuget-exe.sh        # install if missing, check that `mono NuGet.exe help` runs,
#                             # print the path of NuGet.exe on stdout
#
# Settings (environment, all optional):
#   PACKGATE_TOOLS_ROOT ($HOME/.cache/packgate-tools): install prefix
# The tests find NuGet.exe at the printed path, or wherever PACKGATE_NUGET_EXE points.
set -euo pipefail

NUGET_EXE_VERSION=5.8.0
TOOLS_ROOT="${PACKGATE_TOOLS_ROOT:-$HOME/.cache/packgate-tools}"
PREFIX="$TOOLS_ROOT/nuget-exe"
EXE="$PREFIX/node_modules/nuget-exe/nuget-$NUGET_EXE_VERSION.exe"

log() { echo "nuget-exe: $*" >&2; }

command -v mono >/dev/null || { log "error: mono is not installed (apt-get install mono-complete)"; exit 1; }
if [ ! -s "$EXE" ]; then
  log "installing nuget-exe@$NUGET_EXE_VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  (cd "$PREFIX" && npm install --no-save --no-audit --no-fund --silent "nuget-exe@$NUGET_EXE_VERSION" >&2)
fi
[ -s "$EXE" ] || { log "error: $EXE missing after install"; exit 1; }
# A throwaway HOME: NuGet.exe writes its default NuGet.Config under it on first run.
probe_home="$(mktemp -d)"
trap 'rm -rf "$probe_home"' EXIT
out="$(HOME="$probe_home" mono "$EXE" help 2>&1)" || { log "error: mono $EXE help failed:"; echo "$out" >&2; exit 1; }
log "${out%%$'\n'*}"
echo "$EXE"
