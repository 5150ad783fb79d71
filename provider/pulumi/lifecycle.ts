import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { attachmentHost, settingsFor, type AttachmentHost } from "../host/attachment-host";
import { gatewayFor, type Gateway, type StackConfig } from "../powerflex/gateway";
import type { HostSettings } from "../host/access/access";
import { sameMachine } from "../host/access/ssh/target";
import { AttachError } from "../host/engine";
import { checkInputs, INPUT_KEYS, normalised, UNKNOWN, type Inputs } from "./inputs";
import { DEFAULT_PATH_SOURCE } from "../powerflex/discovery-plan";
import { describePath, identityKey, type PathIdentity } from "../host/nvme/identity";
import { optionDrift, type ConnectInputs } from "../host/nvme/connect-options";
import { identityOf, loadState, SCHEMA_VERSION, type State, type StatePath } from "./state";
import { planTargets, type PlannedTargets, type TargetOptions } from "../powerflex/targets";
import { printable } from "../printable";
import { arrayViewWarnings, compareWithArray } from "../powerflex/array-view";
import { devicesOf, inUse, mapVolumes, namespacesOf, toUnmap, unmapVolumes, volumeOfHold, waitForNamespaces, withHeld, type HeldVolume, type VolumeSpec } from "../powerflex/volumes";
import { uniquePaths, type Holdings } from "../host/ledger/ended";

/**
 * The ResourceProvider behind PowerFlexNvmeAttachment: orchestration only. Deciding is in plan.ts and
 * targets.ts, acting in the engine and the REST client. The owner id the engine records is the resource id.
 */

type Props = Record<string, any>;

/** Stack config from `configure` (the engine sends the whole stack config to dynamic providers). */
let stackConfig: StackConfig = {};

/** The input properties out of a property bag (outputs echo them); `__provider` and outputs left out. */
function inputsOf(props: Props): Props {
  const out: Props = {};
  for (const k of INPUT_KEYS) if (props[k] !== undefined && props[k] !== null) out[k] = props[k];
  return out;
}

function validated(news: Props): Inputs {
  const { inputs, failures } = checkInputs(news);
  if (failures.length > 0) throw new Error(`invalid inputs: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
  if (!inputs) throw new Error("some inputs are not known yet; nothing can be attached with them");
  return inputs;
}

/** Inputs as stored with an existing resource (validated when it was made; normalised here, as older versions did not). */
function storedInputs(props: Props): Inputs {
  return normalised(inputsOf(props) as Inputs);
}

function gateway(inputs: Pick<Inputs, "gateway">, host: AttachmentHost) {
  return gatewayFor(inputs, stackConfig, { warn: (m) => host.log(`warning: ${m}`) });
}

/** `nvme discover` on the attachment's host: a read (on Linux a short-lived discovery controller), never a connect. */
function discoverOn(host: AttachmentHost): NonNullable<TargetOptions["discover"]> {
  return (traddr, port, hostnqn, hostid) => host.cli.discover(traddr, port, hostnqn, hostid);
}

/** Say what the path planning wants the user to know (why no plan was followed, log entries left out). */
function logWarnings(host: AttachmentHost, targets: PlannedTargets): void {
  for (const w of targets.warnings) host.log(`warning: ${printable(w)}`);
}

/** Release paths and tell the user about every controller of ours that was already gone. */
async function releasePaths(host: AttachmentHost, owner: string, paths: readonly PathIdentity[], options: { readonly force: boolean }): Promise<void> {
  const result = await host.engine.release(owner, paths, options);
  for (const w of result.warnings) host.log(`warning: ${w}`);
}

/** Attach the planned paths and describe what we hold, in plan order. */
async function attach(owner: string, inputs: Inputs, host: AttachmentHost, targets: PlannedTargets): Promise<StatePath[]> {
  const result = await host.engine.attach(owner, targets.paths.map((p) => p.identity), {
    connect: inputs.connect ?? {},
    ...(inputs.minPaths !== undefined ? { minPaths: inputs.minPaths } : {}),
  });
  for (const f of result.failures) host.log(`warning: ${describePath(f.identity)} is not connected: ${f.message}`);
  for (const p of result.paths.filter((x) => x.state === "connecting")) {
    host.log(`warning: ${describePath(p.identity)} (${p.device}) is still connecting: the kernel keeps retrying until ctrl-loss-tmo; \`pulumi refresh\` shows when it is live`);
  }
  const held = new Map(result.paths.map((p) => [identityKey(p.identity), p]));
  return targets.paths.flatMap((p): StatePath[] => {
    const h = held.get(identityKey(p.identity));
    if (!h) return [];
    const id = h.identity;
    return [{
      sdtId: p.sdtId,
      sdtName: p.sdtName,
      transport: "tcp",
      traddr: id.traddr,
      trsvcid: id.trsvcid,
      subsysnqn: id.subsysnqn,
      hostnqn: id.hostnqn,
      hostid: id.hostid,
      hostTraddr: id.hostTraddr ?? null,
      hostIface: id.hostIface ?? null,
      device: h.device,
      cntlid: h.cntlid ?? null,
      origin: h.origin,
      state: h.state,
    }];
  });
}

