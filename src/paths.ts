// Files that ship beside the code (the contract, the sample catalogue) are found from the package root, so the
// same code works from src/ under tsx and from the compiled bundle in dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'openapi.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`No package root (package.json beside openapi.yaml) above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export const packageFile = (...parts: string[]): string => join(PACKAGE_ROOT, ...parts);
