import { usesOf, type FabricsController, type NamespaceUse } from "../host/nvme/controller";
import type { PowerFlexClient } from ".";
import { printable } from "../printable";

/**
 * PowerFlex volumes mapped to this host's NVMe host object, and the block devices they become. Which
 * device is which volume is decided by NGUID only (never by device order): PowerFlex exposes a volume with
 * NGUID `<volume id><64b94e><last 10 hex digits of the system id>` (csi-powerflex and Cinder compute it so).
 */

/** A volume as the attachment holds it (in state). */
export interface HeldVolume {
  /** The `volume` input that named it (name or id): how drift is matched to inputs. */
  readonly spec: string;
  readonly volumeId: string;
  readonly volumeName: string;
  readonly accessMode: "ReadWrite" | "ReadOnly";
  /** `created`: we mapped it (and unmap it on destroy); `adopted`: it was mapped already (never unmapped by us). */
  readonly origin: "created" | "adopted";
  readonly nguid: string;
}

/** A mapped volume's block device on this host. */
export interface Device {
  readonly volumeId: string;
  readonly volumeName: string;
  readonly nsid: number;
  /** Stable link: `/dev/disk/by-id/nvme-eui.<nguid>`. */
  readonly devicePath: string;
  /** Namespace head, e.g. `nvme0n1` (a hint: names are not stable). */
  readonly kernelName: string;
  readonly origin: "created" | "adopted";
}

export interface VolumeSpec {
  readonly volume: string;
  readonly accessMode?: "ReadWrite" | "ReadOnly";
}

/** NGUID of a PowerFlex volume (32 lower-case hex digits). */
export function volumeNguid(volumeId: string, systemId: string): string {
  const vol = volumeId.toLowerCase();
  const sys = systemId.toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(vol)) throw new Error(`volume id "${volumeId}" is not 16 hex digits; cannot compute its NGUID`);
  if (!/^[0-9a-f]{10,}$/.test(sys)) throw new Error(`system id "${systemId}" is not hex; cannot compute volume NGUIDs`);
  return `${vol}64b94e${sys.slice(-10)}`;
}

/** The ledger side of mappings ({@link NvmeEngine.holdVolume} / {@link NvmeEngine.releaseVolume}). */
export interface MappingLedger {
  /** `unmap` undoes what `map` made when the owner's attachment ended meanwhile (its destroy began). */
  holdVolume(owner: string, key: string, map: () => Promise<"created" | "adopted">, unmap?: () => Promise<void>): Promise<"created" | "adopted">;
  releaseVolume(owner: string, key: string, unmap: () => Promise<void>): Promise<boolean>;
  wouldUnmap(owner: string, key: string): Promise<boolean>;
}

/** The volumes {@link unmapVolumes} would unmap for `owner` now (for the in-use guard before anything changes). */
export async function toUnmap(ledger: MappingLedger, owner: string, hostObjectId: string, volumes: readonly HeldVolume[]): Promise<HeldVolume[]> {
  const out: HeldVolume[] = [];
  for (const v of volumes) if (await ledger.wouldUnmap(owner, holdKey(hostObjectId, v.volumeId))) out.push(v);
  return out;
}

const holdKey = (hostObjectId: string, volumeId: string) => `${hostObjectId}/${volumeId}`;

/**
 * `known` and the volumes the ledger holds (`keys`) on `hostObjectId` besides: an update racing with a
 * destroy may have mapped them after the destroy's state was read. Only their ids are known here.
 */
export function withHeld(known: readonly HeldVolume[], keys: readonly string[], hostObjectId: string, systemId: string): HeldVolume[] {
  const extra = keys.map((k) => volumeOfHold(k, hostObjectId)).filter((id): id is string => id !== undefined && !known.some((v) => v.volumeId === id));
  return [...known, ...extra.map((id): HeldVolume => ({ spec: id, volumeId: id, volumeName: id, accessMode: "ReadWrite", origin: "created", nguid: volumeNguid(id, systemId) }))];
}

