/** nvme-cli printed something a parser cannot use. Carries the raw text so nothing is lost. */
export class NvmeOutputError extends Error {
  constructor(readonly command: string, readonly reason: string, readonly raw: string) {
    super(`could not read the output of "nvme ${command}": ${reason} (output: ${JSON.stringify(raw.slice(0, 300))})`);
    this.name = "NvmeOutputError";
  }
}

/** JSON.parse that reports which command's output failed. */
export function parseJsonOutput(command: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new NvmeOutputError(command, `not JSON (${(err as Error).message})`, text);
  }
}
