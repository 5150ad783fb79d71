import { ProviderCallError, ProviderHost, urnOf } from "./provider-host";

/**
 * A stand-in for the Pulumi engine's step logic over the real dynamic-provider host (no Pulumi CLI can be
 * installed here): state per resource, and the same provider calls `pulumi preview|up|refresh|destroy`
 * make — Check, then Diff against the stored outputs, then Create / Update / replace (create-before-delete,
 * or delete-before-replace when the provider asks) / Delete; Read for refresh (an empty id drops the
 * resource). Preview stops after Diff.
 */

type Props = Record<string, unknown>;

export interface StoredResource {
  readonly urn: string;
  readonly id: string;
  readonly inputs: Props;
  readonly outputs: Props;
}

export type StepOp = "create" | "update" | "replace" | "delete" | "same" | "refresh" | "gone";

export interface Step {
  readonly name: string;
  readonly op: StepOp;
  /** Properties the provider said force a replace. */
  readonly replaces?: readonly string[];
}

export class Stack {
  readonly resources = new Map<string, StoredResource>();

  constructor(readonly host: ProviderHost, private readonly provider: string) {}

  /** Inputs as the SDK sends them: the program's args plus the serialized provider. */
  private news(args: Props): Props {
    return { ...args, __provider: this.provider };
  }

  private async checked(urn: string, args: Props, olds: Props): Promise<Props> {
    const { inputs, failures } = await this.host.check(urn, olds, this.news(args));
    if (failures.length > 0) throw new Error(`check failed: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    return inputs;
  }

  /** What `up` would do for one resource; nothing is changed. */
  async previewOne(name: string, args: Props): Promise<Step> {
    const urn = urnOf(name);
    const prior = this.resources.get(urn);
    const inputs = await this.checked(urn, args, prior?.inputs ?? {});
    if (!prior) return { name, op: "create" };
    const d = await this.host.diff(urn, prior.id, prior.outputs, prior.inputs, inputs);
    return { name, op: d.changes === "none" ? "same" : d.replaces.length > 0 ? "replace" : "update", ...(d.replaces.length > 0 ? { replaces: d.replaces } : {}) };
  }

  /** What `up` would do for these resources (name -> args); nothing is changed. */
  async preview(program: Record<string, Props>): Promise<Step[]> {
    const steps: Step[] = [];
    for (const [name, args] of Object.entries(program)) steps.push(await this.previewOne(name, args));
    for (const r of this.resources.values()) if (!(nameOf(r.urn) in program)) steps.push({ name: nameOf(r.urn), op: "delete" });
    return steps;
  }

  /**
   * One resource the way `pulumi up` handles a registration: Check, then Create, or Diff and then
   * nothing / Update / replace. `replace: true` is `pulumi up --replace`; `deleteBeforeReplace: true` is the
   * resource option of that name.
   */
  async upOne(name: string, args: Props, options: { readonly replace?: boolean; readonly deleteBeforeReplace?: boolean } = {}): Promise<Step> {
    const urn = urnOf(name);
    const prior = this.resources.get(urn);
    const inputs = await this.checked(urn, args, prior?.inputs ?? {});
    if (!prior) {
      const { id, outputs } = await this.host.create(urn, inputs);
      this.resources.set(urn, { urn, id, inputs, outputs });
      return { name, op: "create" };
    }
    const diff = await this.host.diff(urn, prior.id, prior.outputs, prior.inputs, inputs);
    const forced = options.replace ? { ...diff, changes: "some", replaces: ["(--replace)"] } : diff;
    const d = { ...forced, deleteBeforeReplace: forced.deleteBeforeReplace || options.deleteBeforeReplace === true };
    if (d.changes === "none") return { name, op: "same" };
    if (d.replaces.length > 0) {
      if (d.deleteBeforeReplace) await this.host.delete(urn, prior.id, prior.outputs, prior.inputs);
      const { id, outputs } = await this.host.create(urn, inputs);
      this.resources.set(urn, { urn, id, inputs, outputs });
      if (!d.deleteBeforeReplace) await this.host.delete(urn, prior.id, prior.outputs, prior.inputs);
      return { name, op: "replace", replaces: d.replaces };
    }
    const outputs = await this.host.update(urn, prior.id, prior.outputs, prior.inputs, inputs);
    this.resources.set(urn, { urn, id: prior.id, inputs, outputs });
    return { name, op: "update" };
  }

  /** Delete what the program no longer declares (the end of `pulumi up`). */
  async deleteAllBut(names: readonly string[]): Promise<Step[]> {
    const steps: Step[] = [];
    for (const r of [...this.resources.values()]) {
      if (names.includes(nameOf(r.urn))) continue;
      await this.host.delete(r.urn, r.id, r.outputs, r.inputs);
      this.resources.delete(r.urn);
      steps.push({ name: nameOf(r.urn), op: "delete" });
    }
    return steps;
  }

  /** Make the stack match the program, the way `pulumi up` does. */
  async up(program: Record<string, Props>, options: { readonly replace?: readonly string[]; readonly deleteBeforeReplace?: readonly string[] } = {}): Promise<Step[]> {
    const steps: Step[] = [];
    for (const [name, args] of Object.entries(program)) {
      steps.push(await this.upOne(name, args, { replace: options.replace?.includes(name), deleteBeforeReplace: options.deleteBeforeReplace?.includes(name) }));
    }
    return [...steps, ...(await this.deleteAllBut(Object.keys(program)))];
  }

  /** `pulumi refresh`: Read each resource; an empty id means it is gone. */
  async refresh(): Promise<Step[]> {
    const steps: Step[] = [];
    for (const r of [...this.resources.values()]) {
      const got = await this.host.read(r.urn, r.id, r.outputs, r.inputs);
      if (!got.id) {
        this.resources.delete(r.urn);
        steps.push({ name: nameOf(r.urn), op: "gone" });
      } else {
        const inputs = Object.keys(got.inputs).length > 0 ? got.inputs : r.inputs;
        this.resources.set(r.urn, { urn: r.urn, id: got.id, inputs, outputs: got.outputs });
        steps.push({ name: nameOf(r.urn), op: "refresh" });
      }
    }
    return steps;
  }

  /** `pulumi destroy`. */
  async destroy(): Promise<Step[]> {
    return this.up({});
  }
}

function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

export { ProviderCallError };