/** The volume id of a hold on `hostObjectId`, or undefined when the hold is on another host object. */
export function volumeOfHold(key: string, hostObjectId: string): string | undefined {
  const prefix = holdKey(hostObjectId, "");
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

/**
 * Map each volume to the host object for `owner`; one already mapped to it is adopted. All or nothing: on
 * a failure the holds this call took are released (unmapping what it mapped) before the error is thrown.
 */
export async function mapVolumes(
  client: PowerFlexClient,
  ledger: MappingLedger,
  owner: string,
  hostObjectId: string,
  systemId: string,
  specs: readonly VolumeSpec[],
): Promise<HeldVolume[]> {
  const held: HeldVolume[] = [];
  try {
    for (const spec of specs) {
      const vol = await client.getVolume(spec.volume);
      const accessMode = spec.accessMode ?? "ReadWrite";
      const origin = await ledger.holdVolume(owner, holdKey(hostObjectId, vol.id), async () => {
        if (vol.mappedSdcInfo.some((m) => m.sdcId === hostObjectId)) return "adopted";
        await client.mapVolumeToHost(vol.id, hostObjectId, { accessMode });
        return "created";
      }, () => client.unmapVolumeFromHost(vol.id, hostObjectId));
      held.push({ spec: spec.volume, volumeId: vol.id, volumeName: vol.name ?? vol.id, accessMode, origin, nguid: volumeNguid(vol.id, systemId) });
    }
  } catch (err) {
    await unmapVolumes(client, ledger, owner, hostObjectId, held).catch(() => undefined);
    throw err;
  }
  return held;
}

/**
 * Let go of these volumes for `owner`. A mapping is removed only when no other attachment on this host
 * holds it and one of them made it (never one that was there before). Returns the volumes unmapped.
 */
export async function unmapVolumes(
  client: PowerFlexClient,
  ledger: MappingLedger,
  owner: string,
  hostObjectId: string,
  volumes: readonly HeldVolume[],
): Promise<HeldVolume[]> {
  const unmapped: HeldVolume[] = [];
  for (const v of volumes) {
    if (await ledger.releaseVolume(owner, holdKey(hostObjectId, v.volumeId), () => client.unmapVolumeFromHost(v.volumeId, hostObjectId))) unmapped.push(v);
  }
  return unmapped;
}

/** The namespace of each volume on these controllers (by NGUID), where present. */
export function namespacesOf(controllers: readonly FabricsController[], subsysnqn: string, volumes: readonly HeldVolume[]): Map<string, NamespaceUse> {
  const found = new Map<string, NamespaceUse>();
  for (const c of controllers) {
    if (c.subsysnqn !== subsysnqn) continue;
    for (const ns of c.namespaces) {
      const v = volumes.find((x) => x.nguid === ns.nguid);
      if (v && !found.has(v.volumeId)) found.set(v.volumeId, ns);
    }
  }
  return found;
}

export function devicesOf(volumes: readonly HeldVolume[], namespaces: Map<string, NamespaceUse>): Device[] {
  return volumes.flatMap((v) => {
    const ns = namespaces.get(v.volumeId);
    return ns
      ? [{ volumeId: v.volumeId, volumeName: v.volumeName, nsid: ns.nsid, devicePath: `/dev/disk/by-id/nvme-eui.${v.nguid}`, kernelName: ns.blockDevice, origin: v.origin }]
      : [];
  });
}

/** Volumes whose namespace is mounted or held on this host: unmapping them would pull a disk from under a user. */
export function inUse(volumes: readonly HeldVolume[], namespaces: Map<string, NamespaceUse>): string[] {
  return volumes.flatMap((v) => {
    const ns = namespaces.get(v.volumeId);
    const uses = ns ? usesOf(ns) : [];
    if (!ns || uses.length === 0) return [];
    return [printable(`volume ${v.volumeName} (/dev/${ns.blockDevice}) is ${uses.join(", ")}`)];
  });
}

/**
 * Poll until every volume's namespace is present (`present: true`) or gone, within `timeoutMs`. Returns
 * the last observation; throws with the volumes still waited for.
 */
export async function waitForNamespaces(
  read: () => Promise<FabricsController[]>,
  subsysnqn: string,
  volumes: readonly HeldVolume[],
  options: { readonly present: boolean; readonly timeoutMs: number; readonly pollMs?: number },
): Promise<Map<string, NamespaceUse>> {
  if (volumes.length === 0) return new Map(); // nothing to wait for: spare the scan of every controller
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const found = namespacesOf(await read(), subsysnqn, volumes);
    const waiting = volumes.filter((v) => found.has(v.volumeId) !== options.present);
    if (waiting.length === 0) return found;
    if (Date.now() >= deadline) {
      const names = printable(waiting.map((v) => `${v.volumeName} (NGUID ${v.nguid})`).join(", "));
      throw new Error(
        options.present
          ? `no namespace appeared on this host within ${options.timeoutMs / 1000} s for ${names}; check that the volume is mapped to this host's NQN and that the paths are live (\`nvme list-subsys\`)`
          : `the namespace of ${names} is still on this host ${options.timeoutMs / 1000} s after unmapping; the target may not have told the host yet (\`nvme ns-rescan\`)`,
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
}
