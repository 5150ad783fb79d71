import type { Inputs } from "../pulumi/inputs";
import { PowerFlexClient, type GatewayOptions, type Logger } from ".";
import { printable } from "../printable";

/**
 * Which PowerFlex gateway an attachment talks to, and the host-object chores around it. Credentials are
 * resolved at call time from (first wins, field by field) the `gateway` input, the stack config
 * `powerflex:*` that `configure` received, and the environment `POWERFLEX_*`: never captured in the
 * serialized provider, never logged.
 */

/** Stack config values the provider received in `configure` (strings, as the engine sends them). */
export interface StackConfig {
  readonly endpoint?: string;
  readonly username?: string;
  readonly password?: string;
  readonly insecure?: string;
  readonly caCert?: string;
  readonly authFlow?: string;
}

const ENV = {
  endpoint: "POWERFLEX_ENDPOINT",
  username: "POWERFLEX_USERNAME",
  password: "POWERFLEX_PASSWORD",
  insecure: "POWERFLEX_INSECURE",
  caCert: "POWERFLEX_CA_CERT",
  authFlow: "POWERFLEX_AUTH_FLOW",
} as const;

function flag(text: string | undefined, where: string): boolean | undefined {
  if (text === undefined || text === "") return undefined;
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  throw new Error(`${where} must be true or false`);
}

/** The gateway options for these inputs; an error says where each missing value can come from. */
export function gatewayOptions(inputs: Pick<Inputs, "gateway">, config: StackConfig, env: NodeJS.ProcessEnv = process.env): GatewayOptions {
  const g = inputs.gateway;
  const pick = (k: keyof typeof ENV): string | undefined => {
    const fromInput = g?.[k];
    if (fromInput !== undefined) return String(fromInput);
    if (config[k] !== undefined && config[k] !== "") return config[k];
    return env[ENV[k]] || undefined;
  };
  const missing = (["endpoint", "username", "password"] as const).filter((k) => pick(k) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `no PowerFlex gateway ${missing.join(", ")}: set ${missing.map((k) => `gateway.${k}`).join(", ")} on the resource, or ` +
        missing.map((k) => `\`pulumi config set ${k === "password" ? "--secret " : ""}powerflex:${k} …\``).join(", ") +
        `, or the environment ${missing.map((k) => ENV[k]).join(", ")}`,
    );
  }
  const insecure = g?.insecure ?? flag(config.insecure, "powerflex:insecure") ?? flag(env[ENV.insecure], ENV.insecure);
  const caCert = pick("caCert");
  const authFlow = pick("authFlow") as GatewayOptions["authFlow"];
  return {
    endpoint: pick("endpoint")!,
    username: pick("username")!,
    password: pick("password")!,
    ...(insecure !== undefined ? { insecure } : {}),
    ...(caCert !== undefined ? { caCert } : {}),
    ...(authFlow !== undefined ? { authFlow } : {}),
  };
}

/** What the resource needs from the gateway beyond reads. */
export interface Gateway {
  readonly client: PowerFlexClient;
  /** Gateway origin (kept in state: which array this attachment belongs to). */
  readonly endpoint: string;
  /**
   * The NVMe host object for this host NQN: found, or registered when `host.register` is set. Without
   * `register`, a missing host is an error: the SDTs would reject the connection anyway.
   */
  ensureHost(inputs: Pick<Inputs, "host">, hostnqn: string): Promise<{ readonly id: string; readonly registered: boolean }>;
  /** Remove a host object we registered, unless volumes are mapped to it (then keep it and say so). */
  removeRegisteredHost(id: string, log: (message: string) => void): Promise<void>;
}

/** Host registrations under way in this process, per endpoint + NQN: parallel creates look up, then register once. */
const registering = new Map<string, Promise<unknown>>();

export function gatewayFor(inputs: Pick<Inputs, "gateway">, config: StackConfig, logger?: Logger): Gateway {
  const client = PowerFlexClient.shared(gatewayOptions(inputs, config), logger);
  const ensure = async (i: Pick<Inputs, "host">, hostnqn: string) => {
    const found = await client.findNvmeHostByNqn(hostnqn);
    if (found) return { id: found.id, registered: false };
    if (!i.host?.register) {
      throw new Error(
        `PowerFlex ${client.endpoint} has no NVMe host with NQN ${hostnqn}, so its SDTs would refuse this host. ` +
          `Set host.register: true to have it registered (and removed on destroy), or add it in PowerFlex first.`,
      );
    }
    try {
      const created = await client.createNvmeHost({ nqn: hostnqn, ...(i.host.name !== undefined ? { name: i.host.name } : {}) });
      return { id: created.id, registered: true };
    } catch (err) {
      // Another process registered the NQN between our look-up and our POST: use its host object.
      const now = await client.findNvmeHostByNqn(hostnqn).catch(() => undefined);
      if (now) return { id: now.id, registered: false };
      throw err;
    }
  };
  return {
    client,
    endpoint: client.endpoint,
    ensureHost(i, hostnqn) {
      const key = `${client.endpoint}\u0000${hostnqn.toLowerCase()}`;
      const run = (registering.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => ensure(i, hostnqn));
      registering.set(key, run);
      return run.finally(() => {
        if (registering.get(key) === run) registering.delete(key);
      });
    },
    async removeRegisteredHost(id, log) {
      const mapped = await client.listVolumesOfHost(id);
      if (mapped.length > 0) {
        log(
          `kept the NVMe host object ${id} we registered: ${mapped.length} volume(s) are still mapped to it ` +
            `(${printable(mapped.map((v) => v.name ?? v.id).join(", "))}); unmap them, then remove the host in PowerFlex.`,
        );
        return;
      }
      await client.removeHost(id);
    },
  };
}
