import { z } from "zod";
import { parseVolumeRef } from "../powerflex/volume-ref";
import { DEFAULT_PATH_SOURCE, PATH_SOURCES } from "../powerflex/discovery-plan";
import { parseHostKey } from "../host/access/ssh/host-key";
import { isIp } from "../host/nvme/identity";
import { connectOptionsSchema, ipSchema, withoutDefaults, type ConnectInputs } from "../host/nvme/connect-options";

/**
 * The resource's inputs as the provider receives them (plain JSON after the engine resolved Outputs),
 * validated with zod. Each failure names the property and says what is wrong, so `pulumi preview` shows
 * e.g. `connect.ctrlLossTmo: must be -1 (reconnect forever) or a whole number of seconds >= 0`.
 */

/** What the engine sends for a value not known during preview (pulumi.runtime.unknownValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const noOption = (what: string) => (s: string) => !s.startsWith("-") || `${what} must not start with "-" (it would read as an nvme-cli option)`;
const text = (what: string, max = 256, argv = true) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), `${what} must not contain control characters`)
    .check((ctx) => {
      const r = argv ? noOption(what)(ctx.value) : true;
      if (r !== true) ctx.issues.push({ code: "custom", message: r, input: ctx.value });
    });

/** NVMe Qualified Name: `nqn.yyyy-mm.reverse.domain:anything`, at most 223 bytes (NVMe base spec). */
export const nqnSchema = z
  .string({ error: "must be an NQN string" })
  .refine((s) => Buffer.byteLength(s) <= 223, "an NQN is at most 223 bytes")
  .refine(
    (s) => /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9][a-z0-9.-]*(:[\x21-\x7e]+)?$/i.test(s),
    'must look like "nqn.2014-08.org.nvmexpress:uuid:…" (nqn.<yyyy-mm>.<reverse domain>[:<name>])',
  );

export const uuidSchema = z
  .string({ error: "must be a UUID string" })
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID like "d24b6553-aa97-4c7c-aa4c-b51c022d8b7b"')
  .transform((s) => s.toLowerCase());

const port = z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be a TCP port 1-65535").max(65535, "must be a TCP port 1-65535");

export const gatewaySchema = z.strictObject({
  /** https://gateway[:port] of the PowerFlex REST gateway (or PowerFlex Manager). */
  endpoint: z.string({ error: "must be a URL string" }).refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "https:" || u.protocol === "http:") && u.username === "" && u.password === "";
    } catch {
      return false;
    }
  }, "must be an http(s) URL without credentials in it, like https://pflex-gw.example.com"),
  username: text("username", 128, false),
  password: z.string({ error: "must be a string" }).min(1, "must not be empty").max(1024, "is too long"),
  insecure: z.boolean({ error: "must be true or false" }).optional(),
  caCert: z.string({ error: "must be a PEM string" }).refine((s) => s.includes("-----BEGIN CERTIFICATE-----"), "must be a PEM certificate (-----BEGIN CERTIFICATE-----)").optional(),
  authFlow: z.enum(["auto", "gateway", "manager"], { error: 'must be "auto", "gateway" or "manager"' }).optional(),
});

const absolutePath = (what: string) =>
  text(what, 4096).refine((s) => s.startsWith("/"), `${what} must be an absolute path`);

/** A DNS name or an IP address; never something ssh could read as an option. */
const sshHost = z
  .string({ error: "must be a host name or IP address string" })
  .refine(
    (s) => isIp(s) || (/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/.test(s) && s.length <= 253),
    "must be a host name (letters, digits, '-', '.', not starting with '-') or an IP address, without user@ or :port",
  );

export const sshSchema = z
  .strictObject({
    host: sshHost,
    port: port.optional(),
    user: z
      .string({ error: "must be a user name string" })
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, "must be a Unix user name (letters, digits, '_', '.', '-'; not starting with '-' or a digit; at most 32)"),
    /** Kept secret: the resource marks `hostAccess` as a secret output. */
    privateKey: z
      .string({ error: "must be a private key (PEM or OpenSSH) string" })
      .max(16384, "is longer than 16384 characters")
      .refine((s) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s) && /-----END [A-Z ]*PRIVATE KEY-----/.test(s), "must be a private key in PEM or OpenSSH format (-----BEGIN … PRIVATE KEY-----)")
      .refine((s) => !/^Proc-Type: 4,ENCRYPTED/m.test(s), "is encrypted with a passphrase; give an unencrypted key or use agent: true")
      .optional(),
    agent: z.boolean({ error: "must be true or false" }).optional(),
    hostKey: z.string({ error: "must be a known_hosts line, a public key or a SHA256 fingerprint" }).check((ctx) => {
      const r = parseHostKey(ctx.value);
      if (typeof r === "string") ctx.issues.push({ code: "custom", message: r, input: ctx.value });
    }),
    sudo: z.boolean({ error: "must be true or false" }).optional(),
  })
  .refine((s) => s.privateKey !== undefined || s.agent === true, { message: "give privateKey, or set agent: true to use the ssh-agent at $SSH_AUTH_SOCK", path: ["privateKey"] });

