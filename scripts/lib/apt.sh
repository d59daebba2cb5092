# install_missing LABEL: installs, from Debian's packages, every entry of the
# caller's PACKAGES array that is not installed and, for each command of the
# caller's COMMANDS map (command -> package) that is not on the PATH, its
# package. Quiet when nothing is missing; sudo only when not root.
install_missing() {
  local label=$1 p c
  local missing=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  for c in "${!COMMANDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("${COMMANDS[$c]}")
  done
  if ((${#missing[@]})); then
    echo "$label: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