/** Say so when a path of ours shows options other than those it was connected with (refresh). */
function warnDrift(host: AttachmentHost, id: PathIdentity, device: string | undefined, wanted: ConnectInputs, shown: Readonly<Record<string, string>>): void {
  for (const d of optionDrift(wanted, shown)) {
    host.log(
      `warning: ${describePath(id)} (${device}) shows ${d.attribute} ${d.live}, but it was connected with ${d.wanted} (connect.${d.option}); ` +
        `something changed it on the host. \`pulumi up\` does not reconnect for this: write ${d.wanted} back to /sys/class/nvme/${device}/${d.attribute} (kato is read-only), or replace the attachment`,
    );
  }
}

/**
 * Refresh: say when PowerFlex now plans other paths than the ones we hold (the load balancer recalculated:
 * an SDT added or removed, a network changed). Refresh changes no path; `pulumi up` moves to the plan.
 */
async function warnPlanMoved(host: AttachmentHost, inputs: Inputs, state: State, held: readonly StatePath[], mappedVolumes: number): Promise<void> {
  let targets: PlannedTargets;
  try {
    targets = await planTargets(gateway(inputs, host).client, inputs, { hostnqn: state.hostNqn, hostid: state.hostId }, {
      knownSubsystemNqn: state.subsystemNqn,
      discover: discoverOn(host),
      mappedVolumes: () => mappedVolumes,
    });
  } catch (err) {
    host.log(`warning: could not compare the paths held with PowerFlex's plan: ${printable((err as Error).message)}`);
    return;
  }
  logWarnings(host, targets);
  if (targets.noPlan?.unread) return; // said why; comparing with the fallback would name paths the plan may not
  const have = new Set(held.map((p) => identityKey(identityOf(p))));
  const want = new Set(targets.paths.map((p) => identityKey(p.identity)));
  const toConnect = targets.paths.filter((p) => !have.has(identityKey(p.identity))).map((p) => describePath(p.identity));
  const toDrop = held.filter((p) => !want.has(identityKey(identityOf(p)))).map((p) => describePath(identityOf(p)));
  if (toConnect.length === 0 && toDrop.length === 0) return;
  host.log(
    `warning: the paths ${targets.source === "plan" ? "PowerFlex plans for this host" : "to connect"} differ from the ones held: ` +
      `to connect ${toConnect.join(", ") || "none"}; to drop ${toDrop.join(", ") || "none"}. ` +
      "`pulumi up` moves to them, connecting the new paths before it releases the old",
  );
}

/**
 * Refresh: what PowerFlex thinks of the paths we hold (its NvmeController list for our host object, the
 * host's maxNumSysPorts). It informs and never decides: a read that fails is a warning, and 3.x (no
 * NVMe/TCP) is not asked.
 */
