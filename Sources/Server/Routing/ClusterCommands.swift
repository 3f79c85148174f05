import MultiRaft
import NIOCore
import ShardRouter

/// The Redis Cluster commands that cluster-aware clients use to learn the layout: CLUSTER
/// SLOTS / SHARDS / NODES / INFO / KEYSLOT / MYID. MyStore has many shards per node, each
/// with its own leader; the "master" of a slot range is the shard's current leader.
enum ClusterCommands {
    static func reply(_ a: [[UInt8]], node: ClusterNode) -> RESPValue {
        guard let sub = a.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else {
            return .error("ERR wrong number of arguments for 'cluster' command")
        }
        switch sub {
        case "KEYSLOT":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'cluster|keyslot' command") }
            return .integer(Int64(Slot(forKey: a[1]).rawValue))
        case "MYID":
            return .bulk(nodeID(node.selfID))
        case "INFO":
            let lines = [
                "cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384", "cluster_slots_pfail:0",
                "cluster_slots_fail:0", "cluster_known_nodes:\(node.addresses.count)", "cluster_size:\(node.addresses.count)",
                "cluster_current_epoch:\(node.shardMap.shards.map(\.epoch).max() ?? 1)", "cluster_my_epoch:1",
                "mystore_shards:\(node.shardMap.shards.count)", "",
            ]
            return .bulk(lines.joined(separator: "\r\n"))
        case "SLOTS":
            var out: [RESPValue] = []
            for shard in node.shardMap.shards {
                let nodes = ordered(shard, node: node).map { id -> RESPValue in
                    let a = node.addresses[id]!
                    return .array([.bulk(a.host), .integer(Int64(a.port)), .bulk(nodeID(id))])
                }
                for r in shard.slotRanges {
                    out.append(.array([.integer(Int64(r.first.rawValue)), .integer(Int64(r.last.rawValue))] + nodes))
                }
            }
            return .array(out)
        case "SHARDS":
            return .array(node.shardMap.shards.map { shard in
                let ids = ordered(shard, node: node)
                let slots = shard.slotRanges.flatMap { [RESPValue.integer(Int64($0.first.rawValue)), .integer(Int64($0.last.rawValue))] }
                let nodes = ids.enumerated().map { k, id -> RESPValue in
                    let a = node.addresses[id]!
                    // A node named by a DNS name also reports it as `hostname`, as Redis 7 does for
                    // an announced hostname; `ip` and `endpoint` carry the membership host as is.
                    let hostname: [RESPValue] = a.isHostName ? [.bulk("hostname"), .bulk(a.host)] : []
                    return .map([.bulk("id"), .bulk(nodeID(id)), .bulk("port"), .integer(Int64(a.port)), .bulk("ip"), .bulk(a.host),
                                   .bulk("endpoint"), .bulk(a.host)] + hostname + [.bulk("role"), .bulk(k == 0 ? "master" : "replica"),
                                   .bulk("replication-offset"), .integer(0), .bulk("health"), .bulk("online")])
                }
                return .map([.bulk("slots"), .array(slots), .bulk("nodes"), .array(nodes)])
            })
        case "NODES":
            var led: [NodeID: [String]] = [:]
            for shard in node.shardMap.shards {
                guard let leader = ordered(shard, node: node).first else { continue }
                led[leader, default: []] += shard.slotRanges.map { $0.first == $0.last ? "\($0.first.rawValue)" : "\($0.first.rawValue)-\($0.last.rawValue)" }
            }
            let lines = node.addresses.keys.sorted().map { id -> String in
                let a = node.addresses[id]!
                let flags = id == node.selfID ? "myself,master" : "master"
                return "\(nodeID(id)) \(a.host):\(a.port)@\(Int(a.port) + node.plan.config.peerPortOffset) \(flags) - 0 0 1 connected \((led[id] ?? []).joined(separator: " "))"
            }
            return .bulk(lines.joined(separator: "\n") + "\n")
        default:
            return .error("ERR unknown subcommand '\(sub.lowercased())'. Try CLUSTER HELP.")
        }
    }

    /// The shard's replicas with the current (or preferred) leader first.
    static func ordered(_ shard: Shard, node: ClusterNode) -> [NodeID] {
        let ids = shard.replicas.compactMap { node.node(of: $0) }
        let leader = node.host.status(of: ClusterNode.group(of: shard.id))?.leaderNode ?? ids.first
        guard let leader, ids.contains(leader) else { return ids }
        return [leader] + ids.filter { $0 != leader }
    }

    /// A 40-character node id, as Redis Cluster clients expect.
    static func nodeID(_ id: NodeID) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 40 - hex.count) + hex
    }
}
