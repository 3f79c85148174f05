import ArgumentParser
import Foundation
import ShardRouter

/// `mystore ping [host:port]`: checks that one node answers.
struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Send PING to one node (default: the first node in the membership file)."
    )

    @Argument(help: ArgumentHelp("The node to ping.", valueName: "host:port"))
    var address: String?

    @Option(help: ArgumentHelp("The membership file, used when no address is given.", valueName: "path"))
    var membership = MembershipFile.defaultPath

    func run() throws {
        let node: NodeAddress
        if let address {
            do {
                node = try NodeAddress(parsing: address)
            } catch {
                throw AdminError(error.description)
            }
        } else {
            node = try MembershipFile.load(membership).nodes[0]
        }
        switch NodeProbe.ping(node) {
        case .success(let latency):
            print("PONG from \(node) in \(String(format: "%.1f", latency)) ms")
        case .failure(let error):
            throw AdminError("\(node) did not answer PING: \(error)")
        }
    }
}
