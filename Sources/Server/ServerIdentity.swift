/// What a node tells clients about itself (INFO, HELLO).
struct ServerIdentity: Hashable, Sendable {
    /// MyStore's version.
    static let version = "0.1.0"

    /// The address this node serves clients on, as listed in the membership.
    var address: String
    /// Number of nodes in the membership.
    var clusterSize: Int
    /// Process id, for operators matching INFO to a process.
    var processID: Int32
    /// `max_connections`, INFO's `maxclients`.
    var maxClients = 0
}
