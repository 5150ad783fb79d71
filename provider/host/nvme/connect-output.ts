import { NvmeOutputError } from "./output-error";

/** What `nvme connect` told us on stdout. */
export interface ConnectOutput {
  /** The controller this call created, when the version prints it. */
  readonly device?: string;
}

const DEVICE = /^nvme\d+$/;

/**
 * Parse `nvme connect` stdout: `-o json` gives `{"device":"nvmeN"}` (1.x `"device" : "nvmeN"`); 2.7+
 * without `-o` print `connecting to device: nvmeN`; `-o normal` prints `device: nvmeN`; older versions
 * print nothing (then `device` is undefined and sysfs must tell).
 */
export function parseConnectOutput(stdout: string): ConnectOutput {
  const text = stdout.trim();
  if (text === "") return {};
  let device: unknown;
  if (text.startsWith("{")) {
    try {
      device = (JSON.parse(text) as { device?: unknown }).device;
    } catch (err) {
      throw new NvmeOutputError("connect", `not JSON (${(err as Error).message})`, stdout);
    }
  } else {
    device = /^(?:connecting to )?device: *(\S+)$/m.exec(text)?.[1];
  }
  if (device === undefined) throw new NvmeOutputError("connect", "no device named", stdout);
  if (typeof device !== "string" || !DEVICE.test(device)) {
    throw new NvmeOutputError("connect", `device ${JSON.stringify(device)} is not a controller name (nvmeN)`, stdout);
  }
  return { device };
}
