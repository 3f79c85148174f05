import Synchronization
import SystemClock
#if canImport(Glibc)
import Glibc
#endif

/// Counters INFO reports that no single connection knows.
enum ServerCounters {
    /// When the process started serving (monotonic seconds).
    static let started = monotonicSeconds()
    /// Client connections open now.
    static let connectedClients = Atomic<Int>(0)
    /// Client connections accepted since start.
    static let connectionsReceived = Atomic<Int>(0)
    /// Client connections refused at `max_connections`.
    static let connectionsRejected = Atomic<Int>(0)
    /// Commands started since start.
    static let commandsProcessed = Atomic<Int>(0)
}

/// INFO's text in Redis's shape: `# Section` headers, `field:value` lines, CRLF-separated,
/// with Redis's field names (and a few of MyStore's own beside them).
struct InfoSections {
    /// The Redis version whose replies and semantics MyStore matches.
    static let redisVersion = "7.2.0"
    /// Sections in INFO's order; `default` and `all` give them all.
    static let order = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster", "keyspace"]

    var identity: ServerIdentity
    var maxClients: Int
    /// Keys and keys with an expiry over the whole cluster; nil when not gathered.
    var keyspace: (keys: Int64, expires: Int64)?

    /// The sections asked for by INFO's arguments (none: the default set); unknown names
    /// select nothing, as in Redis.
    static func requested(_ arguments: [String]) -> [String] {
        let names = Set(arguments.map { $0.lowercased() })
        if names.isEmpty || !names.isDisjoint(with: ["default", "all", "everything"]) { return order }
        return order.filter { names.contains($0) }
    }

    func text(_ sections: [String]) -> String {
        guard !sections.isEmpty else { return "" }
        var lines: [String] = []
        for section in sections {
            if !lines.isEmpty { lines.append("") }
            lines.append("# " + section.prefix(1).uppercased() + section.dropFirst())
            lines += fields(section)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private func fields(_ section: String) -> [String] {
        switch section {
        case "server":
            let uptime = Int(monotonicSeconds() - ServerCounters.started)
            let port = identity.address.split(separator: ":").last.map(String.init) ?? ""
            var name = utsname()
            uname(&name)
            let os = [name.sysname, name.release, name.machine].map { field in
                withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            }.joined(separator: " ")
            return ["redis_version:\(Self.redisVersion)", "mystore_version:\(ServerIdentity.version)", "redis_mode:cluster", "os:\(os)",
                    "arch_bits:\(MemoryLayout<Int>.size * 8)", "process_id:\(identity.processID)", "tcp_port:\(port)",
                    "node_address:\(identity.address)", "cluster_size:\(identity.clusterSize)",
                    "uptime_in_seconds:\(uptime)", "uptime_in_days:\(uptime / 86_400)"]
        case "clients":
            return ["connected_clients:\(ServerCounters.connectedClients.load(ordering: .relaxed))", "maxclients:\(maxClients)",
                    "blocked_clients:0"]
        case "memory":
            let rss = Self.residentBytes()
            return ["used_memory:\(rss)", "used_memory_human:\(Self.human(rss))", "used_memory_rss:\(rss)",
                    "used_memory_rss_human:\(Self.human(rss))", "maxmemory:0", "maxmemory_policy:noeviction",
                    "mem_allocator:\(String(Allocator.name.map { $0 == " " ? "-" : $0 }))"]
        case "persistence":
            // Every write is in the Raft write-ahead log, fsynced before it is acknowledged.
            return ["loading:0", "async_loading:0", "rdb_bgsave_in_progress:0", "aof_enabled:0", "aof_rewrite_in_progress:0",
                    "mystore_wal_fsync:always"]
        case "stats":
            return ["total_connections_received:\(ServerCounters.connectionsReceived.load(ordering: .relaxed))",
                    "total_commands_processed:\(ServerCounters.commandsProcessed.load(ordering: .relaxed))",
                    "rejected_connections:\(ServerCounters.connectionsRejected.load(ordering: .relaxed))"]
        case "replication":
            // Every node is a primary for the shards it leads and a replica of the others.
            return ["role:master", "connected_slaves:0"]
        case "cpu":
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func seconds(_ t: timeval) -> String {
                let micros = Int(t.tv_usec)
                return "\(t.tv_sec).\(String(repeating: "0", count: 6 - String(micros).count))\(micros)"
            }
            return ["used_cpu_sys:\(seconds(usage.ru_stime))", "used_cpu_user:\(seconds(usage.ru_utime))"]
        case "cluster":
            return ["cluster_enabled:1"]
        case "keyspace":
            guard let keyspace, keyspace.keys > 0 else { return [] }
            return ["db0:keys=\(keyspace.keys),expires=\(keyspace.expires),avg_ttl=0"]
        default:
            return []
        }
    }

    /// The process's resident memory in bytes (/proc/self/statm: size and resident pages), 0
    /// when unreadable.
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, 256, file) != nil else { return 0 }
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let parts = text.split(separator: " ")
        guard parts.count >= 2, let pages = Int(parts[1]) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    /// Bytes as Redis's `_human` fields write them: `1.23M`.
    static func human(_ bytes: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return unit == 0 ? "\(bytes)B" : "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)\(units[unit])"
    }
}