async function warnArrayView(host: AttachmentHost, inputs: Inputs, state: State, held: readonly StatePath[]): Promise<void> {
  const hostObjectId = state.hostObjectId;
  if (!hostObjectId) return;
  let view;
  try {
    const client = gateway(inputs, host).client;
    if (Number((await client.version()).split(".")[0]) < 4) return;
    const [controllers, hosts, sdts] = await Promise.all([
      client.listNvmeControllersOfHost(hostObjectId),
      client.listNvmeHosts(),
      client.listSdts(state.protectionDomainId),
    ]);
    const maxNumSysPorts = hosts.find((h) => h.id === hostObjectId)?.maxNumSysPorts ?? null;
    view = compareWithArray(held, controllers, { sdtIds: new Set(sdts.map((t) => t.id)), maxNumSysPorts });
  } catch (err) {
    host.log(`warning: could not read PowerFlex's view of this host's connections (NvmeController): ${printable((err as Error).message)}; refresh goes on without it`);
    return;
  }
  for (const w of arrayViewWarnings(view, (p) => describePath(identityOf(p)))) host.log(`warning: ${printable(w)}`);
}

/** How long a namespace may take to appear after a mapping (or to go after an unmap). */
const DEVICE_TIMEOUT_MS = 60_000;

/** Volumes to keep, map and unmap: by the `volume` input and access mode (a new mode is an unmap + map). */
function volumeChanges(held: readonly HeldVolume[], wanted: readonly VolumeSpec[]): { keep: HeldVolume[]; add: VolumeSpec[]; drop: HeldVolume[] } {
  const same = (h: HeldVolume, w: VolumeSpec) => h.spec === w.volume && h.accessMode === (w.accessMode ?? "ReadWrite");
  return {
    keep: held.filter((h) => wanted.some((w) => same(h, w))),
    add: wanted.filter((w) => !held.some((h) => same(h, w))),
    drop: held.filter((h) => !wanted.some((w) => same(h, w))),
  };
}

/** The NVMe host object for `hostNqn`, registered if asked and absent; the ledger remembers one we registered. */
async function ensureHostObject(gw: Gateway, inputs: Inputs, host: AttachmentHost, hostNqn: string) {
  const r = await gw.ensureHost(inputs, hostNqn);
  if (r.registered) await host.engine.markRegisteredHost(r.id, hostNqn, true);
  return r;
}

/**
 * Remove a host object an attachment on this host registered, once no attachment here uses its NQN (the
 * ledger remembers who registered it, so the last user removes it even when another one registered it).
 */
async function releaseHostObject(host: AttachmentHost, gw: () => Gateway, hostObjectId: string, hostNqn: string): Promise<void> {
  const others = await host.engine.ownersOfHostNqn(hostNqn);
  if (others.length > 0) {
    host.log(`kept the NVMe host object ${hostObjectId} we registered: ${others.length} other attachment(s) on this host still use ${hostNqn}`);
    return;
  }
  await gw().removeRegisteredHost(hostObjectId, host.log);
  await host.engine.markRegisteredHost(hostObjectId, hostNqn, false);
}

/**
 * Same paths on the same machine: another way in to it (user, host key, sudo) is no new attachment, and
 * neither is another `stateDir` (where the host's one ledger is; the store refuses a second one).
 */
function sameHost(a: HostSettings, b: HostSettings): boolean {
  const { ssh: sa, stateDir: _a, ...pa } = a;
  const { ssh: sb, stateDir: _b, ...pb } = b;
  return isDeepStrictEqual(pa, pb) && sameMachine(sa, sb);
}

/** Changes of inputs that make another attachment (another identity on the host or another array). */
function identityReplaces(news: Props): string[] {
  return ["system", "host", "hostAccess"].filter((k) => JSON.stringify(news[k] ?? null).includes(UNKNOWN));
}

/**
 * Refresh found the whole attachment gone: the ledger drops all it held, so no later attachment's release
 * counts on it. Refresh changes nothing in PowerFlex, so a mapping or host object it leaves is named, with
 * what to do.
 */
