import { strict as assert } from "node:assert";
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fingerprintOf, parseHostKey, parseKeyscan } from "../../../provider/host/access/ssh/host-key";
import { commandLine, shellQuote } from "../../../provider/host/access/ssh/quote";
import { checkInputs } from "../../../provider/pulumi/inputs";

describe("SSH host keys and remote quoting", () => {
  it("computes the fingerprint ssh-keygen prints, for a key line, a known_hosts line and the bare fingerprint", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-hk-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
      const pub = fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim();
      const expected = execFileSync("ssh-keygen", ["-lf", path.join(dir, "k.pub")], { encoding: "utf8" }).split(/\s+/)[1];
      const blob = pub.split(" ")[1];
      assert.equal(fingerprintOf(blob), expected);
      for (const text of [pub, `[db-1]:2222,10.0.0.5 ${pub}`, `db-1 ${pub.split(" ").slice(0, 2).join(" ")}`]) {
        const k = parseHostKey(text);
        assert.ok(typeof k !== "string" && k.kind === "key" && k.fingerprint === expected, text);
      }
      assert.deepEqual(parseHostKey(expected), { kind: "fingerprint", fingerprint: expected });
      assert.deepEqual(parseKeyscan(`# 127.0.0.1:22 SSH-2.0-OpenSSH_9.2\n127.0.0.1 ${pub.split(" ").slice(0, 2).join(" ")}\n`).map((k) => k.fingerprint), [expected]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses MD5 fingerprints, markers, a key whose data is another type, and anything else", () => {
    const rsaBlobAsEd = "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";
    for (const [text, why] of [
      ["16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", /MD5/],
      ["@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", /markers/],
      [rsaBlobAsEd, /not a ssh-ed25519 key/],
      ["yes", /known_hosts line/],
      ["ssh-ed25519 !!!", /base64/],
    ] as const) {
      const r = parseHostKey(text);
      assert.equal(typeof r, "string", text);
      assert.match(r as string, why);
    }
  });

  it("quotes any string so that sh reads back exactly that word", function () {
    this.timeout(30_000);
    const unit = fc.constantFrom("'", '"', "\\", "$", "`", " ", "\n", "\t", "*", "?", ";", "&", "|", "(", ")", "<", ">", "!", "~", "#", "=", "-", "{", "}", "a", "é", "中");
    fc.assert(
      fc.property(fc.array(fc.string({ unit }), { maxLength: 6 }), (words) => {
        const out = execFileSync("sh", ["-c", `printf '%s\\0' ${commandLine(words)}`], { encoding: "utf8" });
        assert.deepEqual(words.length === 0 ? [] : out.split("\u0000").slice(0, -1), words.length === 0 ? [] : words);
      }),
      { numRuns: 25 },
    );
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.throws(() => shellQuote("a\u0000b"), /NUL/);
  });

  it("validates hostAccess.ssh and names each field", () => {
    const { failures } = checkInputs({
      protectionDomain: "pd1",
      hostAccess: { ssh: { host: "a b", port: 0, user: "root;id", hostKey: "", agent: "yes", sudo: 1 } },
    });
    const by = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.deepEqual(Object.keys(by).sort(), ["hostAccess.ssh.agent", "hostAccess.ssh.host", "hostAccess.ssh.hostKey", "hostAccess.ssh.port", "hostAccess.ssh.sudo", "hostAccess.ssh.user"].sort());
    const ok = checkInputs({ protectionDomain: "pd1", hostAccess: { ssh: { host: "fd00::5", user: "deploy", agent: true, hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" } } });
    assert.deepEqual(ok.failures, []);
  });
});
