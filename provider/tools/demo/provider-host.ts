import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { packageRoot } from "../../package-root";
import { TYPE } from "../../pulumi/resource";

/**
 * The real dynamic-provider host of @pulumi/pulumi (`cmd/dynamic-provider`), started the way the Pulumi
 * engine starts it (its own process, argv = [engine address], cwd = a project directory that resolves
 * this package by name), driven over gRPC. This is the path `pulumi up` takes, minus the Go engine.
 */

/** A throwaway Pulumi project directory whose node_modules resolve this package and the SDK by name. */
export function makeConsumerProject(name = "hostprov"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-project-"));
  fs.mkdirSync(path.join(dir, "node_modules", "@pulumi"), { recursive: true });
  fs.symlinkSync(packageRoot(), path.join(dir, "node_modules", "pulumi-powerflex-nvme"), "dir");
  fs.symlinkSync(path.join(packageRoot(), "node_modules", "@pulumi", "pulumi"), path.join(dir, "node_modules", "@pulumi", "pulumi"), "dir");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "0.0.0", private: true }));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\n`);
  return dir;
}

const sdkRequire = createRequire(path.join(packageRoot(), "package.json"));
const sdkDir = path.dirname(sdkRequire.resolve("@pulumi/pulumi/package.json"));
// The generated stubs must see the same grpc-js and protobuf copies as the SDK (instanceof checks).
const fromSdk = (m: string) => sdkRequire(sdkRequire.resolve(m, { paths: [sdkDir] }));
const grpc = fromSdk("@grpc/grpc-js");
const structproto = fromSdk("google-protobuf/google/protobuf/struct_pb");
const emptyproto = fromSdk("google-protobuf/google/protobuf/empty_pb");
const provrpc = sdkRequire("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = sdkRequire("@pulumi/pulumi/proto/provider_pb");
const dynamicProviderScript = sdkRequire.resolve("@pulumi/pulumi/cmd/dynamic-provider");

/** The preview placeholder for a value not known yet (pulumi.runtime.unknownValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export { TYPE };

type Props = Record<string, unknown>;

export interface DiffReply {
  changes: "none" | "some" | "unknown";
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** A gRPC failure from the provider, with the server's message. */
export class ProviderCallError extends Error {
  constructor(readonly method: string, readonly code: string, readonly details: string) {
    super(`${method} -> ${code}: ${details}`);
  }
}

export class ProviderHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: any,
    /** Everything the provider process wrote to stderr (stack traces; error diagnostics): scanned for secrets. */
    readonly stderr: string[],
    /** Everything it wrote to stdout after the port (info diagnostics): scanned for secrets. */
    readonly stdout: string[],
  ) {}

  /** Start `node <dynamic-provider> 127.0.0.1:0` in `projectDir` and connect to the port it prints. */
  static async start(projectDir: string, env: Record<string, string> = {}): Promise<ProviderHost> {
    const child = spawn(process.execPath, [dynamicProviderScript, "127.0.0.1:0"], {
      cwd: projectDir,
      env: { ...process.env, PULUMI_NODEJS_PROJECT: "hostprov", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    const stdout: string[] = [];
    child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
    child.stdout!.on("data", (d: Buffer) => stdout.push(d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = buf.match(/^(\d+)\s*$/m);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", (code) => reject(new Error(`dynamic-provider exited early (${code}): ${stderr.join("")}`)));
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderHost(child, client, stderr, stdout);
  }

  /** Process id of the provider host (to kill it in crash tests). */
  get pid(): number {
    return this.child.pid!;
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) =>
      this.client[method](req, (err: any, resp: T) =>
        err ? reject(new ProviderCallError(method, grpc.status[err.code] ?? String(err.code), err.details ?? err.message)) : resolve(resp),
      ),
    );
  }

  private static struct(obj: Props): unknown {
    return structproto.Struct.fromJavaScript(obj);
  }

  async pluginVersion(): Promise<string> {
    const info: any = await this.call("getPluginInfo", new emptyproto.Empty());
    return info.getVersion();
  }

  /** Configure with stack config as the engine sends it (`namespace:key` -> string). */
  async configure(config: Record<string, string>): Promise<void> {
    const req = new provproto.ConfigureRequest();
    req.setArgs(ProviderHost.struct(config));
    req.setAcceptsecrets(true);
    await this.call("configure", req);
  }

  async check(urn: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
    const req = new provproto.CheckRequest();
    req.setUrn(urn);
    req.setType(TYPE);
    req.setOlds(ProviderHost.struct(olds));
    req.setNews(ProviderHost.struct(news));
    const resp: any = await this.call("check", req);
    return {
      inputs: resp.getInputs()?.toJavaScript() ?? {},
      failures: resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(urn: string, id: string, oldOutputs: Props, oldInputs: Props, news: Props): Promise<DiffReply> {
    const req = new provproto.DiffRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setType(TYPE);
    req.setOlds(ProviderHost.struct(oldOutputs));
    req.setOldInputs(ProviderHost.struct(oldInputs));
    req.setNews(ProviderHost.struct(news));
    const resp: any = await this.call("diff", req);
    const changes = ({ 0: "unknown", 1: "none", 2: "some" } as const)[resp.getChanges() as 0 | 1 | 2];
    return { changes, replaces: resp.getReplacesList(), deleteBeforeReplace: resp.getDeletebeforereplace() };
  }

  async create(urn: string, inputs: Props): Promise<{ id: string; outputs: Props }> {
    const req = new provproto.CreateRequest();
    req.setUrn(urn);
    req.setType(TYPE);
    req.setProperties(ProviderHost.struct(inputs));
    req.setTimeout(300);
    const resp: any = await this.call("create", req);
    return { id: resp.getId(), outputs: resp.getProperties().toJavaScript() };
  }

  async read(urn: string, id: string, outputs: Props, inputs: Props): Promise<{ id: string; outputs: Props; inputs: Props }> {
    const req = new provproto.ReadRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setType(TYPE);
    req.setProperties(ProviderHost.struct(outputs));
    req.setInputs(ProviderHost.struct(inputs));
    const resp: any = await this.call("read", req);
    return { id: resp.getId(), outputs: resp.getProperties()?.toJavaScript() ?? {}, inputs: resp.getInputs()?.toJavaScript() ?? {} };
  }

  async update(urn: string, id: string, oldOutputs: Props, oldInputs: Props, news: Props): Promise<Props> {
    const req = new provproto.UpdateRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setType(TYPE);
    req.setOlds(ProviderHost.struct(oldOutputs));
    req.setOldInputs(ProviderHost.struct(oldInputs));
    req.setNews(ProviderHost.struct(news));
    req.setTimeout(300);
    const resp: any = await this.call("update", req);
    return resp.getProperties().toJavaScript();
  }

  async delete(urn: string, id: string, outputs: Props, oldInputs: Props): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setType(TYPE);
    req.setProperties(ProviderHost.struct(outputs));
    req.setOldInputs(ProviderHost.struct(oldInputs));
    req.setTimeout(300);
    await this.call("delete", req);
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill();
      await exited;
    }
  }
}

/** A URN for a resource of our type in the test stack. */
export function urnOf(name: string): string {
  return `urn:pulumi:test::hostprov::${TYPE}::${name}`;
}
