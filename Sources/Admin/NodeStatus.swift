import Foundation

/// What a node reports about itself in `MYSTORE.STATUS` (a JSON object):
/// `{"node":"host:port","health":"ok","shards":[{"shard":1,"role":"leader","term":3,
/// "applied":120,"commit":120,"leader":"host:port"}]}`.
struct NodeStatus: Codable, Hashable {
    /// One shard replica on the node.
    struct ShardReplica: Codable, Hashable {
        var shard: Int
        var role: String
        var term: UInt64
        var applied: UInt64
        var commit: UInt64?
        var leader: String?
    }

    var node: String
    var health: String
    var shards: [ShardReplica]

    /// Parses the JSON a node sent.
    init(json: [UInt8]) throws(AdminError) {
        do {
            self = try JSONDecoder().decode(NodeStatus.self, from: Data(json))
        } catch {
            throw AdminError("MYSTORE.STATUS reply is not the expected JSON: \(error)")
        }
    }
}

/// One line of `mystore status`: a node's summary, or why it did not answer.
struct StatusRow: Codable, Hashable {
    /// The address asked.
    var node: String
    /// The node's own health word, or `down` when it did not answer.
    var health: String
    /// Shards whose leader this node is.
    var shardsLed: [Int]
    /// How many shard replicas the node holds (led or not).
    var replicas: Int
    /// The highest Raft term among its replicas.
    var term: UInt64?
    /// Entries applied, summed over its replicas.
    var applied: UInt64?
    /// Why the node is shown as down.
    var error: String?
    /// The node's replicas in detail (JSON output only).
    var shards: [NodeStatus.ShardReplica]

    init(node: String, status: NodeStatus) {
        self.node = node
        health = status.health
        shardsLed = status.shards.filter { $0.role == "leader" }.map(\.shard).sorted()
        replicas = status.shards.count
        term = status.shards.map(\.term).max()
        applied = status.shards.reduce(0) { $0 &+ $1.applied }
        shards = status.shards
    }

    init(node: String, downBecause error: String) {
        self.node = node
        health = "down"
        shardsLed = []
        replicas = 0
        self.error = error
        shards = []
    }

    /// The `mystore status` table.
    static func table(_ rows: [StatusRow]) -> String {
        Output.table(
            headers: ["NODE", "LEADS", "REPLICAS", "TERM", "APPLIED", "HEALTH"],
            rows: rows.map { row in
                guard row.error == nil else { return [row.node, "-", "-", "-", "-", "down (\(row.error ?? ""))"] }
                return [
                    row.node,
                    row.shardsLed.isEmpty ? "-" : row.shardsLed.map(String.init).joined(separator: ","),
                    String(row.replicas),
                    row.term.map(String.init) ?? "-",
                    row.applied.map(String.init) ?? "-",
                    row.health,
                ]
            }
        )
    }
}