async function forgetAttachment(host: AttachmentHost, id: string, state: State): Promise<void> {
  const dropped = await host.engine.forgetOwner(id, state.hostObjectId ?? undefined);
  for (const hold of dropped.volumes.filter((h) => h.left)) {
    const volumeId = state.hostObjectId ? volumeOfHold(hold.key, state.hostObjectId) : undefined;
    if (volumeId === undefined) continue;
    const name = state.mappedVolumes.find((v) => v.volumeId === volumeId)?.volumeName ?? volumeId;
    host.log(
      `warning: volume ${name} stays mapped to the NVMe host object ${state.hostObjectId} in PowerFlex: refresh changes nothing there, ` +
        `and no attachment on this host holds it any more. If nothing uses it, unmap it in PowerFlex; or declare an attachment with ` +
        `this volume again: it adopts the mapping (and, not having made it, never unmaps it)`,
    );
  }
  if (dropped.host && state.hostRegistered) {
    host.log(
      `warning: the NVMe host object ${state.hostObjectId} this attachment registered stays in PowerFlex: refresh changes nothing there. ` +
        `Remove it in PowerFlex once nothing is mapped to it; an attachment declared again with this host finds and uses it (and never removes it)`,
    );
  }
}

/** Let go of all an ended attachment holds: volumes (the state's and the ledger's), paths, its host object. */
async function destroy(host: AttachmentHost, id: string, state: State, inputs: Inputs, holding: Holdings): Promise<void> {
  const force = inputs.force ?? false;
  const held = state.hostObjectId ? withHeld(state.mappedVolumes, holding.volumes, state.hostObjectId, state.systemId) : [];
  if (held.length > 0 && state.hostObjectId) {
    if (!force) {
      const going = await toUnmap(host.engine, id, state.hostObjectId, held);
      const busy = inUse(going, namespacesOf(await host.controllers(), state.subsystemNqn, going));
      if (busy.length > 0) throw new Error(`refusing to unmap: ${busy.join("; ")}. Unmount it first, or set force: true. Nothing was changed.`);
    }
    const unmapped = await unmapVolumes(gateway(inputs, host).client, host.engine, id, state.hostObjectId, held);
    await waitForNamespaces(() => host.controllers(), state.subsystemNqn, unmapped, { present: false, timeoutMs: DEVICE_TIMEOUT_MS });
  }
  await releasePaths(host, id, uniquePaths([...state.paths.map(identityOf), ...holding.paths]), { force });
  if (!state.hostObjectId) return;
  if (!state.hostRegistered && !(await host.engine.registeredHost(state.hostObjectId))) return; // PowerFlex's, not ours
  try {
    await releaseHostObject(host, () => gateway(inputs, host), state.hostObjectId, state.hostNqn);
  } catch (err) {
    // The host side is done and recorded; only the gateway's part is left, and a retry does just that.
    throw new Error(
      `the paths of this attachment were released, but the NVMe host object ${state.hostObjectId} we registered ` +
        `could not be removed: ${(err as Error).message}. Run the destroy again once the gateway answers.`,
    );
  }
}

