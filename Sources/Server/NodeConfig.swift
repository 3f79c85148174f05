import Logging
import NodeLogging
import ShardRouter

/// Every setting of one `mystore-server` node, with its default. Read from
/// `config/mystore.conf`, then `MYSTORE_<KEY>` environment variables, then `--set key=value`
/// flags, each overriding the one before (see ``NodeConfig/load(file:environment:overrides:)``).
struct NodeConfig: Hashable, Sendable {
    /// Directory for this node's log, snapshots and metadata. Default: nil, meaning
    /// `data/<host>_<port>` of the node's own address, relative to the working directory.
    var dataDir: String? = nil
    /// The host this node listens on (client, peer and HTTP ports): an IP address such as
    /// `0.0.0.0` or `::`, or a name. Default: nil, meaning the host of its membership line
    /// (`--self`), which stays its identity and the address it advertises either way.
    var bind: String? = nil
    /// Number of shards the keyspace is split into at bootstrap. Default 16 (count, 1-16384).
    var shardCount = 16
    /// Replicas per shard. Default 3 (count, 1 to the number of members).
    var replicationFactor = 3
    /// Length of one Raft tick. Default 100 (milliseconds).
    var tickIntervalMilliseconds = 100
    /// Ticks without a leader before a follower campaigns (randomized up to twice this).
    /// Default 10 (ticks).
    var electionTicks = 10
    /// Ticks between a leader's heartbeats; must be below `electionTicks`. Default 1 (ticks).
    var heartbeatTicks = 1
    /// Largest key accepted. Default 65536 (bytes).
    var maxKeyBytes = 65_536
    /// Largest value accepted. Default 1048576 (bytes, 1 MiB).
    var maxValueBytes = 1_048_576
    /// Largest RESP request (one command with all its arguments and framing); a client that
    /// sends more gets a protocol error and is disconnected. Default 4194304 (bytes, 4 MiB).
    var maxRequestBytes = 4_194_304
    /// Most arguments in one RESP command (the command name included). Default 65536 (count).
    var maxRequestArgs = 65_536
    /// Longest inline (non-RESP, e.g. typed in telnet) command line. Default 65536 (bytes).
    var maxInlineBytes = 65_536
    /// Most client connections open at once; more are refused with an error. Default 10000.
    var maxConnections = 10_000
    /// How long a graceful stop (SIGTERM, SIGINT) may take: it hands this node's leaderships to
    /// other replicas and finishes the requests in flight, then exits. Default 10000 (ms).
    var shutdownTimeoutMilliseconds = 10_000
    /// Most requests of one connection being executed at once; a client pipelining more has
    /// the rest wait, decoded, and the node stops reading from it meanwhile. Default 128 (count).
    var maxRequestsInFlight = 128
    /// Most bytes of replies one connection may have waiting to be sent; a client that does
    /// not read its replies is disconnected past this, as Redis's client-output-buffer-limit
    /// does. 0 means no limit. Default 67108864 (bytes, 64 MiB).
    var clientOutputBufferLimit = 64 << 20
    /// The HTTP endpoint (`/metrics`, `/health`, `/status`) listens on the node's host at its
    /// port plus this offset; 0 disables it. Default 1000 (port offset).
    var httpPortOffset = 1000
    /// Also snapshot a shard once this many bytes of entries were applied since the last
    /// snapshot. Default 67108864 (bytes, 64 MiB).
    var snapshotLogBytes = 64 << 20
    /// Entries kept in the log behind a snapshot, so a slightly slow follower catches up from
    /// the log instead of a snapshot. Default 2000 (entries).
    var snapshotTrailingEntries = 2_000
    /// Nodes talk to each other (Raft, forwarded commands) on the client port plus this
    /// offset. Default 10000 (port offset).
    var peerPortOffset = 10_000
    /// Past values kept per key for `MYSTORE.HISTORY` / `mystore get --history`. Default 8.
    var historyDepth = 8
    /// A client command that the cluster cannot complete in this time gets `-TRYAGAIN`, or, for
    /// a write that may be in a Raft log, `-UNCERTAIN` (docs/compatibility.md).
    /// Default 5000 (milliseconds).
    var requestTimeoutMilliseconds = 5_000
    /// How a node answers a command for a shard it does not lead: `forward` it to the leader
    /// (any client works), or `moved` (reply `-MOVED slot host:port`, for Redis cluster clients
    /// such as `redis-cli -c`). Connections that sent READONLY always read locally. Default forward.
    var redirectWithMoved = false
    /// Take a snapshot of a shard after this many applied log entries. Default 10000 (entries).
    var snapshotEntries = 10_000
    /// ... once those entries also hold this many percent of the bytes of the shard's state at
    /// its last snapshot, so a large shard is not rewritten for a few small writes.
    /// Default 100 (percent).
    var snapshotLogStatePercent = 100
    /// zlib level of snapshot files: 1 (fastest) to 9 (smallest). Default 1.
    var snapshotCompressionLevel = 1
    /// Nice value of the threads that write snapshots: 0 (as every other thread) to 19
    /// (lowest priority). Default 10.
    var snapshotThreadNice = 10
    /// Threads serving client and peer connections; 0 means one per core. Default 1: one
    /// thread serves the node's connections and runs its Raft groups (see `raft_host`).
    var ioThreads = 1
    /// Snapshot streams to other nodes are paced to this many bytes per second each; 0 means
    /// unpaced. Default 104857600 (bytes per second, 100 MiB/s).
    var snapshotSendBytesPerSecond = 100 << 20
    /// Snapshot streams this node sends at once; more wait for the leader's retry. Default 2.
    var snapshotMaxSends = 2
    /// Snapshot streams this node receives at once; more are refused and retried. Default 2.
    var snapshotMaxReceives = 2
    /// Moves of shard replicas the rebalancer runs at once, cluster-wide. Default 2.
    var rebalanceMaxMoves = 2
    /// How long a Raft round waits for its WAL write before the node goes on without it:
    /// requests arriving meanwhile share the next round, and a slower fdatasync holds back
    /// nothing the other replicas can commit. 0 never waits; an event loop never does.
    /// Default 2000 (microseconds).
    var walWaitMicroseconds = 2_000
    /// Where the node's Raft groups run: `thread` (a thread of their own, handing work to and
    /// from the connection threads), `event_loop` (on the first connection thread, between its
    /// reads and writes, so requests, replies and Raft messages change threads only for the
    /// WAL sync) or `auto`: `event_loop` with one I/O thread, else `thread`. Default auto.
    var raftHost = RaftHostPlacement.auto
    /// Least severe level logged: trace, debug, info, notice, warning, error or critical.
    /// Default info.
    var logLevel = Logger.Level.info
    /// `text` (one line per event, for people) or `json` (one object per line with timestamp,
    /// level, node, logger, message and metadata such as group). Default text.
    var logFormat = LogFormat.text

