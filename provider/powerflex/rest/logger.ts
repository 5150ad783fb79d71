/** Where the client writes warnings (e.g. `insecure: true`). Inject one to capture or silence them. */
export interface Logger {
  /** Something the user should know about but that does not stop the work. */
  warn(message: string): void;
}

/** Default logger: one line per warning on stderr. */
export const stderrLogger: Logger = {
  warn(message: string): void {
    process.stderr.write(`powerflex-nvme: warning: ${message}\n`);
  },
};
