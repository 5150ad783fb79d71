import { strict as assert } from "node:assert";
import type { FileInfo } from "../../../provider/host/access/files";
import { unsafeStateEntry } from "../../../provider/host/ledger/safety";

/** Who may have written the state dir and the ledger: the rule, case by case (the store applies it). */
describe("unsafeStateEntry", () => {
  const info = (over: Partial<FileInfo>): FileInfo => ({ kind: "file", uid: 1000, mode: 0o600, actorUid: 1000, ...over });

  it("accepts ours or root's, writable by nobody else, and a missing entry", () => {
    assert.equal(unsafeStateEntry("ledger", "/s/ledger.json", info({})), undefined);
    assert.equal(unsafeStateEntry("ledger", "/s/ledger.json", info({ uid: 0, mode: 0o644 })), undefined);
    assert.equal(unsafeStateEntry("state dir", "/s", info({ kind: "directory", mode: 0o755 })), undefined);
    assert.equal(unsafeStateEntry("state dir", "/s", undefined), undefined);
  });

  it("refuses another owner, group or other write, links and other kinds, saying what to do", () => {
    const other = unsafeStateEntry("ledger", "/s/ledger.json", info({ uid: 65534, mode: 0o666 }));
    assert.match(other!.reason, /owned by uid 65534, not by root or uid 1000 .*; it is writable by its group and others \(mode 0666\)/);
    assert.equal(other!.fix, "If that is not expected, find out who changed it; then `chown 1000 /s/ledger.json && chmod 0600 /s/ledger.json`");
    assert.match(unsafeStateEntry("state dir", "/s", info({ kind: "directory", mode: 0o1777 }))!.reason, /writable by its group and others \(mode 1777\)/);
    assert.match(unsafeStateEntry("state dir", "/s", info({ kind: "directory", mode: 0o770 }))!.reason, /writable by its group \(mode 0770\)/);
    assert.match(unsafeStateEntry("ledger", "/s/l", info({ mode: 0o602 }))!.reason, /writable by others \(mode 0602\)/);
    assert.match(unsafeStateEntry("lock file", "/s/lock", info({ kind: "symlink" }))!.reason, /is a symbolic link/);
    assert.match(unsafeStateEntry("state dir", "/s", info({ kind: "file" }))!.reason, /is not a directory \(file\)/);
    assert.match(unsafeStateEntry("ledger", "/s/l", info({ kind: "fifo" }))!.reason, /is not a regular file \(fifo\)/);
  });
});
