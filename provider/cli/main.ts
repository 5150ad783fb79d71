import * as path from "node:path";

/**
 * `powerflex-nvme <command> [options]`. Each command lives in its own file next to this one and exports
 * `run(argv: string[]): Promise<number>` (the exit code) and `summary` (one line for the help text).
 */
const commands = ["emulator", "paths", "status", "demo"] as const;

interface Command {
  run(argv: string[]): Promise<number>;
  summary: string;
}

function load(name: string): Command | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(__dirname, name)) as Command;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((err as Error).message).includes(path.join(__dirname, name))) {
      return undefined;
    }
    throw err;
  }
}

function usage(): string {
  const lines = ["usage: powerflex-nvme <command> [options]", "", "commands:"];
  for (const name of commands) {
    const cmd = load(name);
    if (cmd) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push("", "Run `powerflex-nvme <command> --help` for a command's options.");
  return lines.join("\n") + "\n";
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = (commands as readonly string[]).includes(name) ? load(name) : undefined;
  if (!cmd) {
    process.stderr.write(`powerflex-nvme: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest);
}