export const provider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    const get = (k: string) => req.config.get(`powerflex:${k}`);
    stackConfig = {
      endpoint: get("endpoint"),
      username: get("username"),
      password: get("password"),
      insecure: get("insecure"),
      caCert: get("caCert"),
      authFlow: get("authFlow"),
    };
  },

  async check(_olds, news) {
    const { inputs, failures } = checkInputs(news);
    // Unknown values (preview) go back as they came; known ones in canonical form.
    return { inputs: inputs ?? inputsOf(news), failures };
  },

  async diff(_id, olds, news) {
    const state = loadState(olds);
    const { inputs, failures, hasUnknowns } = checkInputs(news);
    if (failures.length > 0) return { changes: true };
    if (!inputs || hasUnknowns) {
      // Not known yet: "maybe", and a replace where the identity may move.
      return { changes: true, replaces: identityReplaces(news), deleteBeforeReplace: false };
    }
    const host = attachmentHost(inputs);
    const replaces: string[] = [];
    let identity = { hostnqn: state.hostNqn, hostid: state.hostId };
    try {
      identity = await host.identity(inputs, identity);
    } catch {
      // Preview on a machine without /etc/nvme: the inputs did not name another identity, keep the stored one.
    }
    if (identity.hostnqn !== state.hostNqn || identity.hostid !== state.hostId) replaces.push("host");
    if (!sameHost(settingsFor(inputs), state.hostSettings)) replaces.push("hostAccess");
    const v = volumeChanges(state.mappedVolumes, inputs.volumes ?? []);
    let targets: PlannedTargets;
    try {
      // Reading the plan connects nothing. Only volumes that stay mapped count: preview maps nothing.
      targets = await planTargets(gateway(inputs, host).client, inputs, identity, {
        knownSubsystemNqn: state.subsystemNqn,
        discover: discoverOn(host),
        mappedVolumes: () => v.keep.length,
      });
    } catch (err) {
      throw new Error(
        `cannot compare with PowerFlex: ${(err as Error).message}. Preview asks the gateway whether SDTs were added ` +
          `or removed; it will not guess "no change".`,
      );
    }
    logWarnings(host, targets);
    if (targets.systemId !== state.systemId || targets.subsystemNqn !== state.subsystemNqn) replaces.push("system");
    const want = targets.paths.map((p) => identityKey(p.identity)).sort();
    const have = state.paths.map((p) => identityKey(identityOf(p))).sort();
    const pathsChanged = !isDeepStrictEqual(want, have);
    const inputsChanged = !isDeepStrictEqual(storedInputs(olds), inputsOf(inputs));
    // A plan we could not read may have moved: show an update (up reads it again) rather than guess "no change".
    const planUnread = targets.noPlan?.unread === true;
    if (planUnread) {
      host.log(
        `warning: preview could not read PowerFlex's plan for this host (${printable(targets.noPlan!.reason)}), so it shows an update rather than guess "no change"; ` +
          "`pulumi up` reads the plan again, and changes nothing if it has not moved (pathSource \"all-sdts\" connects every SDT address without discovery)",
      );
    }
    const volumesChanged = v.add.length > 0 || v.drop.length > 0;
    // A volume maps to one host object at a time: with a new identity, the old attachment must unmap first.
    const moveVolumes = replaces.length > 0 && (state.mappedVolumes.length > 0 || (inputs.volumes?.length ?? 0) > 0);
    return {
      changes: replaces.length > 0 || pathsChanged || inputsChanged || volumesChanged || planUnread,
      replaces,
      deleteBeforeReplace: moveVolumes,
    };
  },

  async create(news) {
    const inputs = validated(news);
    const owner = `pfnvme-${randomUUID()}`;
    const host = attachmentHost(inputs);
    const identity = await host.identity(inputs);
    const gw = gateway(inputs, host);
    let registration: { id: string; registered: boolean } | undefined;
    let volumes: HeldVolume[] = [];
    let paths: StatePath[] = [];
    let targets: PlannedTargets | undefined;
    try {
      targets = await planTargets(gw.client, inputs, identity, {
        discover: discoverOn(host),
        beforeDiscovery: async (systemId) => {
          registration = await ensureHostObject(gw, inputs, host, identity.hostnqn);
          volumes = await mapVolumes(gw.client, host.engine, owner, registration.id, systemId, inputs.volumes ?? []);
        },
        mappedVolumes: () => volumes.length,
      });
      logWarnings(host, targets);
      paths = await attach(owner, inputs, host, targets);
      const found = await waitForNamespaces(() => host.controllers(), targets.subsystemNqn, volumes, { present: true, timeoutMs: DEVICE_TIMEOUT_MS });
      const state: State = {
        schemaVersion: SCHEMA_VERSION,
        endpoint: gw.endpoint,
        systemId: targets.systemId,
        protectionDomainId: targets.protectionDomainId,
        subsystemNqn: targets.subsystemNqn,
        hostNqn: identity.hostnqn,
        hostId: identity.hostid,
        hostObjectId: registration!.id,
        hostRegistered: registration!.registered,
        hostSettings: host.settings,
        paths,
        mappedVolumes: volumes,
        devices: devicesOf(volumes, found),
      };
      return { id: owner, outs: { ...inputs, ...state } };
    } catch (err) {
      // All or nothing: undo what this create did, newest first; say what could not be undone.
      const undo = async (what: string, fn: () => Promise<unknown>) =>
        fn().catch((e: Error) => host.log(`warning: could not undo ${what}: ${e.message}`));
      if (paths.length > 0) await undo("the paths connected", () => releasePaths(host, owner, paths.map(identityOf), { force: false }));
      // Attach broke off (e.g. the SSH connection dropped mid-connect): the ledger's intents say which
      // controllers came up for this owner; releasing every planned path lets go of exactly those.
      else if (targets && !(err instanceof AttachError)) await undo("the paths connected", () => releasePaths(host, owner, targets!.paths.map((p) => p.identity), { force: false }));
      if (volumes.length > 0 && registration) await undo("the volume mappings made", () => unmapVolumes(gw.client, host.engine, owner, registration!.id, volumes));
      if (registration?.registered) await undo(`the NVMe host object ${registration.id} registered`, () => releaseHostObject(host, () => gw, registration!.id, identity.hostnqn));
      throw err;
    }
  },

  async read(id, props) {
    const state = loadState(props ?? {});
    const inputs = storedInputs(props ?? {});
    const host = attachmentHost(inputs, state.hostSettings);
    const seen = await host.engine.observe(id, state.paths.map(identityOf));
    const paths: StatePath[] = [];
    state.paths.forEach((p, i) => {
      const o = seen[i];
      if (o.state === "missing" || !o.held) {
        const why = o.lookAlikes
          ? `: our controller is gone, and ${o.lookAlikes.join(", ")} has the same path but was made by someone else (not ours; never cut by us)`
          : "";
        host.log(`${describePath(identityOf(p))} is gone from this host${why}; the next \`pulumi up\` connects it again`);
      } else {
        paths.push({ ...p, state: o.state, device: o.device ?? p.device, cntlid: o.cntlid ?? p.cntlid });
        // Only what our connect made carries our options; an adopted controller keeps its maker's.
        if (p.origin === "created") warnDrift(host, identityOf(p), o.device, inputs.connect ?? {}, o.options ?? {});
      }
    });
    // What the state drops, the ledger drops too: else its owner holds it forever (a ghost).
    if (paths.length === 0) {
      await forgetAttachment(host, id, state); // nothing of ours is left: the resource is gone
      return {};
    }
    const missing = state.paths.filter((_, i) => seen[i].state === "missing" && seen[i].held).map(identityOf);
    if (missing.length > 0) await host.engine.forgetMissing(id, missing);
    let volumes = state.mappedVolumes;
    if (volumes.length > 0 && state.hostObjectId) {
      // A mapping removed behind our back is drift: drop it, so the next `up` maps it again.
      const mapped = new Set((await gateway(inputs, host).client.listVolumesOfHost(state.hostObjectId)).map((v) => v.id));
      for (const v of volumes) if (!mapped.has(v.volumeId)) host.log(`volume ${v.volumeName} is no longer mapped to this host; the next \`pulumi up\` maps it again`);
      volumes = volumes.filter((v) => mapped.has(v.volumeId));
    }
    const devices = devicesOf(volumes, namespacesOf(await host.controllers(), state.subsystemNqn, volumes));
    for (const v of volumes) if (!devices.some((d) => d.volumeId === v.volumeId)) host.log(`the device of volume ${v.volumeName} has vanished from this host`);
    if ((inputs.pathSource ?? DEFAULT_PATH_SOURCE) === "plan" && volumes.length > 0) await warnPlanMoved(host, inputs, state, paths, volumes.length);
    // PowerFlex plans ports only for a host with mapped volumes: without one, every path would read "not assigned".
    if (volumes.length > 0) await warnArrayView(host, inputs, state, paths);
    return { id, props: { ...props, paths, mappedVolumes: volumes, devices, schemaVersion: SCHEMA_VERSION }, inputs };
  },

  async update(id, olds, news) {
    const state = loadState(olds);
    const inputs = validated(news);
    const host = attachmentHost(inputs, state.hostSettings);
    await host.engine.refuseEnded(id); // a stale update after this attachment's destroy: before any PowerFlex call
    const identity = { hostnqn: state.hostNqn, hostid: state.hostId };
    const gw = gateway(inputs, host);
    const force = inputs.force ?? false;
    const { keep, add, drop } = volumeChanges(state.mappedVolumes, inputs.volumes ?? []);
    if (drop.length > 0 && !force && state.hostObjectId) {
      const going = await toUnmap(host.engine, id, state.hostObjectId, drop);
      const busy = inUse(going, namespacesOf(await host.controllers(), state.subsystemNqn, going));
      if (busy.length > 0) throw new Error(`refusing to unmap: ${busy.join("; ")}. Unmount it first, or set force: true. Nothing was changed.`);
    }
    let hostObjectId = state.hostObjectId;
    let added: HeldVolume[] = [];
    const targets = await planTargets(gw.client, inputs, identity, {
      knownSubsystemNqn: state.subsystemNqn,
      discover: discoverOn(host),
      beforeDiscovery: async (systemId) => {
        if (add.length === 0) return;
        hostObjectId ??= (await ensureHostObject(gw, inputs, host, identity.hostnqn)).id;
        added = await mapVolumes(gw.client, host.engine, id, hostObjectId, systemId, add);
      },
      mappedVolumes: () => keep.length + added.length,
    });
    logWarnings(host, targets);
    const wanted = new Set(targets.paths.map((p) => identityKey(p.identity)));
    if (!isDeepStrictEqual(storedInputs(olds).connect ?? {}, inputs.connect ?? {})) {
      // Options apply to new controllers only: cycle the ones we made, one at a time, so the others carry I/O.
      for (const p of state.paths.filter((x) => x.origin === "created" && wanted.has(identityKey(identityOf(x))))) {
        await releasePaths(host, id, [identityOf(p)], { force });
        await host.engine.attach(id, [identityOf(p)], { connect: inputs.connect ?? {} });
      }
    }
    // Connect what is new first, then let go of what is no longer wanted: no moment with fewer paths.
    const paths = await attach(id, inputs, host, targets);
    if (drop.length > 0 && hostObjectId) {
      const unmapped = await unmapVolumes(gw.client, host.engine, id, hostObjectId, drop);
      await waitForNamespaces(() => host.controllers(), state.subsystemNqn, unmapped, { present: false, timeoutMs: DEVICE_TIMEOUT_MS });
    }
    const removed = state.paths.map(identityOf).filter((p) => !wanted.has(identityKey(p)));
    if (removed.length > 0) await releasePaths(host, id, removed, { force });
    const volumes = [...keep, ...added];
    const found = await waitForNamespaces(() => host.controllers(), state.subsystemNqn, volumes, { present: true, timeoutMs: DEVICE_TIMEOUT_MS });
    const next: State = {
      ...state,
      hostSettings: host.settings, // the way in may have changed (user, host key), never the machine
      systemId: targets.systemId,
      protectionDomainId: targets.protectionDomainId,
      hostObjectId,
      paths,
      mappedVolumes: volumes,
      devices: devicesOf(volumes, found),
    };
    return { outs: { ...inputs, ...next } };
  },

  async delete(id, props) {
    const state = loadState(props);
    const inputs = storedInputs(props);
    const host = attachmentHost(inputs, state.hostSettings);
    // From here nothing is held for this attachment again (a stale update after this destroy is refused),
    // and it lets go of all the ledger holds for it: also what an update racing with it added meanwhile.
    const ending = await host.engine.end(id);
    try {
      await destroy(host, id, state, inputs, ending);
    } catch (err) {
      // Pulumi keeps a resource whose delete failed: it lives on, and may hold again (an update setting force).
      if (!ending.endedBefore) await host.engine.reopen(id).catch((e: Error) => host.log(`warning: ${e.message}`));
      throw err;
    }
  },
};