export const hostAccessSchema = z.strictObject({
  nvmeCli: text("nvmeCli", 4096).optional(),
  sysfsRoot: absolutePath("sysfsRoot").optional(),
  stateDir: absolutePath("stateDir").optional(),
  etcNvmeDir: absolutePath("etcNvmeDir").optional(),
  mountsFile: absolutePath("mountsFile").optional(),
  /** Reach the host over SSH; the paths above are then on that host. */
  ssh: sshSchema.optional(),
});

const role = z.enum(["StorageAndHost", "HostOnly"], {
  error: 'must be "StorageAndHost" or "HostOnly" (StorageOnly IPs carry SDS-to-SDT traffic, never host connections)',
});

/** Address roles to connect through; `powerflex-nvme paths --role` takes the same. */
export const rolesSchema = z.array(role, { error: "must be a list of roles" }).min(1, "must name at least one role (or be left out for both)");

export const inputsSchema = z.strictObject({
  gateway: gatewaySchema.optional(),
  protectionDomain: text("protectionDomain", 64, false),
  system: text("system", 64, false).optional(),
  sdts: z.array(text("sdt", 64, false), { error: "must be a list of SDT names or ids" }).min(1, "must name at least one SDT (or be left out for all)").optional(),
  roles: rolesSchema.optional(),
  addresses: z
    .array(z.strictObject({ sdt: text("sdt", 64, false), traddr: ipSchema, trsvcid: port.optional() }), { error: "must be a list of {sdt, traddr, trsvcid?}" })
    .optional(),
  pathSource: z
    .enum(PATH_SOURCES, { error: 'must be "plan" (the ports PowerFlex plans for the host, from nvme discover) or "all-sdts" (every usable SDT address)' })
    .optional(),
  host: z
    .strictObject({
      nqn: nqnSchema.optional(),
      id: uuidSchema.optional(),
      name: text("host.name", 31, false).optional(),
      register: z.boolean({ error: "must be true or false" }).optional(),
    })
    .optional(),
  connect: connectOptionsSchema.optional(),
  volumes: z
    .array(
      z.strictObject({
        volume: text("volume", 64, false).check((ctx) => {
          const ref = parseVolumeRef(ctx.value);
          if ("problem" in ref) ctx.issues.push({ code: "custom", message: `volume ${ref.problem}`, input: ctx.value });
        }),
        accessMode: z.enum(["ReadWrite", "ReadOnly"], { error: 'must be "ReadWrite" or "ReadOnly"' }).optional(),
      }),
      { error: "must be a list of {volume, accessMode?}" },
    )
    .refine((vs) => new Set(vs.map((v) => v.volume)).size === vs.length, "names the same volume twice")
    .optional(),
  minPaths: z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be >= 1").max(64, "must be <= 64").optional(),
  force: z.boolean({ error: "must be true or false" }).optional(),
  hostAccess: hostAccessSchema.optional(),
});

export type Inputs = z.infer<typeof inputsSchema>;
export type { ConnectInputs };
export type GatewayInputs = z.infer<typeof gatewaySchema>;
export type SshInputs = z.infer<typeof sshSchema>;

/** The input property names: what `read` hands back as inputs and what `diff` compares. */
export const INPUT_KEYS = Object.keys(inputsSchema.shape) as (keyof Inputs)[];

/**
 * Inputs in the form diff compares: connect options set to the kernel's default are left out (and an
 * empty `connect` with them), and so is the default pathSource, so writing one down is no change and
 * reconnects nothing. Pure; also applied to stored inputs, which older versions wrote without it.
 */
export function normalised(inputs: Inputs): Inputs {
  const { connect, pathSource, ...rest } = inputs;
  const kept = connect === undefined || connect === null ? {} : withoutDefaults(connect);
  return {
    ...rest,
    ...(pathSource !== undefined && pathSource !== null && pathSource !== DEFAULT_PATH_SOURCE ? { pathSource } : {}),
    ...(Object.keys(kept).length > 0 ? { connect: kept } : {}),
  };
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** Paths (dotted) of values that are unknown during preview. */
function unknownPaths(value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (value === UNKNOWN) out.push(prefix);
  else if (Array.isArray(value)) value.forEach((v, i) => unknownPaths(v, [...prefix, String(i)], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) unknownPaths(v, [...prefix, k], out);
  return out;
}

/**
 * Validate raw inputs. During preview, values not known yet are accepted as they are (only what is
 * known is checked); `inputs` is then undefined, and the caller must not act on them.
 */
export function checkInputs(raw: Record<string, unknown>): { inputs?: Inputs; failures: CheckFailure[]; hasUnknowns: boolean } {
  const { __provider: _, ...props } = raw;
  const unknowns = unknownPaths(props);
  const hasUnknowns = unknowns.length > 0;
  const result = inputsSchema.safeParse(props);
  if (result.success) return { inputs: hasUnknowns ? undefined : normalised(result.data), failures: [], hasUnknowns };
  const failures: CheckFailure[] = [];
  for (const issue of result.error.issues) {
    const at = issue.path.map(String);
    if (unknowns.some((u) => u.every((seg, i) => at[i] === seg))) continue; // a value we cannot know yet
    const property = at.join(".") || "(inputs)";
    const reason = issue.code === "unrecognized_keys" ? `unknown propert${issue.keys.length > 1 ? "ies" : "y"} ${issue.keys.join(", ")}` : issue.message;
    failures.push({ property, reason });
  }
  return { failures, hasUnknowns };
}
