#!/usr/bin/env bash
# The Debian packages the two make commands need, installed with apt-get when missing.
#
#   scripts/system-packages.sh build   python3 with venv, and npm: what `make install` needs
#   scripts/system-packages.sh test    those, and the servers, browser and network tools the
#                                      tests drive
#
# As root, or with passwordless sudo, it installs what is missing; otherwise it stops at once
# with the command to run. Settings (all optional):
#   INSTALL_SYSTEM_PACKAGES=no   never install, only check and print the command
#   PYTHON, VENV                 the interpreter and virtualenv the Makefile uses
#   SYSTEM_PACKAGES_PATH         where binaries are looked for (PATH and the sbin folders,
#                                where mariadbd and nginx live but a user's PATH may not reach)
#   SYSTEM_PACKAGES_CHROMIUM     the browser the tests launch (/usr/bin/chromium)
set -euo pipefail

what="${1:-test}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
search_path="${SYSTEM_PACKAGES_PATH:-$PATH:/usr/local/sbin:/usr/sbin:/sbin}"
chromium="${SYSTEM_PACKAGES_CHROMIUM:-/usr/bin/chromium}"

case "$what" in
  build | test) ;;
  *)
    echo "usage: $0 build|test" >&2
    exit 2
    ;;
esac

# The path of the command $1 (a name looked up in search_path, or a path), or failure.
find_command() {
  local dir dirs
  if [[ $1 == */* ]]; then
    [[ -x $1 && ! -d $1 ]] && echo "$1"
    return
  fi
  IFS=: read -ra dirs <<<"$search_path"
  for dir in "${dirs[@]}"; do
    if [[ -n $dir && -x $dir/$1 && ! -d $dir/$1 ]]; then
      echo "$dir/$1"
      return 0
    fi
  done
  return 1
}

# Fills `missing` with the packages to install, in a stable order.
find_missing() {
  missing=()
  if [[ $what == test ]]; then
    find_command redis-server >/dev/null || missing+=(redis-server)
    find_command mariadbd >/dev/null || missing+=(mariadb-server)
    find_command nginx >/dev/null || missing+=(nginx)
    [[ -x $chromium ]] || missing+=(chromium)
    # The load `delivery bench` measures a node's CPU per request under (its test runs it).
    find_command wrk >/dev/null || missing+=(wrk)
    # `delivery netns` and tests/netns: namespaces, veths, the bridge and tc (iproute2); and
    # where the kernel has no netem, the NFQUEUE rule of the user-space delay (iptables).
    find_command ip >/dev/null && find_command tc >/dev/null || missing+=(iproute2)
    find_command iptables >/dev/null || missing+=(iptables)
  fi
  find_command npm >/dev/null || missing+=(npm)
  # tests/realtime/test_configs.py checks the compose file with it.
  [[ $what == build ]] || find_command docker-compose >/dev/null || missing+=(docker-compose)
  # Once the virtualenv exists, the interpreter that made it is no longer needed.
  if [[ ! -x $venv/bin/python ]]; then
    local interpreter
    if ! interpreter=$(find_command "$python"); then
      missing+=(python3 python3-venv)
    elif ! "$interpreter" -c 'import ensurepip, venv' 2>/dev/null; then
      # Debian ships the venv module without ensurepip, which `python3 -m venv` needs.
      missing+=(python3-venv)
    fi
  fi
}

find_missing
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages ($what): all installed"
  exit 0
fi

command_line="sudo apt-get install -y ${missing[*]}"
as_root=()
reason=""
if [[ ${INSTALL_SYSTEM_PACKAGES:-yes} == no ]]; then
  reason="installing is turned off (INSTALL_SYSTEM_PACKAGES=no)"
elif ! command -v apt-get >/dev/null 2>&1; then
  reason="there is no apt-get here; install the same packages with the system's package manager"
elif [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    reason="installing needs root, and sudo is missing or asks for a password"
  fi
fi

if [[ -n $reason ]]; then
  {
    echo "system packages ($what): missing ${missing[*]}"
    echo "cannot install them: $reason. Run this, then try again:"
    echo
    echo "    $command_line"
    echo
  } >&2
  exit 1
fi

echo "system packages ($what): installing ${missing[*]} with apt-get"
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"

find_missing
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "system packages ($what): still missing after apt-get: ${missing[*]}" >&2
  exit 1
fi
echo "system packages ($what): all installed"
