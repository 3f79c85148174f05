import ArgumentParser
import MyStoreClient

/// `mystore status`: each node's shards led, replicas, term, applied entries and health.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each node's shards led, replicas, highest term, applied entries and health.",
        discussion: "Asks every node MYSTORE.STATUS; a node that does not answer is shown as down. Exits 1 when any node is down."
    )

    @OptionGroup var cluster: ClusterOptions

    func run() throws {
        // One try per node: a down node is reported, not waited for.
        let client = try cluster.client(retry: .once)
        let rows = try cluster.nodes().map { node -> StatusRow in
            do {
                return StatusRow(node: node.description, status: try NodeStatus(json: try client.status(node)))
            } catch {
                return StatusRow(node: node.description, downBecause: "\(error)")
            }
        }
        print(cluster.json ? try Output.json(rows) : StatusRow.table(rows))
        let down = rows.filter { $0.error != nil }.count
        if down > 0 { throw AdminError("\(down) of \(rows.count) nodes did not answer") }
    }
}