    /// Whether the Raft host runs on an event loop (`raft_host`, `auto` resolved).
    var raftOnEventLoop: Bool {
        switch raftHost {
        case .thread: false
        case .eventLoop: true
        case .auto: ioThreads == 1
        }
    }

    /// Every setting's name (as written in the file), what it accepts, and how to set it.
    static let settings: [NodeConfigSetting] = [
        .text("data_dir") { $0.dataDir = $1 },
        NodeConfigSetting(key: "bind", expected: "a host to listen on: an IP address (0.0.0.0, ::, 10.0.0.5, [fd00::5]) or a name, without a port") { config, text in
            guard let host = NodeAddress.parseHost(text) else { return false }
            config.bind = host
            return true
        },
        .integer("shard_count", 1...16384) { $0.shardCount = $1 },
        .integer("replication_factor", 1...1000) { $0.replicationFactor = $1 },
        .integer("tick_interval_ms", 1...60_000) { $0.tickIntervalMilliseconds = $1 },
        .integer("election_ticks", 2...10_000) { $0.electionTicks = $1 },
        .integer("heartbeat_ticks", 1...10_000) { $0.heartbeatTicks = $1 },
        .integer("max_key_bytes", 1...(512 << 20)) { $0.maxKeyBytes = $1 },
        .integer("max_value_bytes", 0...(512 << 20)) { $0.maxValueBytes = $1 },
        .integer("max_request_bytes", 64...(1 << 30)) { $0.maxRequestBytes = $1 },
        .integer("max_request_args", 1...(1 << 24)) { $0.maxRequestArgs = $1 },
        .integer("max_inline_bytes", 64...(1 << 30)) { $0.maxInlineBytes = $1 },
        .integer("max_connections", 1...1_000_000) { $0.maxConnections = $1 },
        .integer("max_requests_in_flight", 1...1_000_000) { $0.maxRequestsInFlight = $1 },
        .integer("shutdown_timeout_ms", 0...3_600_000) { $0.shutdownTimeoutMilliseconds = $1 },
        .integer("client_output_buffer_limit", 0...(1 << 40)) { $0.clientOutputBufferLimit = $1 },
        .integer("http_port_offset", 0...65_535) { $0.httpPortOffset = $1 },
        .integer("snapshot_entries", 1...(1 << 40)) { $0.snapshotEntries = $1 },
        .integer("snapshot_log_state_percent", 0...1_000_000) { $0.snapshotLogStatePercent = $1 },
        .integer("snapshot_compression_level", 1...9) { $0.snapshotCompressionLevel = $1 },
        .integer("snapshot_thread_nice", 0...19) { $0.snapshotThreadNice = $1 },
        .integer("io_threads", 0...1_024) { $0.ioThreads = $1 },
        .integer("peer_port_offset", 1...65_535) { $0.peerPortOffset = $1 },
        .integer("snapshot_log_bytes", 1...(1 << 50)) { $0.snapshotLogBytes = $1 },
        .integer("snapshot_trailing_entries", 0...(1 << 40)) { $0.snapshotTrailingEntries = $1 },
        .integer("history_depth", 0...1_000) { $0.historyDepth = $1 },
        .integer("snapshot_send_bytes_per_second", 0...(1 << 40)) { $0.snapshotSendBytesPerSecond = $1 },
        .integer("snapshot_max_sends", 1...64) { $0.snapshotMaxSends = $1 },
        .integer("snapshot_max_receives", 1...64) { $0.snapshotMaxReceives = $1 },
        .integer("rebalance_max_moves", 1...64) { $0.rebalanceMaxMoves = $1 },
        .integer("wal_wait_us", 0...1_000_000) { $0.walWaitMicroseconds = $1 },
        .integer("request_timeout_ms", 100...600_000) { $0.requestTimeoutMilliseconds = $1 },
        NodeConfigSetting(key: "raft_host", expected: "auto, thread or event_loop") { config, text in
            guard let p = RaftHostPlacement(rawValue: text) else { return false }
            config.raftHost = p
            return true
        },
        NodeConfigSetting(key: "log_level", expected: "trace, debug, info, notice, warning, error or critical") { config, text in
            guard let level = Logger.Level(name: text) else { return false }
            config.logLevel = level
            return true
        },
        NodeConfigSetting(key: "log_format", expected: "text or json") { config, text in
            guard let format = LogFormat(rawValue: text) else { return false }
            config.logFormat = format
            return true
        },
        NodeConfigSetting(key: "client_redirects", expected: "forward or moved") { config, text in
            switch text {
            case "forward": config.redirectWithMoved = false
            case "moved": config.redirectWithMoved = true
            default: return false
            }
            return true
        },
    ]

