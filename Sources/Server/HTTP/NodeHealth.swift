import MultiRaft

/// Whether the node can serve: its Raft host runs and every shard it hosts knows a leader.
/// Pure: computed from the host's status, so it is testable without a cluster.
struct NodeHealth: Equatable, Sendable {
    /// Why the node is unhealthy; empty when it is healthy.
    var problems: [String]

    var isHealthy: Bool { problems.isEmpty }

    /// Shards named in a reason, at most; the rest are counted ("and 12 more").
    static let maxShardsNamed = 10

    /// Health from the Raft host's status (the meta group is not a shard).
    static func evaluate(hostRunning: Bool, statuses: [GroupStatus]) -> NodeHealth {
        let leaderless = statuses.filter { $0.group != ClusterNode.metaGroup && $0.leaderNode == nil }.map { Int($0.group) - 1 }
        return evaluate(hostRunning: hostRunning, shardsWithoutLeader: leaderless)
    }

    static func evaluate(hostRunning: Bool, shardsWithoutLeader leaderless: [Int]) -> NodeHealth {
        var problems: [String] = []
        if !hostRunning { problems.append("the Raft host is not running") }
        if !leaderless.isEmpty {
            var named = leaderless.prefix(maxShardsNamed).map(String.init).joined(separator: ", ")
            if leaderless.count > maxShardsNamed { named += " and \(leaderless.count - maxShardsNamed) more" }
            problems.append("no known leader for shard\(leaderless.count == 1 ? "" : "s") \(named)")
        }
        return NodeHealth(problems: problems)
    }

    /// `{"status":"ok"}`, or `{"status":"unavailable","reason":"..."}`.
    var json: String {
        guard !isHealthy else { return "{\"status\":\"ok\"}" }
        return "{\"status\":\"unavailable\",\"reason\":\"\(Self.escaped(problems.joined(separator: "; ")))\"}"
    }

    private static func escaped(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\u00" + (c.value < 0x10 ? "0" : "") + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
