#!/usr/bin/env bash
# Installs what building and testing Sluice needs, only when missing (Debian 12, as root).
# Sourced by scripts/run and scripts/test.
set -euo pipefail

sluice_need_apt=()
sluice_check_pkg() { dpkg -s "$1" >/dev/null 2>&1 || sluice_need_apt+=("$1"); }

sluice_install_deps() {
  local mode="$1"   # run | test
  for p in libssl-dev libnghttp2-dev pkg-config openssl ca-certificates; do sluice_check_pkg "$p"; done
  if [ "$mode" = test ]; then
    for p in curl nghttp2-client nghttp2-proxy wrk python3 python3-pip etcd-server etcd-client chromium; do sluice_check_pkg "$p"; done
  fi
  if [ ${#sluice_need_apt[@]} -gt 0 ]; then
    echo "installing: ${sluice_need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${sluice_need_apt[@]}" >/dev/null
  fi
  if [ "$mode" = test ]; then
    python3 - <<'PY' 2>/dev/null || python3 -m pip install -q --break-system-packages prometheus-client grpcio grpcio-tools websocket-client 2>/dev/null || python3 -m pip install -q prometheus-client grpcio grpcio-tools websocket-client
import prometheus_client, grpc, grpc_tools, websocket
PY
  fi
  if ! command -v swift >/dev/null; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
  fi
  command -v swift >/dev/null || { echo "Swift 6 toolchain not found: install it from swift.org (Debian 12 has no package for it)" >&2; exit 2; }
}
