#!/usr/bin/env bash
# Run a command with Debian alternatives switched, then put them back.
#
# Usage: tests/heavy/with_alternatives.sh NAME=PATH [NAME=PATH ...] -- COMMAND [ARGS...]
#   e.g. with_alternatives.sh libblas.so.3-x86_64-linux-gnu=/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3 -- python3 -c 'import numpy'
#
# The machine's alternatives are shared by everyone on it, so the switch is made with the real
# `update-alternatives --set`, but inside a private mount namespace (unshare -m) whose
# /etc/alternatives and /var/lib/dpkg/alternatives are private copies: the command and its
# children see the switched links, nothing else on the machine does, and nothing is left to
# restore even when the command is killed. Without unshare (or without the right to use it)
# the links are switched globally and a trap puts every one back as it was (auto mode or the
# old manual choice) on exit, error or signal.
set -euo pipefail

switches=()
while (($#)); do
    if [[ "$1" == "--" ]]; then shift; break; fi
    switches+=("$1"); shift
done
if ((${#switches[@]} == 0 || $# == 0)); then
    echo "usage: $0 NAME=PATH [NAME=PATH ...] -- COMMAND [ARGS...]" >&2
    exit 2
fi

switch_all() {
    local s
    for s in "${switches[@]}"; do
        update-alternatives --quiet --set "${s%%=*}" "${s#*=}" >/dev/null
    done
}

if [[ "${_BLASFIX_ALT_NS:-}" == "1" ]]; then
    # Inside the private namespace: private copies, then switch, then run.
    tmp="$(mktemp -d)"
    cp -a /etc/alternatives "$tmp/etc-alternatives"
    cp -a /var/lib/dpkg/alternatives "$tmp/dpkg-alternatives"
    : > "$tmp/alternatives.log"
    mount --bind "$tmp/etc-alternatives" /etc/alternatives
    mount --bind "$tmp/dpkg-alternatives" /var/lib/dpkg/alternatives
    if [[ -e /var/log/alternatives.log ]]; then
        mount --bind "$tmp/alternatives.log" /var/log/alternatives.log
    fi
    switch_all
    unset _BLASFIX_ALT_NS
    exec "$@"
fi

if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null \
    && unshare -m --propagation private true 2>/dev/null; then
    _BLASFIX_ALT_NS=1 exec unshare -m --propagation private "$0" "${switches[@]}" -- "$@"
fi

# Fallback: switch globally, restore on any exit.
restore=()
for s in "${switches[@]}"; do
    name="${s%%=*}"
    q="$(update-alternatives --query "$name")"
    mode="$(sed -n 's/^Status: //p' <<<"$q")"
    value="$(sed -n 's/^Value: //p' <<<"$q")"
    if [[ "$mode" == "auto" ]]; then
        restore+=("update-alternatives --quiet --auto $name")
    else
        restore+=("update-alternatives --quiet --set $name $value")
    fi
done
put_back() {
    local r
    for r in "${restore[@]}"; do $r >/dev/null || echo "could not restore: $r" >&2; done
}
trap put_back EXIT
trap 'exit 130' INT TERM
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo -n); fi
for s in "${switches[@]}"; do
    "${sudo[@]}" update-alternatives --quiet --set "${s%%=*}" "${s#*=}" >/dev/null
done
"$@"
