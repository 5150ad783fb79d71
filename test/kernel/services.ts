/**
 * Long-running helper processes inside the test VM, e.g. the project's PowerFlex gateway emulator:
 * started with node, considered up when a line of their output matches, killed at the end.
 * The VM has only `lo`: services listen on 127.0.0.1 (any 127/8 address works).
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ServiceOptions {
  /** Arguments to node: a script path (relative to the repo, which is the cwd) and its arguments, or `-e` code. */
  readonly nodeArgs: readonly string[];
  /** The service is up once a stdout/stderr line matches this. */
  readonly ready: RegExp;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface Service {
  readonly child: ChildProcess;
  /** The first line that matched `ready` (parse the listening port out of it). */
  readonly readyLine: string;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  /** SIGTERM, then SIGKILL after 3 s; resolves when it exited. */
  stop(): Promise<void>;
}

const running = new Set<Service>();

/** Starts `node …nodeArgs` and resolves once it printed a line matching `ready`. */
export function startNodeService(opts: ServiceOptions): Promise<Service> {
  const child = spawn(process.execPath, [...opts.nodeArgs], {
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const service: Service = {
    child,
    readyLine: "",
    output: () => out,
    async stop() {
      running.delete(service);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  return new Promise<Service>((resolve, reject) => {
    const timer = setTimeout(() => {
      void service.stop();
      reject(new Error(`node ${opts.nodeArgs.join(" ")} not ready within ${opts.timeoutMs ?? 30_000} ms; output:\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      const before = out;
      out += chunk.toString("utf8");
      if (service.readyLine) return;
      // complete lines only: a half-received line could match too early ("listening on 4" of 4420)
      const lines = out.slice(before.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
      const line = lines.find((l) => opts.ready.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        (service as { readyLine: string }).readyLine = line;
        running.add(service);
        resolve(service);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code, signal) => {
      if (!service.readyLine) {
        clearTimeout(timer);
        reject(new Error(`node ${opts.nodeArgs.join(" ")} exited (${signal ?? code}) before it was ready; output:\n${out}`));
      }
    });
  });
}

/** Stops every service still running (root hook after all tests). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}
