import Testing
@testable import Server

@Suite("NodeConfig: file, environment and --set")
struct NodeConfigTests {
    @Test func defaultsWithoutAnySource() throws {
        let config = try NodeConfig.load(file: nil, environment: [:], overrides: [])
        #expect(config == NodeConfig())
        #expect(config.shardCount == 16)
        #expect(config.replicationFactor == 3)
        #expect(config.dataDir == nil)
    }

    @Test func parsesFileWithCommentsAndBlankLines() throws {
        let text = """
        # a comment
        shard_count = 32

          replication_factor=5  \r
        max_value_bytes = 2_097_152
        data_dir = /var/lib/mystore
        """
        let config = try NodeConfig.load(file: (text, "mystore.conf"), environment: [:], overrides: [])
        #expect(config.shardCount == 32)
        #expect(config.replicationFactor == 5)
        #expect(config.maxValueBytes == 2_097_152)
        #expect(config.dataDir == "/var/lib/mystore")
    }

    @Test func unknownKeyNamesFileLineAndKey() {
        let text = "# comment\nshard_count = 8\nshard_cont = 9\n"
        #expect {
            try NodeConfig.load(file: (text, "config/mystore.conf"), environment: [:], overrides: [])
        } throws: { error in
            let error = error as! ConfigError
            return error.location == "config/mystore.conf:3" && error.message.hasPrefix(#"unknown setting "shard_cont""#)
        }
    }

    @Test func badValueNamesFileLineKeyAndExpectedType() {
        #expect(throws: ConfigError(location: "c.conf:1", message: #"shard_count expects an integer 1-16384, got "many""#)) {
            try NodeConfig.load(file: ("shard_count = many", "c.conf"), environment: [:], overrides: [])
        }
        #expect(throws: ConfigError(location: "c.conf:2", message: #"shard_count expects an integer 1-16384, got "0""#)) {
            try NodeConfig.load(file: ("\nshard_count = 0", "c.conf"), environment: [:], overrides: [])
        }
        #expect(throws: ConfigError(location: "c.conf:1", message: #"expected `key = value`, got "shard_count 8""#)) {
            try NodeConfig.load(file: ("shard_count 8", "c.conf"), environment: [:], overrides: [])
        }
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let file = ("shard_count = 8\nreplication_factor = 2\nelection_ticks = 20\n", "f.conf")
        let environment = ["MYSTORE_SHARD_COUNT": "4", "MYSTORE_REPLICATION_FACTOR": "1", "MYSTORE_UNRELATED": "x"]
        let config = try NodeConfig.load(file: file, environment: environment, overrides: ["shard_count=2"])
        #expect(config.shardCount == 2)          // flag
        #expect(config.replicationFactor == 1)   // environment
        #expect(config.electionTicks == 20)      // file
        #expect(config.heartbeatTicks == 1)      // default
    }

    @Test func environmentAndFlagErrorsNameTheirSource() {
        #expect(throws: ConfigError(location: "environment MYSTORE_MAX_CONNECTIONS", message: #"max_connections expects an integer 1-1000000, got "lots""#)) {
            try NodeConfig.load(file: nil, environment: ["MYSTORE_MAX_CONNECTIONS": "lots"], overrides: [])
        }
        #expect(throws: ConfigError(location: "--set shard_count", message: "expected key=value")) {
            try NodeConfig.load(file: nil, environment: [:], overrides: ["shard_count"])
        }
        #expect(throws: ConfigError.self) {
            try NodeConfig.load(file: nil, environment: [:], overrides: ["nope=1"])
        }
    }

    @Test func inconsistentSettingsAreRejected() {
        #expect(throws: ConfigError.self) {
            try NodeConfig.load(file: nil, environment: [:], overrides: ["heartbeat_ticks=10", "election_ticks=10"])
        }
        #expect(throws: ConfigError.self) {
            try NodeConfig.load(file: nil, environment: [:], overrides: ["max_request_bytes=1000"])
        }
    }

    @Test func raftHostFollowsIOThreadsUnlessSet() throws {
        let load = { (o: [String]) in try NodeConfig.load(file: nil, environment: [:], overrides: o) }
        #expect(try load([]).raftOnEventLoop)                                       // auto, one I/O thread
        #expect(try !load(["io_threads=2"]).raftOnEventLoop)                        // auto, two
        #expect(try !load(["io_threads=0"]).raftOnEventLoop)                        // auto, one per core
        #expect(try !load(["raft_host=thread"]).raftOnEventLoop)
        #expect(try load(["raft_host=event_loop", "io_threads=4"]).raftOnEventLoop)
        #expect(throws: ConfigError(location: "--set raft_host=loop", message: #"raft_host expects auto, thread or event_loop, got "loop""#)) {
            try load(["raft_host=loop"])
        }
    }

    /// `bind` takes a host alone: an IPv4 or IPv6 address (brackets optional) or a name.
    @Test func bindTakesAHostWithoutPort() throws {
        func load(_ value: String) throws(ConfigError) -> NodeConfig {
            try NodeConfig.load(file: nil, environment: [:], overrides: ["bind=" + value])
        }
        #expect(try load("0.0.0.0").bind == "0.0.0.0")
        #expect(try load("::").bind == "::")
        #expect(try load("[fd00::5]").bind == "fd00::5")
        #expect(try load("mystore-0.mystore").bind == "mystore-0.mystore")
        #expect(NodeConfig().bind == nil)
        for bad in ["0.0.0.0:7001", "", "a b", "[x]", "host/1"] {
            #expect(throws: ConfigError.self) { try load(bad) }
        }
        let error = #expect(throws: ConfigError.self) {
            try NodeConfig.load(file: ("bind = 0.0.0.0:7001\n", "n.conf"), environment: [:], overrides: [])
        }
        #expect(error?.location == "n.conf:1")
        #expect(error?.message.contains("without a port") == true)
    }

    /// The shipped config file must parse and list every setting with the built-in defaults.
    @Test func shippedConfigFileMatchesDefaults() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let text = try LocalFiles.readText("/" + path + "/config/mystore.conf", what: "config file")
        let config = try NodeConfig.load(file: (text, "config/mystore.conf"), environment: [:], overrides: [])
        #expect(config == NodeConfig())
        for setting in NodeConfig.settings {
            #expect(text.contains("\n# " + setting.key) || text.contains("\n#" + setting.key) || text.contains("\n" + setting.key),
                    "config/mystore.conf does not document \(setting.key)")
        }
    }
}
