// Finds Debian's Chromium for the browser tests, installing it with apt-get where that is possible (root, apt
// present). Never downloads a browser, and never skips: anywhere else it fails with one line naming what to install.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const APT_GET = '/usr/bin/apt-get';
/** apt-get on a busy machine: the package and its libraries are ~100 MB. */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function found(): string | undefined {
  return CANDIDATES.find(executable);
}

function aptInstall(): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => void execFileSync(APT_GET, ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS });
  try {
    install();
  } catch {
    // A fresh machine may have no package lists yet.
    execFileSync(APT_GET, ['update'], { stdio: 'inherit', env, timeout: INSTALL_TIMEOUT_MS });
    install();
  }
}

/**
 * The Chromium executable to drive: `CHROMIUM_PATH` when set, else Debian's `/usr/bin/chromium`, installed first with
 * `apt-get install -y chromium` when missing and this process runs as root where apt-get is present.
 *
 * @throws Error with one line naming what to install, when there is no browser and none can be installed here.
 */
export function chromiumPath(): string {
  const configured = process.env['CHROMIUM_PATH'];
  if (configured !== undefined && configured !== '') {
    if (executable(configured)) return configured;
    throw new Error(`CHROMIUM_PATH=${configured} is not an executable: install Debian's chromium (apt-get install -y chromium) or fix CHROMIUM_PATH`);
  }
  const present = found();
  if (present !== undefined) return present;
  if (process.getuid?.() === 0 && executable(APT_GET)) {
    aptInstall();
    const installed = found();
    if (installed !== undefined) return installed;
  }
  throw new Error("No Chromium found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium executable");
}
