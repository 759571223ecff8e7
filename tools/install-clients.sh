#!/usr/bin/env bash
# tools/install-clients.sh: idempotent install of every client the integration tests drive (npm,
# gem, bundle, mono + NuGet.exe; cargo is the toolchain's) and of curl/flock. A quick no-op when
# everything is present. Debian packages need root (apt-get); NuGet.exe comes from the npm
# package `nuget-exe` (tools/nuget-exe.sh). Used by tools/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

pkgs=()
command -v curl >/dev/null || pkgs+=(curl)
command -v flock >/dev/null || pkgs+=(util-linux)
command -v npm >/dev/null || pkgs+=(nodejs npm)
command -v gem >/dev/null || pkgs+=(ruby)
command -v bundle >/dev/null || pkgs+=(bundler)
command -v mono >/dev/null || pkgs+=(mono-complete) # runs NuGet.exe for the NuGet client tests
# PostgreSQL for stack 2: tools/pg-up.sh installs it too; asking here shares one apt-get run.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || pkgs+=(postgresql)
if [ "${#pkgs[@]}" = 0 ]; then
  echo "install-clients: all Debian packages present" >&2
else
  echo "install-clients: installing Debian packages: ${pkgs[*]}" >&2
  apt-get update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${pkgs[@]}"
fi
tools/nuget-exe.sh >/dev/null
