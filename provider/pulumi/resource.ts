import * as pulumi from "@pulumi/pulumi";
import type { ConnectInputs } from "../host/nvme/connect-options";

/**
 * The provider as stored in `__provider` with every resource: a module whose `handler()` returns the
 * provider, loaded by the dynamic-provider host (`cmd/dynamic-provider`) with its cwd's module paths.
 * Pulumi keeps this text in state and runs it again for refresh and destroy, even after an upgrade, so it
 * holds nothing but a `require` of the installed implementation by the package's own name: teardown fixes
 * reach resources made by older versions, and no credential or path is ever captured. It is written out
 * rather than produced by `pulumi.dynamic.Resource`'s closure serializer, which spends ~300 bytes of
 * scaffolding per method (2.2 KB for seven one-line methods).
 */
export const PROVIDER_SOURCE = 'exports.handler = () => require("pulumi-powerflex-nvme/lifecycle").provider;\n';

/** The resource type token: what a dynamic resource of module `powerflex`, type `NvmeAttachment` gets. */
export const TYPE = "pulumi-nodejs:dynamic/powerflex:NvmeAttachment";

/** Where the gateway is and how to log in. Defaults: stack config `powerflex:*`, then env `POWERFLEX_*`. */
export interface GatewayArgs {
  /** `https://host[:port]` of the PowerFlex REST gateway or PowerFlex Manager. */
  endpoint: pulumi.Input<string>;
  username: pulumi.Input<string>;
  /** Kept secret in state; never logged. Prefer `pulumi config set --secret powerflex:password`. */
  password: pulumi.Input<string>;
  /** Skip TLS verification (a warning is printed). Prefer `caCert`. */
  insecure?: pulumi.Input<boolean>;
  /** PEM of the CA that signed the gateway's certificate. */
  caCert?: pulumi.Input<string>;
  /** `gateway` (GET /api/login), `manager` (POST /rest/auth/login) or `auto` (probe; default). */
  authFlow?: pulumi.Input<"auto" | "gateway" | "manager">;
}

/** Which NVMe host identity to connect as, and whether to register it in PowerFlex. */
export interface HostArgs {
  /** Host NQN. Default: the content of `/etc/nvme/hostnqn`. */
  nqn?: pulumi.Input<string>;
  /**
   * Host ID (UUID). The kernel allows one host ID per host NQN, so the default is: the host ID an existing
   * attachment connected with (it keeps it); else the one other attachments on this host are connected with
   * under this NQN; else `/etc/nvme/hostid` when `nqn` is the host's own (`/etc/nvme/hostnqn`); for any other
   * NQN one derived from it: the UUID of a `nqn.2014-08.org.nvmexpress:uuid:<uuid>` NQN, else UUID v5 of
   * the NQN in namespace 8d3e5b0c-6f1a-4c2e-9b7d-2a4f6c8e0d13.
   */
  id?: pulumi.Input<string>;
  /** Name of the NVMe host object in PowerFlex (at most 31 characters) when registering. */
  name?: pulumi.Input<string>;
  /** Create the NVMe host object in PowerFlex when no host has this NQN (removed again on destroy). Default false. */
  register?: pulumi.Input<boolean>;
}

/**
 * `nvme connect` options, recorded in state: the type of the one schema (provider/host/nvme/connect-table.ts
 * lists each option, its limits, kernel default and nvme-cli flag). Changing one reconnects our paths one
 * at a time; setting one to its kernel default is no change.
 */
export type ConnectArgs = { [K in keyof ConnectInputs]?: pulumi.Input<NonNullable<ConnectInputs[K]>> };

/** Where things are on the host (advanced: the demo and tests point these at a simulated host). */
export interface HostAccessArgs {
  /** nvme-cli executable. Default `nvme` on PATH. */
  nvmeCli?: pulumi.Input<string>;
  /** Default `/sys`. */
  sysfsRoot?: pulumi.Input<string>;
  /** Ledger and lock directory. Default `/run/pulumi-powerflex-nvme`. */
  stateDir?: pulumi.Input<string>;
  /** Default `/etc/nvme`. */
  etcNvmeDir?: pulumi.Input<string>;
  /** Default `/proc/self/mounts`. */
  mountsFile?: pulumi.Input<string>;
  /** Reach the host over SSH; the paths above are then on that host. */
  ssh?: pulumi.Input<SshArgs>;
}

/** A remote Linux host reached with the OpenSSH client (it needs nvme-cli, flock, and root or passwordless sudo). */
export interface SshArgs {
  /** Host name or IP address. */
  host: pulumi.Input<string>;
  /** Default 22. */
  port?: pulumi.Input<number>;
  /** Login user: root, or a user with passwordless sudo. */
  user: pulumi.Input<string>;
  /**
   * The host's public key as a known_hosts line or `.pub` line, or its SHA256 fingerprint
   * (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`). Required: the host must prove it holds it.
   */
  hostKey: pulumi.Input<string>;
  /** Unencrypted private key (OpenSSH or PEM). Kept secret in state (`hostAccess` is a secret output). */
  privateKey?: pulumi.Input<string>;
  /** Authenticate with the ssh-agent at `$SSH_AUTH_SOCK` instead of `privateKey`. */
  agent?: pulumi.Input<boolean>;
  /** Run commands with `sudo -n`. Default: when `user` is not root. */
  sudo?: pulumi.Input<boolean>;
}

/** Overrides the address (and port) a given SDT is reached at, e.g. behind NAT. */
export interface AddressArgs {
  /** SDT name or id. */
  sdt: pulumi.Input<string>;
  traddr: pulumi.Input<string>;
  trsvcid?: pulumi.Input<number>;
}

