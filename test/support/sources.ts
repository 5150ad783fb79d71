import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";

/** Every `.ts` file below `dir`, for the tests that read our own sources to keep a rule in one place. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}
