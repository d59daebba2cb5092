#!/usr/bin/env bash
# Installs what Facet needs to build, run and test, from Debian's packages and
# npm. Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libabsl-dev librocksdb-dev libboost-dev libboost-iostreams-dev libsimdjson-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libgoogle-perftools-dev libroaring-dev
  libsqlite3-dev libpq-dev libspdlog-dev
  # The fuzz targets (make test, make fuzz): clang with libFuzzer and the
  # sanitizer runtimes, which Debian 12 ships in libclang-rt-14-dev (clang
  # only recommends it). gcc's ASan/UBSan runtimes come with build-essential.
  clang libclang-rt-14-dev clang-format
)
# Tools are needed as commands; a machine may have them from elsewhere (a
# newer Node.js, say), so only a missing command pulls in Debian's package.
declare -A COMMANDS=([python3]=python3 [node]=nodejs [npm]=npm [curl]=curl [wrk]=wrk)

source scripts/lib/apt.sh
install_missing bootstrap

# Node clients for the SDK compatibility tests.
if [ -f tests/integration/package.json ]; then
  if [ ! -d tests/integration/node_modules ] ||
     [ tests/integration/package.json -nt tests/integration/node_modules ]; then
    echo "bootstrap: installing npm packages for tests/integration"
    (cd tests/integration && npm install --silent --no-audit --no-fund >/dev/null)
    touch tests/integration/node_modules
  fi
fi
