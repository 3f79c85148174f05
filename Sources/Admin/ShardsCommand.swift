import ArgumentParser
import MyStoreClient

/// `mystore shards`: every shard's slot ranges, leader and replicas.
struct ShardsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Show each shard's slot ranges and the nodes holding it (from CLUSTER SHARDS or CLUSTER SLOTS)."
    )

    @OptionGroup var cluster: ClusterOptions

    /// One shard of the report, numbered from 0 in the order the cluster lists them.
    struct Row: Codable, Hashable {
        struct Replica: Codable, Hashable { var node: String; var role: String; var health: String? }
        var shard: Int
        var slots: [String]
        var leader: String?
        var replicas: [Replica]
    }

    static func rows(_ shards: [ClusterShard]) -> [Row] {
        shards.enumerated().map { index, shard in
            Row(
                shard: index,
                slots: shard.slotRanges.map(\.description),
                leader: shard.leader?.node.description,
                replicas: shard.replicas.map { Row.Replica(node: $0.node.description, role: $0.role, health: $0.health) }
            )
        }
    }

    static func table(_ rows: [Row]) -> String {
        Output.table(
            headers: ["SHARD", "SLOTS", "LEADER", "REPLICAS"],
            rows: rows.map { row in
                [
                    String(row.shard),
                    row.slots.joined(separator: ","),
                    row.leader ?? "-",
                    row.replicas.filter { $0.node != row.leader }.map(\.node).joined(separator: ","),
                ]
            }
        )
    }

    func run() throws {
        let rows = Self.rows(try cluster.client().shards())
        print(cluster.json ? try Output.json(rows) : Self.table(rows))
    }
}