    /// Checks that settings agree with each other; returns what to fix, or nil.
    func inconsistency() -> String? {
        if heartbeatTicks >= electionTicks {
            return "heartbeat_ticks (\(heartbeatTicks)) must be below election_ticks (\(electionTicks))"
        }
        if maxRequestBytes < maxKeyBytes + maxValueBytes {
            return "max_request_bytes (\(maxRequestBytes)) must be at least max_key_bytes + max_value_bytes (\(maxKeyBytes + maxValueBytes))"
        }
        return nil
    }
}

/// Where a node runs its Raft groups (`raft_host`).
enum RaftHostPlacement: String, Hashable, Sendable {
    case auto
    case thread
    case eventLoop = "event_loop"
}

/// One named setting: what it accepts, and how a valid value is stored.
struct NodeConfigSetting: Sendable {
    /// The name used in the file, in `--set` and (upper-cased, prefixed) in the environment.
    let key: String
    /// What the setting accepts, for error messages ("an integer 1-16384").
    let expected: String
    /// Stores `value` into the config; false when the value is not acceptable.
    let apply: @Sendable (inout NodeConfig, String) -> Bool

    /// The environment variable that overrides this setting: `MYSTORE_<KEY>`.
    var environmentVariable: String { "MYSTORE_" + key.uppercased() }

    static func integer(_ key: String, _ range: ClosedRange<Int>, _ store: @escaping @Sendable (inout NodeConfig, Int) -> Void) -> NodeConfigSetting {
        NodeConfigSetting(key: key, expected: "an integer \(range.lowerBound)-\(range.upperBound)") { config, text in
            let digits = text.replacingUnderscores()
            guard let value = Int(digits), range.contains(value) else { return false }
            store(&config, value)
            return true
        }
    }

    static func text(_ key: String, _ store: @escaping @Sendable (inout NodeConfig, String) -> Void) -> NodeConfigSetting {
        NodeConfigSetting(key: key, expected: "a non-empty string") { config, text in
            guard !text.isEmpty else { return false }
            store(&config, text)
            return true
        }
    }
}

extension String {
    /// `1_048_576` → `1048576`, so large numbers can be written readably in the file.
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}
