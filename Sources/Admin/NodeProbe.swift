import MyStoreClient
import ShardRouter

/// Asks one node whether it answers: connects, sends a RESP `PING`, expects `+PONG`.
/// Blocking and one-shot, which is all an admin command checking a handful of nodes needs.
enum NodeProbe {
    /// Bound on connecting, and separately on awaiting the reply. Default 1 (seconds).
    static let defaultTimeoutSeconds: Double = 1

    /// The round-trip time in milliseconds (connecting included), or why the node did not answer.
    static func ping(_ node: NodeAddress, timeoutSeconds: Double = defaultTimeoutSeconds) -> Result<Double, ProbeError> {
        let started = ContinuousClock.now
        do {
            let connection = try RESPConnection(to: node, settings: ConnectionSettings(timeout: .seconds(timeoutSeconds)))
            defer { connection.close() }
            let reply = try connection.send([Array("PING".utf8)])
            guard reply == .simpleString("PONG") else {
                return .failure(ProbeError("unexpected reply \(reply)"))
            }
        } catch {
            return .failure(ProbeError(error.description))
        }
        let elapsed = ContinuousClock.now - started
        return .success(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
}

/// Why a node did not answer a probe.
struct ProbeError: Error, Hashable, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
