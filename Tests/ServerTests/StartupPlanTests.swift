import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Server

@Suite("Startup validation")
struct StartupPlanTests {
    /// A fresh temporary directory holding `files`; removed by the caller via `cleanUp`.
    static func temporaryDirectory(files: [String: String]) throws -> String {
        var template = Array("/tmp/mystore-test-XXXXXX".utf8CString)
        let path = try #require(mkdtemp(&template).map { String(cString: $0) })
        for (name, text) in files {
            let file = try #require(fopen(path + "/" + name, "w"))
            fputs(text, file)
            fclose(file)
        }
        return path
    }

    static func cleanUp(_ path: String) {
        _ = system("rm -rf '\(path)'")
    }

    @Test func validSetup() throws {
        let dir = try Self.temporaryDirectory(files: ["m": "# nodes\n127.0.0.1:7001\n127.0.0.1:7002\n127.0.0.1:7003\n"])
        defer { Self.cleanUp(dir) }
        let plan = try StartupPlan.make(selfAddress: "127.0.0.1:7002", membershipPath: dir + "/m", configPath: nil,
                                        dataDirectoryFlag: nil, overrides: [], environment: [:])
        #expect(plan.dataDirectory == "data/127.0.0.1_7002")
        #expect(plan.shardMap.shards.count == 16)
        try LocalFiles.prepareDirectory(dir + "/a/b/c", what: "data directory")
        #expect(LocalFiles.exists(dir + "/a/b/c"))
    }

    /// A node named in the membership is that name; it listens on the name's address unless
    /// `bind` says otherwise, and advertises the name either way.
    @Test func namedNodeListensOnBindAndKeepsItsName() throws {
        let dir = try Self.temporaryDirectory(files: ["m": "node-a:7001\n[::1]:7002\nnode-c.example:7003\n"])
        defer { Self.cleanUp(dir) }
        let named = try StartupPlan.make(selfAddress: "node-a:7001", membershipPath: dir + "/m", configPath: nil,
                                         dataDirectoryFlag: nil, overrides: [], environment: [:])
        #expect(named.selfAddress.host == "node-a")
        #expect(named.listenHost == "node-a")
        #expect(named.dataDirectory == "data/node-a_7001")
        let bound = try StartupPlan.make(selfAddress: "node-c.example:7003", membershipPath: dir + "/m", configPath: nil,
                                         dataDirectoryFlag: nil, overrides: [], environment: ["MYSTORE_BIND": "0.0.0.0"])
        #expect(bound.listenHost == "0.0.0.0")
        #expect(bound.selfAddress.description == "node-c.example:7003")
        let v6 = try StartupPlan.make(selfAddress: "[::1]:7002", membershipPath: dir + "/m", configPath: nil,
                                      dataDirectoryFlag: nil, overrides: [], environment: [:])
        #expect(v6.listenHost == "::1")
        // The name as written is the identity: its address is not another spelling of it.
        #expect(throws: StartupError.self) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/m", configPath: nil,
                                 dataDirectoryFlag: nil, overrides: [], environment: [:])
        }
    }

    @Test func selfMustBeAMember() throws {
        let dir = try Self.temporaryDirectory(files: ["m": "127.0.0.1:7001\n"])
        defer { Self.cleanUp(dir) }
        #expect(throws: StartupError("--self 127.0.0.1:7009 is not listed in \(dir)/m (members: 127.0.0.1:7001; "
                                     + "a node is its membership line as written: give --self that line, name or address, not what it resolves to)")) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7009", membershipPath: dir + "/m", configPath: nil,
                                 dataDirectoryFlag: nil, overrides: ["replication_factor=1"], environment: [:])
        }
    }

    @Test func membershipErrorsNameFileAndLine() throws {
        let dir = try Self.temporaryDirectory(files: ["m": "127.0.0.1:7001\n\n127.0.0.1:abc\n"])
        defer { Self.cleanUp(dir) }
        #expect(throws: StartupError(#"\#(dir)/m:3: "127.0.0.1:abc" is not host:port (host: an IPv4 address, an IPv6 address in brackets as in [::1]:7001, or a DNS name; port: 1-65535)"#)) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/m", configPath: nil,
                                 dataDirectoryFlag: nil, overrides: [], environment: [:])
        }
    }

    @Test func missingFilesAndImpossibleShapes() throws {
        let dir = try Self.temporaryDirectory(files: ["m": "127.0.0.1:7001\n"])
        defer { Self.cleanUp(dir) }
        #expect(throws: StartupError("cannot read membership file '\(dir)/none': No such file or directory")) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/none", configPath: nil,
                                 dataDirectoryFlag: nil, overrides: [], environment: [:])
        }
        #expect(throws: StartupError("cannot read config file '\(dir)/none.conf': No such file or directory")) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/m", configPath: dir + "/none.conf",
                                 dataDirectoryFlag: nil, overrides: [], environment: [:])
        }
        // Three replicas cannot fit on one node.
        #expect(throws: StartupError.self) {
            try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/m", configPath: nil,
                                 dataDirectoryFlag: nil, overrides: [], environment: [:])
        }
        #expect(throws: StartupError("data directory '\(dir)/m' exists but is not a directory")) {
            try LocalFiles.prepareDirectory(dir + "/m", what: "data directory")
        }
    }
}
