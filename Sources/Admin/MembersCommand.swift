import ArgumentParser
import Foundation
import ShardRouter

/// `mystore members`: lists the nodes of `cluster.membership` and whether each answers PING.
struct MembersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "List the cluster's nodes and whether each answers PING."
    )

    @Option(help: ArgumentHelp("The membership file.", valueName: "path"))
    var membership = MembershipFile.defaultPath

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    /// One node's line of the report.
    struct Row: Codable, Hashable {
        var address: String
        var up: Bool
        var latencyMilliseconds: Double?
        var error: String?
    }

    func run() throws {
        let nodes = try MembershipFile.load(membership).nodes
        let rows = nodes.map { node -> Row in
            switch NodeProbe.ping(node) {
            case .success(let latency): Row(address: node.description, up: true, latencyMilliseconds: latency)
            case .failure(let error): Row(address: node.description, up: false, error: error.description)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            let width = max(4, rows.map(\.address.count).max() ?? 0)
            print("NODE".padding(toLength: width, withPad: " ", startingAt: 0) + "  STATUS")
            for row in rows {
                let status = row.up
                    ? "up (PONG in \(String(format: "%.1f", row.latencyMilliseconds ?? 0)) ms)"
                    : "down (\(row.error ?? "no reply"))"
                print(row.address.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + status)
            }
        }
    }
}
