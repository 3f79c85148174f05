import ArgumentParser
import MyStoreClient
import ShardRouter

/// The options every cluster command shares: where the cluster is, output format, timeout.
struct ClusterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The membership file listing the cluster's nodes.", valueName: "path"))
    var membership = MembershipFile.defaultPath

    @Option(
        name: .customLong("endpoint"),
        help: ArgumentHelp("A node to talk to (repeatable); overrides the membership file.", valueName: "host:port")
    )
    var endpoints: [String] = []

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Bound on each network step (connect, send, reply), in seconds. A command retries within 5 times this.", valueName: "seconds"))
    var timeout: Double = 2

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    /// The nodes to talk to: the `--endpoint`s if any, otherwise the membership file's nodes.
    func nodes() throws(AdminError) -> [NodeAddress] {
        guard !endpoints.isEmpty else { return try MembershipFile.load(membership).nodes }
        var nodes: [NodeAddress] = []
        for text in endpoints {
            do {
                let node = try NodeAddress(parsing: text)
                if !nodes.contains(node) { nodes.append(node) }
            } catch {
                throw AdminError("--endpoint: \(error)")
            }
        }
        return nodes
    }

    /// Client settings from `--timeout`; `retry` defaults to retrying within 5 timeouts.
    func settings(retry: RetryPolicy? = nil) -> ClusterSettings {
        let step = Duration.seconds(timeout)
        return ClusterSettings(
            connection: ConnectionSettings(timeout: step),
            retry: retry ?? RetryPolicy(budget: step * 5)
        )
    }

    /// A cluster client seeded with ``nodes()``.
    func client(retry: RetryPolicy? = nil) throws -> ClusterClient {
        try ClusterClient(seeds: nodes(), settings: settings(retry: retry))
    }
}
