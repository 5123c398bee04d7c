/**
 * The version `acme-rotation-fetch --version` prints: the package version the bundle was built
 * for. scripts/build.mjs writes it to VERSION beside every bundle (dist/fetch/VERSION here), as it
 * does for the Lambda bundles the Pulumi component checks, so the command reports the build it
 * is, not whatever package.json sits nearby.
 */
import { readFile } from 'node:fs/promises';

const VERSION_FILE = 'VERSION';

/** The version stamped beside the module at `moduleUrl` (default: this bundle). */
export async function bundleVersion(moduleUrl: string | URL = import.meta.url): Promise<string> {
  const file = new URL(VERSION_FILE, moduleUrl);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `no version stamp at ${file.pathname} (${(err as NodeJS.ErrnoException).code ?? String(err)}): run the built ` +
        'command (npm run build writes dist/fetch/VERSION)',
      { cause: err },
    );
  }
  const version = text.trim();
  if (!/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/.test(version)) {
    throw new Error(`${file.pathname} holds no version (${JSON.stringify(version.slice(0, 40))})`);
  }
  return version;
}
