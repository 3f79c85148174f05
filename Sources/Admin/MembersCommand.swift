import ArgumentParser
import Foundation
import ShardRouter

/// `mystore members`: lists the nodes of `cluster.membership` and whether each answers PING.
struct MembersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "List the cluster's nodes and whether each answers PING."
    )

    @OptionGroup var cluster: ClusterOptions

    /// One node's line of the report.
    struct Row: Codable, Hashable {
        var address: String
        var up: Bool
        var latencyMilliseconds: Double?
        var error: String?
    }

    func run() throws {
        let rows = try cluster.nodes().map { node -> Row in
            switch NodeProbe.ping(node, timeoutSeconds: cluster.timeout) {
            case .success(let latency): Row(address: node.description, up: true, latencyMilliseconds: latency)
            case .failure(let error): Row(address: node.description, up: false, error: error.description)
            }
        }
        if cluster.json {
            print(try Output.json(rows))
        } else {
            print(Output.table(headers: ["NODE", "STATUS"], rows: rows.map { row in
                [row.address, row.up
                    ? "up (PONG in \(String(format: "%.1f", row.latencyMilliseconds ?? 0)) ms)"
                    : "down (\(row.error ?? "no reply"))"]
            }))
        }
    }
}
