import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import type { z } from "zod";
import {
  Created,
  ErrorBody,
  Host,
  ManagerLogin,
  NvmeController,
  Sdt,
  StoragePool,
  System,
  Volume,
  parseApiVersion,
  parseBareString,
} from "../../../provider/powerflex";
import { fixturesDir } from "../../support/paths";

const referenceDir = fixturesDir("powerflex");

type Check = (text: string) => void;
const json =
  (schema: z.ZodType, extra?: (value: any) => void): Check =>
  (text) => {
    const value = schema.parse(JSON.parse(text));
    extra?.(value);
  };

// Every response body in the reference dir, mapped to the schema or parser the client uses for it.
const table: Record<string, Check> = {
  "auth_api_login_token_legacy__goscaleio_test.json": (t) => assert.equal(parseBareString(t), "012345678901234567890123456789"),
  "auth_api_login_token_legacy_unquoted__csi_powerflex_mock.txt": (t) =>
    assert.equal(parseBareString(t), "YWRtaW46MTU0MTU2MjIxOTI5MzpmODkxNDVhN2NkYzZkNGNkYjYxNGE0OGRkZGE3Zjk4MA"),
  "auth_api_version__goscaleio_test.json": (t) => assert.deepEqual(parseApiVersion(t), { major: 4, minor: 0, text: "4.0" }),
  "auth_rest_auth_login_empty_response_3x__goscaleio_test.json": json(ManagerLogin, (v) => assert.equal(v.access_token, undefined)),
  "auth_rest_auth_login_response__goscaleio_test.json": json(ManagerLogin, (v) => assert.equal(v.access_token, "mock_access_token")),
  "error_400_request_not_valid_sdc__goscaleio_test.json": json(ErrorBody),
  "error_400_user_not_found__goscaleio_test.json": json(ErrorBody, (v) => assert.equal(v.errorCode, 0)),
  "error_401_authorization_failure__csi_powerflex_mock.json": json(ErrorBody, (v) => assert.equal(v.httpStatusCode, 401)),
  "error_401_unauthorized__goscaleio_test.json": json(ErrorBody),
  "host_create_response__csi_powerflex_mock.json": json(Created),
  "host_create_response__goscaleio_test.json": json(Created, (v) => assert.equal(v.id, "4d2a628100010000")),
  "host_list_nvme__cinder.json": json(Host.array(), (v) => assert.ok(v.every((h: Host) => h.hostType === "NVMeHost" && h.nqn))),
  "nvme_controllers_of_host__goscaleio_test.json": json(NvmeController.array(), (v) =>
    assert.deepEqual([v[0].isConnected, v[0].isAssigned, v[0].sysPortId, v[0].sysPortIp, v[0].hostIp, v[0].subsystem], [true, true, 2, "10.0.0.22", null, "Io"]),
  ),
  "nvme_host_by_id__goscaleio_test.json": json(Host),
  "nvme_host_list_via_system_relationships_sdc__goscaleio_test.json": json(Host.array()),
  "sdc_by_id_5x__cinder.json": json(Host, (v) => assert.equal(v.hostType, "SdcHost")),
  "sdc_instances_5x__cinder.json": json(Host.array()),
  "sdc_instances__csi_powerflex_mock.json": json(Host.array()),
  "sdt_by_id__goscaleio_test.json": json(Sdt, (v) => assert.equal(v.nvmePort, 4420)),
  "sdt_list_4_5__cinder.json": json(Sdt.array(), (v) => assert.equal(v.length, 3)),
  "sdt_list__csi_powerflex_mock.json": json(Sdt.array()),
  "sdt_list__goscaleio_test.json": json(Sdt.array()),
  "storage_pool_instances__csi_powerflex_mock.json": json(StoragePool.array()),
  "system_instances_2x__csi_powerflex_mock.json": json(System.array(), (v) => assert.equal(v[0].systemNqn, undefined)),
  "system_instances_4x_with_systemNqn__cinder.json": json(System.array(), (v) =>
    assert.equal(v[0].systemNqn, "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f"),
  ),
  "system_instances_minimal__csi_powerflex_mock.json": json(System.array()),
  "volumes_of_sdc_with_mappedSdcInfo__cinder.json": json(Volume.array(), (v) => assert.equal(v[0].mappedSdcInfo[0].hostType, "SdcHost")),
  "volumes_of_vtree_unmapped__cinder.json": json(Volume.array(), (v) => assert.deepEqual(v[0].mappedSdcInfo, [])),
};

// Entries of the directory that are not response bodies.
const notResponses = new Set(["README.md", "requests"]);

describe("PowerFlex reference payloads parse with the client's schemas", () => {
  const present = fs.existsSync(referenceDir) ? fs.readdirSync(referenceDir) : [];

  it("finds the reference directory", () => assert.ok(present.length > 0, `no files in ${referenceDir}`));

  it("covers every file of the directory (a new file must be added to the table)", () => {
    const uncovered = present.filter((f) => !(f in table) && !notResponses.has(f));
    assert.deepEqual(uncovered, []);
    const missing = Object.keys(table).filter((f) => !present.includes(f));
    assert.deepEqual(missing, [], "table names files that no longer exist");
  });

  for (const [file, check] of Object.entries(table)) {
    it(file, () => check(fs.readFileSync(path.join(referenceDir, file), "utf8")));
  }

  it("old gateways' mappedSdcInfo null reads as []", () => {
    assert.deepEqual(Volume.parse({ id: "a", mappedSdcInfo: null }).mappedSdcInfo, []);
  });

  it("NvmeController: nulls as real payloads send them; a bad field is named", () => {
    const nulls = { id: "c", name: null, isConnected: null, isAssigned: null, sdtId: null, hostId: null, hostIp: null, controllerId: null, sysPortId: null, sysPortIp: null, subsystem: null };
    assert.equal(NvmeController.parse(nulls).isAssigned, null);
    assert.equal(NvmeController.parse({ id: "c", isAssigned: "false", isConnected: "True", sysPortId: "3" }).sysPortId, 3);
    const bad = NvmeController.array().safeParse([{ id: "c", isAssigned: "maybe" }]);
    assert.ok(!bad.success);
    assert.deepEqual(bad.error.issues[0]!.path, [0, "isAssigned"]);
  });

  it("numbers and booleans as strings", () => {
    const sdt = Sdt.parse({ id: "x", ipList: [], nvmePort: "4421", discoveryPort: " 8009 " });
    assert.equal(sdt.nvmePort, 4421);
    assert.equal(sdt.discoveryPort, 8009);
    assert.equal(NvmeController.parse({ id: "c", isConnected: "True" }).isConnected, true);
  });
});
