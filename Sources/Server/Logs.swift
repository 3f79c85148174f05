import Logging
import NodeLogging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The node's loggers, one per concern (the `logger` field of a JSON line). `mystore-server`
/// installs `NodeLogHandler` with `log_level` and `log_format` before any of them logs.
enum Logs {
    /// The Raft host (`HostSettings.logger`).
    static let raft = NodeLogHandler.logger("mystore.raft")
    /// Start, stop, configuration and recovery.
    static let server = NodeLogHandler.logger("mystore.server")
    /// Peer connections and snapshot streams between nodes.
    static let peer = NodeLogHandler.logger("mystore.peer")
    /// Client connections refused or closed by the node.
    static let clients = NodeLogHandler.logger("mystore.clients")
    /// Replica moves, leader balancing and the meta group's membership.
    static let rebalance = NodeLogHandler.logger("mystore.rebalance")

    /// A network error in a few words: `Connection refused`, not NIO's nested description.
    static func describe(_ error: any Error) -> String {
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first { return describe(first.error) }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        return "\(error)"
    }

    /// Rate limits for events a misbehaving client or a flapping peer could repeat at high rate.
    static let limiter = LogRateLimiter(burst: 5, interval: 10)
}