export interface PowerFlexNvmeAttachmentArgs {
  gateway?: pulumi.Input<GatewayArgs>;
  /** Protection domain (name or id) whose SDTs the host connects to. */
  protectionDomain: pulumi.Input<string>;
  /** System id, when the gateway manages several systems. */
  system?: pulumi.Input<string>;
  /** Only these SDTs (names or ids). Default: every connected SDT of the protection domain. */
  sdts?: pulumi.Input<pulumi.Input<string>[]>;
  /** IP roles to connect to. Default `["StorageAndHost", "HostOnly"]`. */
  roles?: pulumi.Input<pulumi.Input<"StorageAndHost" | "HostOnly">[]>;
  /**
   * Addresses to use instead of an SDT's own (NAT, a dedicated host network). With pathSource "plan" the
   * plan picks the SDTs and these give their addresses: a planned SDT is connected at all of its overrides.
   */
  addresses?: pulumi.Input<pulumi.Input<AddressArgs>[]>;
  /**
   * Which paths to connect. `plan` (default): the ports PowerFlex's load balancer selected for this host,
   * as `nvme discover` on the host lists them at the SDTs' discovery ports (referrals followed), kept only
   * where the other inputs allow them (`roles`, `sdts`, SDT state); re-read by preview, refresh and up, so
   * a recalculated plan shows as a change and `up` connects the new paths before it releases the old.
   * Without a plan (no volume mapped by this attachment, an empty discovery log, no discovery controller
   * answering) the paths are those of `all-sdts`, with a warning that says why. `all-sdts`: every
   * StorageAndHost/HostOnly address of every usable SDT of the protection domain, without discovery.
   */
  pathSource?: pulumi.Input<"plan" | "all-sdts">;
  host?: pulumi.Input<HostArgs>;
  connect?: pulumi.Input<ConnectArgs>;
  /**
   * PowerFlex volumes to map to this host's NVMe host object and wait for as block devices (see `devices`).
   * A mapping that exists already is adopted and never removed by us; the ones we make go on destroy.
   */
  volumes?: pulumi.Input<pulumi.Input<VolumeArgs>[]>;
  /** Fewest paths that must connect for `up` to succeed. Default: all planned paths. */
  minPaths?: pulumi.Input<number>;
  /** Allow destroy/update to cut the last live path of a mounted or held namespace. Default false. */
  force?: pulumi.Input<boolean>;
  hostAccess?: pulumi.Input<HostAccessArgs>;
}

/** A volume to map to this host. */
export interface VolumeArgs {
  /** Volume name or id. */
  volume: pulumi.Input<string>;
  /** Default `ReadWrite`. */
  accessMode?: pulumi.Input<"ReadWrite" | "ReadOnly">;
}

/** A mapped volume's block device on this host, found by its NGUID (never by device order). */
export interface AttachmentDevice {
  volumeId: string;
  volumeName: string;
  nsid: number;
  /** Stable path: `/dev/disk/by-id/nvme-eui.<nguid>`. */
  devicePath: string;
  /** Namespace head at the time, e.g. `nvme0n1` (names can change; use devicePath). */
  kernelName: string;
  /** `created`: we mapped it; `adopted`: it was mapped already. */
  origin: "created" | "adopted";
}

/** One NVMe/TCP path as held by the attachment. */
export interface AttachmentPath {
  sdtId: string;
  sdtName: string;
  transport: "tcp";
  traddr: string;
  trsvcid: number;
  subsysnqn: string;
  hostnqn: string;
  hostid: string;
  hostTraddr: string | null;
  hostIface: string | null;
  /** Name of the controller object held (the kernel reuses names: with `cntlid`, which object it was). */
  device: string | null;
  /** Controller ID of that object; null in states written before schemaVersion 4. */
  cntlid: number | null;
  /** `created`: we made the controller; `adopted`: it was live before (ours to hold, never to cut). */
  origin: "created" | "adopted";
  state: "live" | "connecting" | "missing";
}

/**
 * Connects this host to the NVMe/TCP subsystem of a PowerFlex system through the SDTs of a protection
 * domain, and on destroy disconnects only the controllers it made and nobody else holds.
 */
export class PowerFlexNvmeAttachment extends pulumi.CustomResource {
  /** Subsystem NQN of the PowerFlex system. */
  declare readonly subsystemNqn: pulumi.Output<string>;
  declare readonly hostNqn: pulumi.Output<string>;
  declare readonly hostId: pulumi.Output<string>;
  declare readonly systemId: pulumi.Output<string>;
  declare readonly protectionDomainId: pulumi.Output<string>;
  /** Id of the NVMe host object in PowerFlex, when known. */
  declare readonly hostObjectId: pulumi.Output<string | null>;
  declare readonly paths: pulumi.Output<AttachmentPath[]>;
  /** Block devices of the mapped `volumes`. */
  declare readonly devices: pulumi.Output<AttachmentDevice[]>;
  declare readonly schemaVersion: pulumi.Output<number>;

  constructor(name: string, args: PowerFlexNvmeAttachmentArgs, opts?: pulumi.CustomResourceOptions) {
    const outputs = {
      subsystemNqn: undefined,
      hostNqn: undefined,
      hostId: undefined,
      systemId: undefined,
      protectionDomainId: undefined,
      hostObjectId: undefined,
      paths: undefined,
      devices: undefined,
      schemaVersion: undefined,
    };
    super(TYPE, name, { ...args, ...outputs, __provider: PROVIDER_SOURCE }, pulumi.mergeOptions(opts, { additionalSecretOutputs: ["gateway", "hostAccess"] }));
  }
}
