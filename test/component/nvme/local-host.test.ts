import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalHost, LockTimeoutError } from "../../../provider/host/access/local";

describe("LocalHost", () => {
  const host = new LocalHost();
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "localhost-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs argv without a shell and reports exit code and output", async () => {
    const r = await host.run(["sh", "-c", 'printf "%s" "$1"; echo oops >&2; exit 3', "sh", "a b;$(x)"]);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, "a b;$(x)");
    assert.equal(r.stderr, "oops\n");
    assert.equal(r.timedOut, false);
  });

  it("reports a missing executable as notFound and a slow one as timedOut", async () => {
    const missing = await host.run([path.join(dir, "no-such-binary")]);
    assert.equal(missing.notFound, true);
    assert.equal(missing.exitCode, -1);
    const slow = await host.run(["sleep", "10"], { timeoutMs: 150 });
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, -1);
  });

  it("reads files, directories and links, undefined when missing", async () => {
    await host.writeFileAtomic(path.join(dir, "a", "b", "f.txt"), "hello\n");
    assert.equal(await host.readFile(path.join(dir, "a", "b", "f.txt")), "hello\n");
    assert.deepEqual(await host.readDir(path.join(dir, "a")), ["b"]);
    assert.equal(await host.readFile(path.join(dir, "nope")), undefined);
    assert.equal(await host.readDir(path.join(dir, "nope")), undefined);
    assert.equal(await host.readLink(path.join(dir, "nope")), undefined);
    assert.equal(await host.readLink(path.join(dir, "a", "b", "f.txt")), undefined);
    await host.writeFileAtomic(path.join(dir, "a", "b", "f.txt"), "again");
    assert.equal(readFileSync(path.join(dir, "a", "b", "f.txt"), "utf8"), "again");
    assert.deepEqual(await host.readDir(path.join(dir, "a", "b")), ["f.txt"], "no temp file left behind");
  });

  it("lock: two holders exclude each other; release lets the next one in", async () => {
    const file = path.join(dir, "run", "x.lock");
    const unlock = await host.lock(file);
    assert.ok(existsSync(file));
    await assert.rejects(host.lock(file, { timeoutMs: 200 }), (err: unknown) => {
      assert.ok(err instanceof LockTimeoutError);
      assert.match((err as Error).message, /x\.lock/);
      return true;
    });
    let second = false;
    const pending = host.lock(file).then((u) => {
      second = true;
      return u;
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(second, false, "second holder must wait");
    await unlock();
    await unlock(); // idempotent
    const unlock2 = await pending;
    assert.equal(second, true);
    await unlock2();
  });

  it("lock: SIGKILL of the holding process frees the lock", async () => {
    const file = path.join(dir, "k.lock");
    const modulePath = require.resolve("../../../provider/host/access/local");
    const script = `const { LocalHost } = require(${JSON.stringify(modulePath)});
      new LocalHost().lock(${JSON.stringify(file)}).then(() => { process.stdout.write("held\\n"); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
      child.on("exit", () => reject(new Error("holder exited early")));
    });
    await assert.rejects(host.lock(file, { timeoutMs: 200 }), LockTimeoutError);
    child.kill("SIGKILL");
    const unlock = await host.lock(file, { timeoutMs: 5000 });
    await unlock();
  });
});
